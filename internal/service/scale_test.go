package service

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/oci-epr/package-registry/internal/api"
	"github.com/oci-epr/package-registry/internal/events"
	"github.com/oci-epr/package-registry/internal/index"
	"github.com/oci-epr/package-registry/internal/loadgen"
	"github.com/oci-epr/package-registry/internal/oci"
)

// TestPushToVisibleCurve measures, with N versions already indexed, how long one more push takes
// to become visible, stage by stage, over pushesPerSize pushes; then how long a fresh all-in-one
// (empty state) takes to index everything the registry holds. It asserts only that each push
// becomes visible and the cold sync completes; the figures are logged. It runs only with
// EPR_BENCH_PIPELINE=1 (sizes from EPR_BENCH_SIZES, default 1000,10000; zip bytes scaled by
// EPR_BENCH_SIZE_SCALE, default 0.05):
//
//	EPR_BENCH_PIPELINE=1 go test -run TestPushToVisibleCurve -v -timeout 1h ./internal/service/
func TestPushToVisibleCurve(t *testing.T) {
	if os.Getenv("EPR_BENCH_PIPELINE") != "1" {
		t.Skip("a measurement: set EPR_BENCH_PIPELINE=1")
	}
	sizes := []int{1000, 10000}
	if v := os.Getenv("EPR_BENCH_SIZES"); v != "" {
		sizes = nil
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.Atoi(f)
			if err != nil {
				t.Fatal(err)
			}
			sizes = append(sizes, n)
		}
	}
	gen := loadgen.Defaults()
	gen.SizeScale = 0.05
	if v := os.Getenv("EPR_BENCH_SIZE_SCALE"); v != "" {
		var err error
		if gen.SizeScale, err = strconv.ParseFloat(v, 64); err != nil {
			t.Fatal(err)
		}
	}
	var table []string
	for _, n := range sizes {
		t.Run(fmt.Sprintf("n=%d", n), func(t *testing.T) { table = append(table, measureCurve(t, n, gen)...) })
	}
	t.Logf("\n%s", strings.Join(table, "\n"))
}

const pushesPerSize = 20

// pushStamps are the moments one push passed each stage.
type pushStamps struct {
	start, pushed, notified, acked, stream, kv, applied, served time.Time
}

