package api

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/oci-epr/package-registry/internal/index"
	"github.com/oci-epr/package-registry/internal/loadgen"
	"github.com/oci-epr/package-registry/internal/packages"
	"github.com/oci-epr/package-registry/internal/packages/packagetest"
	"github.com/oci-epr/package-registry/internal/store"
)

// The scale benchmarks load N versions of internal/loadgen's catalogue (the documents of
// realistic packages; their zips are built small, which leaves the documents as they are) and
// measure each route, the memory the catalog holds, applying one change, and a replica's cold
// start from bbolt. 50,000 versions take minutes to prepare, so they run only with
// EPR_BENCH_LARGE=1:
//
//	go test -run '^$' -bench 'BenchmarkScale' -benchtime 2s ./internal/api/
//	EPR_BENCH_LARGE=1 go test -run '^$' -bench 'BenchmarkScale/n=50000' -benchtime 2s -timeout 1h ./internal/api/

func scaleSizes() []int {
	if os.Getenv("EPR_BENCH_LARGE") == "1" {
		return []int{1000, 10000, 50000}
	}
	return []int{1000, 10000}
}

// scaleTarget is the version whose zip, files and document the per-version routes ask for.
const scaleTarget = 401

var scaleCache sync.Map // n → *scaleSet

type scaleSet struct {
	once    sync.Once
	records []*index.Record
	encoded [][]byte // index.Encode of each record, as the replica stores them
	target  []byte   // the target's zip
}

// scaleRecords builds n records on all cores, once per n for the whole run.
func scaleRecords(b *testing.B, n int) *scaleSet {
	b.Helper()
	v, _ := scaleCache.LoadOrStore(n, &scaleSet{})
	set := v.(*scaleSet)
	set.once.Do(func() {
		o := loadgen.Defaults()
		o.SizeScale = 0.001
		set.records = make([]*index.Record, n)
		set.encoded = make([][]byte, n)
		var wg sync.WaitGroup
		workers := runtime.GOMAXPROCS(0)
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < n; i += workers {
					// Stored entries and no content validation: the document comes out the
					// same (TestVersionsAreValidAndRealistic checks the real zips pass), and
					// 50,000 of them are ready in a fraction of the time.
					spec := loadgen.Spec(i, o)
					spec.Uncompressed = true
					zip := packagetest.Build(spec)
					doc, _, err := packages.ReadBytes(zip, packages.Options{DisableContentValidation: true})
					if err != nil {
						panic(err)
					}
					raw, err := packages.Encode(doc)
					if err != nil {
						panic(err)
					}
					r := &index.Record{Name: doc.Name, Version: doc.Version, Document: raw,
						Repository: "packages/" + doc.Name, Tag: doc.Version,
						ManifestDigest: fmt.Sprintf("sha256:%064x", i),
						Zip:            index.Blob{Digest: fmt.Sprintf("sha256:%064x", i+1<<40), Size: int64(len(zip)), MediaType: "application/zip"},
						IndexedAt:      fixedIndexedAt}
					if i == scaleTarget {
						set.target = zip
					}
					enc, err := index.Encode(r)
					if err != nil {
						panic(err)
					}
					set.records[i], set.encoded[i] = r, enc
				}
			}()
		}
		wg.Wait()
	})
	return set
}

