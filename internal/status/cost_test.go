package status

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"
)

// The status' cost at 10,000 tags, on a real embedded NATS server: bytes in the status bucket,
// the Publisher's heap, the time to write every entry and to read the overview. Opt-in
// (EPR_BENCH_STATUS=1): it measures, it asserts no timing.
//
//	EPR_BENCH_STATUS=1 OTEL_TRACES_EXPORTER=none go test -count=1 -run TestStatusCostAt10kTags -v ./internal/status/
func TestStatusCostAt10kTags(t *testing.T) {
	if os.Getenv("EPR_BENCH_STATUS") == "" {
		t.Skip("set EPR_BENCH_STATUS=1 to measure")
	}
	const repos, perRepo = 1000, 10
	ctx := context.Background()
	store, kv := testKV(t)
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	p := &Publisher{Store: store}
	at := time.Date(2026, 12, 8, 1, 0, 0, 0, time.UTC)
	for i := range repos {
		name := fmt.Sprintf("package_%04d", i)
		r := Report{Repository: "packages/" + name, At: at, Took: 120 * time.Millisecond, Listed: true, TagsListed: perRepo}
		for v := range perRepo {
			tg := Tag{Tag: fmt.Sprintf("1.%d.0", v), Name: name, Version: fmt.Sprintf("1.%d.0", v), State: Served,
				Digest: fmt.Sprintf("sha256:%064x", i*perRepo+v)}
			if v == 0 && i%10 == 0 { // one tag in a hundred rejected, with a reader's message
				tg.State, tg.Rule, tg.Message = Rejected, "manifest_fields", "manifest.yml: field owner.github: required; field categories: unknown category \"foo\""
			}
			r.Tags = append(r.Tags, tg)
		}
		p.Report(r)
	}
	held := heap() - before
	start := time.Now()
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	wrote := time.Since(start)
	st, err := kv.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	o, err := Reader{Store: store}.Overall(ctx, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	overview := time.Since(start)
	start = time.Now()
	all, err := store.List(ctx, FilterAll)
	if err != nil {
		t.Fatal(err)
	}
	listAll := time.Since(start)
	t.Logf("%d tags in %d repositories: status bucket %d bytes (%d entries, %.0f bytes each); publisher heap %d bytes (%.0f per tag); "+
		"first write of every entry %v; overview (%d problems) %v; list of every entry %v",
		repos*perRepo, repos, st.Bytes(), st.Values(), float64(st.Bytes())/float64(st.Values()), held, float64(held)/float64(repos*perRepo),
		wrote.Round(time.Millisecond), len(o.Problems), overview.Round(time.Millisecond), listAll.Round(time.Millisecond))
	if len(all) != repos*perRepo+repos {
		t.Errorf("entries: %d", len(all))
	}
	runtime.KeepAlive(p)
}