func measureCurve(t *testing.T, n int, gen loadgen.Options) []string {
	var mu sync.Mutex
	var cur *pushStamps // the push being measured
	var curRepo, curTag string
	tap := func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
		received := time.Now()
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
		mu.Lock()
		defer mu.Unlock()
		if cur != nil && cur.notified.IsZero() && bytes.Contains(body, []byte(curRepo)) && bytes.Contains(body, []byte(curTag)) {
			cur.notified, cur.acked = received, time.Now()
		}
		return true
	}
	s := startStackWith(t, stackOptions{hooks: WebhookOptions{Token: testToken}, webhookTap: tap})
	server := s.all.API.Server

	bulk := time.Now()
	if _, err := loadgen.Push(s.ctx, s.client, "packages", n, 8, gen, nil); err != nil {
		t.Fatal(err)
	}
	pushTook := time.Since(bulk)
	s.eventually(fmt.Sprintf("%d versions indexed", n), 30*time.Minute, func() bool {
		return server.Catalog().Snapshot().Len() == n
	})
	bulkTook := time.Since(bulk)

	// The stream and bucket are watched on plain subscriptions: JetStream delivers a stored
	// message to core subscribers of its subject, and a KV put is a message on $KV.<bucket>.<key>.
	nc := s.all.Conn
	seen := func(prefix string, stamp func(p *pushStamps) *time.Time, match func(subject string) bool) *nats.Subscription {
		sub, err := nc.Subscribe(prefix, func(m *nats.Msg) {
			now := time.Now()
			mu.Lock()
			defer mu.Unlock()
			if cur != nil && stamp(cur).IsZero() && match(m.Subject) {
				*stamp(cur) = now
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		return sub
	}
	var curSubject, curKV string
	defer seen(events.SubjectPrefix+".>", func(p *pushStamps) *time.Time { return &p.stream },
		func(subj string) bool { return subj == curSubject }).Unsubscribe()
	defer seen("$KV."+events.PackagesBucket+".>", func(p *pushStamps) *time.Time { return &p.kv },
		func(subj string) bool { return subj == curKV }).Unsubscribe()

	var runs []pushStamps
	o := gen
	o.Offset = n
	for k := 0; k < pushesPerSize; k++ {
		name, version := loadgen.Name(n+k), loadgen.Version(n+k)
		zip := loadgen.Zip(k, o)
		p := &pushStamps{}
		mu.Lock()
		cur, curRepo, curTag = p, `"packages/`+name+`"`, `"`+version+`"`
		curSubject = events.Subject("packages/" + name)
		curKV = "$KV." + events.PackagesBucket + "." + index.Key(name, version)
		mu.Unlock()
		p.start = time.Now()
		if _, err := s.client.PushPackage(s.ctx, "packages/"+name, version, zip, nil, nil); err != nil {
			t.Fatal(err)
		}
		p.pushed = time.Now()
		// A snapshot lookup is a map read, so this polls far finer than testkit's 10 ms.
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Microsecond) {
			if _, ok := server.Catalog().Snapshot().Lookup(name, version); ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s@%s never applied", name, version)
			}
		}
		p.applied = time.Now()
		s.eventually("served "+name+"@"+version, 10*time.Second, func() bool {
			resp, err := http.Get(fmt.Sprintf("%s/package/%s/%s/", s.base, name, version))
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == 200
		})
		p.served = time.Now()
		mu.Lock()
		cur = nil
		mu.Unlock()
		if p.notified.IsZero() || p.stream.IsZero() || p.kv.IsZero() {
			t.Fatalf("push %d: a stage was not observed: %+v", k, p)
		}
		runs = append(runs, *p)
	}

	catchUp, restart := replicaStarts(t, s, n+pushesPerSize)
	cold := coldSync(t, s, n+pushesPerSize)

	stage := func(label string, d func(p pushStamps) time.Duration) string {
		ds := make([]time.Duration, len(runs))
		for i, r := range runs {
			ds[i] = d(r)
		}
		slices.Sort(ds)
		p50, p99 := ds[len(ds)/2], ds[(len(ds)*99+99)/100-1]
		return fmt.Sprintf("n=%-6d %-36s p50 %8s  p99 %8s", n, label, p50.Round(100*time.Microsecond), p99.Round(100*time.Microsecond))
	}
	return []string{
		fmt.Sprintf("n=%-6d bulk push of %d versions %v, all indexed %v after its start", n, n, pushTook.Round(time.Millisecond), bulkTook.Round(time.Millisecond)),
		stage("push (oras-go, client side)", func(p pushStamps) time.Duration { return p.pushed.Sub(p.start) }),
		stage("push end → notification received", func(p pushStamps) time.Duration { return p.notified.Sub(p.pushed) }),
		stage("notification → JetStream stored", func(p pushStamps) time.Duration { return p.stream.Sub(p.notified) }),
		stage("  (webhook answered, after the ack)", func(p pushStamps) time.Duration { return p.acked.Sub(p.notified) }),
		stage("JetStream → KV put (reconcile)", func(p pushStamps) time.Duration { return p.kv.Sub(p.stream) }),
		stage("KV put → replica applied", func(p pushStamps) time.Duration { return p.applied.Sub(p.kv) }),
		stage("replica applied → served over HTTP", func(p pushStamps) time.Duration { return p.served.Sub(p.applied) }),
		stage("push start → served", func(p pushStamps) time.Duration { return p.served.Sub(p.start) }),
		stage("push end → served", func(p pushStamps) time.Duration { return p.served.Sub(p.pushed) }),
		fmt.Sprintf("n=%-6d API replica from an empty bbolt (catch-up from the bucket) %v; restart from its bbolt to ready %v", n,
			catchUp.Round(time.Millisecond), restart.Round(time.Millisecond)),
		fmt.Sprintf("n=%-6d indexer cold sync of %d versions (empty state → all served) %v", n, n+pushesPerSize, cold.Round(time.Millisecond)),
	}
}