// discardWriter is a ResponseWriter that only counts, so a benchmark measures the handler and
// not a recorder's buffer growth.
type discardWriter struct {
	h     http.Header
	code  int
	bytes int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(code int)        { w.code = code }
func (w *discardWriter) Write(p []byte) (int, error) { w.bytes += len(p); return len(p), nil }
func (w *discardWriter) reset()                      { clear(w.h); w.code, w.bytes = 200, 0 }

func BenchmarkScale(b *testing.B) {
	for _, n := range scaleSizes() {
		b.Run("n="+strconv.Itoa(n), func(b *testing.B) { benchScale(b, n) })
	}
}

func benchScale(b *testing.B, n int) {
	set := scaleRecords(b, n)
	blobs := newFakeBlobs(b)
	targetZip := blobs.add(b, set.target, "application/zip")

	// The heap figure is what a replica holds: records are decoded from their stored form
	// (as LoadStore does) inside the measured span and dropped after loading.
	var heapBefore, heapAfter runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&heapBefore)
	s, err := New(DefaultConfig(), blobs, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	loaded := make([]*index.Record, n)
	for i, enc := range set.encoded {
		if loaded[i], err = index.Decode(enc); err != nil {
			b.Fatal(err)
		}
	}
	loaded[scaleTarget].Zip = targetZip
	s.Load(loaded)
	loaded = nil
	recs := append([]*index.Record(nil), set.records...)
	target := *recs[scaleTarget]
	target.Zip = targetZip
	recs[scaleTarget] = &target
	if got := s.Catalog().Snapshot().Len(); got != n {
		b.Fatalf("%d versions loaded, want %d", got, n)
	}
	pkg := fmt.Sprintf("/package/%s/%s/", target.Name, target.Version)
	routes := []struct{ name, target string }{
		{"search_all", "/search?all=true"},
		{"search", "/search"},
		{"search_package", "/search?package=" + target.Name},
		{"categories", "/categories"},
		{"package", pkg},
		{"zip", fmt.Sprintf("/epr/%s/%s-%s.zip", target.Name, target.Name, target.Version)},
		{"static_file", pkg + "manifest.yml"},
	}
	// Warm every route once so the heap figure includes the response cache a serving
	// replica holds, then measure it.
	for _, rt := range routes {
		w := httptest.NewRecorder()
		s.ServeHTTP(w, httptest.NewRequest(http.MethodGet, rt.target, nil))
		if w.Code != 200 {
			b.Fatalf("%s: %d %s", rt.target, w.Code, w.Body.String())
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&heapAfter)
	b.Run("heap", func(b *testing.B) {
		for b.Loop() {
		}
		b.ReportMetric(float64(heapAfter.HeapAlloc-heapBefore.HeapAlloc)/(1<<20), "heap-MB")
		b.ReportMetric(float64(heapAfter.HeapAlloc-heapBefore.HeapAlloc)/float64(n), "heap-bytes/version")
	})

	for _, rt := range routes {
		b.Run(rt.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, rt.target, nil)
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				w.reset()
				s.ServeHTTP(w, req)
			}
			if w.code != 200 {
				b.Fatalf("%s: %d", rt.target, w.code)
			}
			b.ReportMetric(float64(w.bytes), "body-bytes/op")
		})
	}

	// Over loopback HTTP with parallel clients, against a handler that only writes bytes of
	// the same size: the ceiling /search?all=true is measured against.
	all := httptest.NewRecorder()
	s.ServeHTTP(all, httptest.NewRequest(http.MethodGet, "/search?all=true", nil))
	body := all.Body.Bytes()
	static := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
	})
	var staticNs, oursNs float64
	b.Run("static_bytes_http", func(b *testing.B) { staticNs = benchHTTP(b, static, "/search?all=true") })
	b.Run("search_all_http", func(b *testing.B) {
		oursNs = benchHTTP(b, s, "/search?all=true")
		if staticNs > 0 {
			b.ReportMetric(staticNs/oursNs, "x-static")
		}
	})
	b.Run("package_http", func(b *testing.B) { benchHTTP(b, s, pkg) })

	b.Run("apply_one", func(b *testing.B) { benchApplyOne(b, s, recs) })
	b.Run("first_search_all_after_change", func(b *testing.B) {
		req := httptest.NewRequest(http.MethodGet, "/search?all=true", nil)
		w := &discardWriter{h: http.Header{}}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			b.StopTimer()
			applyVariant(s, recs, i)
			i++
			b.StartTimer()
			w.reset()
			s.ServeHTTP(w, req)
		}
	})
	b.Run("package_after_change", func(b *testing.B) {
		req := httptest.NewRequest(http.MethodGet, pkg, nil)
		w := &discardWriter{h: http.Header{}}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			b.StopTimer()
			if (i*7919)%len(recs) == scaleTarget {
				i++
			}
			applyVariant(s, recs, i)
			i++
			b.StartTimer()
			w.reset()
			s.ServeHTTP(w, req)
		}
	})
	b.Run("cold_start_bbolt", func(b *testing.B) { benchColdStart(b, set) })
}

// benchHTTP serves h on loopback and GETs target from 32 goroutines; it returns ns/op.
func benchHTTP(b *testing.B, h http.Handler, target string) float64 {
	srv := httptest.NewServer(h)
	defer srv.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	url := srv.URL + target
	b.SetParallelism(16) // 32 clients on 2 cores, as wrk -c32
	b.ReportAllocs()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Get(url)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("%s: %d", target, resp.StatusCode)
				return
			}
		}
	})
	ns := float64(time.Since(start).Nanoseconds()) / float64(b.N)
	b.ReportMetric(1e9/ns, "req/s")
	return ns
}

// applyVariant republishes one existing version with a changed document (another
// description), as a re-push of that tag would.
func applyVariant(s *Server, recs []*index.Record, i int) {
	r := *recs[(i*7919)%len(recs)]
	var doc packages.Package
	if err := json.Unmarshal(r.Document, &doc); err != nil {
		panic(err)
	}
	doc.Description = fmt.Sprintf("Changed %d.", i)
	var err error
	if r.Document, err = packages.Encode(&doc); err != nil {
		panic(err)
	}
	s.Apply([]index.Change{{Key: r.Key(), Record: &r}})
}

func benchApplyOne(b *testing.B, s *Server, recs []*index.Record) {
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		applyVariant(s, recs, i)
		i++
	}
}

// benchColdStart opens a replica's bbolt holding the n records and loads it, as an API
// process does before it is ready.
func benchColdStart(b *testing.B, set *scaleSet) {
	path := filepath.Join(b.TempDir(), "api.db")
	db, err := store.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	changes := make([]store.PackageChange, len(set.records))
	for i, r := range set.records {
		changes[i] = store.PackageChange{Key: r.Key(), Value: set.encoded[i]}
	}
	if err := db.ApplyPackages(changes, uint64(len(changes))); err != nil {
		b.Fatal(err)
	}
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		db, err := store.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		s, err := New(DefaultConfig(), nil, nil, nil)
		if err != nil {
			b.Fatal(err)
		}
		recs, err := index.Load(db, nil)
		if err != nil {
			b.Fatal(err)
		}
		s.Load(recs)
		if got := s.Catalog().Snapshot().Len(); got != len(set.records) {
			b.Fatalf("%d loaded", got)
		}
		db.Close()
	}
}
