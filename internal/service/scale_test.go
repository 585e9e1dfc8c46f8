package service

import (
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/oci-epr/package-registry/internal/api"
	"github.com/oci-epr/package-registry/internal/events"
	"github.com/oci-epr/package-registry/internal/index"
	"github.com/oci-epr/package-registry/internal/loadgen"
	"github.com/oci-epr/package-registry/internal/oci"
)

// TestPushToVisibleByStage measures push → visible, stage by stage, with EPR_SCALE_VERSIONS
// versions already indexed (default 100; the README's figures use 1000 and 10000):
//
//	EPR_SCALE_VERSIONS=10000 go test -count=1 -v -run PushToVisibleByStage -timeout 30m ./internal/service/
//
// Milestones, each timed from the push's start: the push returns (oras-go, tag written), the
// registry's notification reaches the webhook route, the reconcile's record is in the KV
// bucket, the replica applied it, /search serves it. Zips are small (64 KiB of dashboards) so that the in-memory registry holds
// 10,000 versions.
func TestPushToVisibleByStage(t *testing.T) {
	n := 100
	if v := os.Getenv("EPR_SCALE_VERSIONS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			t.Fatal(err)
		}
	}
	pushes := 20
	s := startStack(t)
	o := loadgen.Options{DashboardBytes: 64 << 10}
	start := time.Now()
	if _, err := loadgen.Push(s.ctx, s.client, "packages", o, 0, n, 8, nil); err != nil {
		t.Fatal(err)
	}
	pushed := time.Since(start)
	catalog := s.all.API.Server.Catalog()
	s.eventually(fmt.Sprintf("%d versions indexed", n), 30*time.Minute, func() bool { return catalog.Snapshot().Len() >= n })
	t.Logf("%d versions pushed in %v, all indexed %v after the first push", n, pushed.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))

	js, err := jetstream.New(s.all.Conn)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(s.ctx, events.PackagesBucket)
	if err != nil {
		t.Fatal(err)
	}
	arr := &arrivals{}
	s.fwd.webhookArrivals.Store(arr)
	// Each milestone as the time since the push started: the notification can arrive before the
	// push call returns (the registry sends it once the manifest is written).
	stages := []string{"push returned", "notification in", "record in KV", "replica applied", "served"}
	took := make([][]time.Duration, len(stages))
	for i := n; i < n+pushes; i++ {
		spec := o.Spec(i)
		w, err := kv.Watch(s.ctx, index.Key(spec.Name, spec.Version), jetstream.UpdatesOnly())
		if err != nil {
			t.Fatal(err)
		}
		kvSeen := make(chan time.Time, 1)
		go func() {
			for e := range w.Updates() {
				if e != nil {
					kvSeen <- time.Now()
					return
				}
			}
		}()
		t0 := time.Now()
		if _, err := loadgen.Push(s.ctx, s.client, "packages", o, i, i+1, 1, nil); err != nil {
			t.Fatal(err)
		}
		t1 := time.Now()
		var t4 time.Time
		s.eventually("replica applied", 10*time.Second, func() bool {
			_, ok := catalog.Snapshot().Lookup(spec.Name, spec.Version)
			t4 = time.Now()
			return ok
		})
		var t5 time.Time
		s.eventually("served", 10*time.Second, func() bool {
			items, _, _ := search(t, s.base, "package="+spec.Name+"&all=true&prerelease=true")
			t5 = time.Now()
			return has(items, spec.Name, spec.Version)
		})
		var t3 time.Time
		select {
		case t3 = <-kvSeen:
		case <-time.After(5 * time.Second):
			t.Fatal("the record never showed in the KV watch")
		}
		w.Stop()
		t2 := arr.lastBefore(t3)
		if t2.IsZero() || t2.Before(t0) {
			t.Fatal("no notification arrived between the push and the KV write")
		}
		for j, d := range []time.Duration{t1.Sub(t0), t2.Sub(t0), t3.Sub(t0), t4.Sub(t0), t5.Sub(t0)} {
			took[j] = append(took[j], d)
		}
	}
	for j, name := range stages {
		slices.Sort(took[j])
		t.Logf("catalog %d: %-15s p50 %7.1f ms  p99 %7.1f ms", n, name, ms(took[j][len(took[j])/2]), ms(took[j][len(took[j])*99/100]))
	}
	if resp, _ := get(t, s.base+"/health?ready=true"); resp.StatusCode != http.StatusOK {
		t.Fatalf("not ready after the run: %d", resp.StatusCode)
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// TestIndexerColdSync measures an indexer's first sync of a full registry: an all-in-one with an
// empty data directory against EPR_SCALE_VERSIONS versions (default 100) in the in-process
// registry, until its API serves them all.
//
//	EPR_SCALE_VERSIONS=10000 go test -count=1 -v -run IndexerColdSync -timeout 30m ./internal/service/
func TestIndexerColdSync(t *testing.T) {
	n := 100
	if v := os.Getenv("EPR_SCALE_VERSIONS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			t.Fatal(err)
		}
	}
	s := startStackWith(t, stackOptions{hooks: WebhookOptions{Token: testToken}, noNotifications: true})
	o := loadgen.Options{DashboardBytes: 64 << 10}
	st, err := loadgen.Push(s.ctx, s.client, "packages", o, 0, n, 8, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d versions (%d MB) pushed in %v", n, st.Bytes>>20, st.Duration.Round(time.Millisecond))
	regCfg := oci.Config{Registry: "http://" + s.reg.Host()}
	start := time.Now()
	cold, err := StartAllInOne(s.ctx, AllInOneOptions{
		API:     APIOptions{Config: api.DefaultConfig(), Registry: regCfg},
		Indexer: IndexerOptions{Registry: regCfg, Repository: "packages"},
		DataDir: t.TempDir(), Log: testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cold.Close() })
	catalog := cold.API.Server.Catalog()
	took := s.eventually("cold sync", 30*time.Minute, func() bool { return catalog.Snapshot().Len() >= n })
	t.Logf("cold sync of %d versions: %v (%.0f versions/s)", n, took.Round(time.Millisecond), float64(n)/time.Since(start).Seconds())
}