// replicaStarts times a new API replica on the stack's NATS with an empty bbolt until it serves
// want versions, then the same replica restarted until ready (serving from its own bbolt).
func replicaStarts(t *testing.T, s *stack, want int) (catchUp, restart time.Duration) {
	opts := APIOptions{Config: api.DefaultConfig(), DataDir: t.TempDir(), Registry: oci.Config{Registry: "http://" + s.reg.Host()}, Log: testLogger(t)}
	start := time.Now()
	a, err := StartAPI(s.ctx, s.all.Conn, opts)
	if err != nil {
		t.Fatal(err)
	}
	s.eventually("replica caught up", 10*time.Minute, func() bool { return a.Server.Ready() && a.Server.Catalog().Snapshot().Len() == want })
	catchUp = time.Since(start)
	a.Close()
	start = time.Now()
	if a, err = StartAPI(s.ctx, s.all.Conn, opts); err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	s.eventually("replica ready", time.Minute, func() bool { return a.Server.Ready() })
	restart = time.Since(start)
	if got := a.Server.Catalog().Snapshot().Len(); got != want {
		t.Fatalf("restarted replica serves %d, want %d", got, want)
	}
	return catchUp, restart
}

// coldSync starts a second all-in-one with empty state against the same registry (no
// notifications reach it: its start-up resync finds everything) and times it until its replica
// serves want versions.
func coldSync(t *testing.T, s *stack, want int) time.Duration {
	regCfg := oci.Config{Registry: "http://" + s.reg.Host()}
	if path := os.Getenv("EPR_BENCH_COLD_PROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			t.Fatal(err)
		}
		defer pprof.StopCPUProfile()
		// Goroutines a few seconds in: which stage the reconciles sit in.
		snap := time.AfterFunc(4*time.Second, func() {
			if f, err := os.Create(path + ".goroutines"); err == nil {
				_ = pprof.Lookup("goroutine").WriteTo(f, 1)
				f.Close()
			}
		})
		defer snap.Stop()
		// Where the sync waits on locks is as telling as where it computes.
		runtime.SetMutexProfileFraction(1)
		defer func() {
			if f, err := os.Create(path + ".mutex"); err == nil {
				_ = pprof.Lookup("mutex").WriteTo(f, 0)
				f.Close()
			}
			runtime.SetMutexProfileFraction(0)
		}()
	}
	var cpu0 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &cpu0)
	start := time.Now()
	defer func() {
		var cpu1 syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &cpu1)
		used := time.Duration(cpu1.Utime.Nano() + cpu1.Stime.Nano() - cpu0.Utime.Nano() - cpu0.Stime.Nano())
		t.Logf("cold sync used %v of CPU in %v (%.0f%% of one core)", used.Round(time.Millisecond), time.Since(start).Round(time.Millisecond), 100*used.Seconds()/time.Since(start).Seconds())
	}()
	all, err := StartAllInOne(s.ctx, AllInOneOptions{
		API:     APIOptions{Config: api.DefaultConfig(), Registry: regCfg},
		Indexer: IndexerOptions{Registry: regCfg, Repository: "packages", Parallelism: coldParallelism(t)},
		DataDir: t.TempDir(),
		Webhook: WebhookOptions{Token: testToken},
		Log:     testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer all.Close()
	s.eventually("cold sync", 30*time.Minute, func() bool { return all.API.Server.Catalog().Snapshot().Len() == want })
	return time.Since(start)
}

// coldParallelism is the indexer's -parallelism for the cold sync: EPR_BENCH_PARALLELISM, or the
// default.
func coldParallelism(t *testing.T) int {
	v := os.Getenv("EPR_BENCH_PARALLELISM")
	if v == "" {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("EPR_BENCH_PARALLELISM=%q: want a positive number", v)
	}
	return n
}
