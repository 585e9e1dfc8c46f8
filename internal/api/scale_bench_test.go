package api

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oci-epr/package-registry/internal/index"
	"github.com/oci-epr/package-registry/internal/loadgen"
	"github.com/oci-epr/package-registry/internal/packages"
	"github.com/oci-epr/package-registry/internal/packages/packagetest"
	"github.com/oci-epr/package-registry/internal/store"
)

// The scale benchmarks run the API over catalogs of 1k and 10k versions (and 50k with
// EPR_BENCH_LARGE=1) of loadgen's realistic packages. Documents are read from 20 real zips and
// renamed per version, so a catalog of any size builds in seconds; the version the zip and
// file benchmarks fetch is backed by its real zip.
//
//	go test -run '^$' -bench Scale -benchtime 2s ./internal/api/

var scaleTemplates = sync.OnceValue(func() []*packages.Package {
	o := loadgen.Options{}
	var docs []*packages.Package
	for i := range 20 {
		doc, _, err := packages.ReadBytes(packagetest.Build(o.Spec(i)), packages.Options{})
		if err != nil {
			panic(err)
		}
		docs = append(docs, doc)
	}
	return docs
})

// scaleRecords is a catalog of n versions, named as loadgen names them.
func scaleRecords(tb testing.TB, n int) []*index.Record {
	tb.Helper()
	o := loadgen.Options{}
	templates := scaleTemplates()
	recs := make([]*index.Record, n)
	for i := range n {
		t := templates[i%len(templates)]
		doc := *t
		name, version := o.Name(i), o.Version(i)
		rename := func(s string) string {
			return strings.ReplaceAll(strings.ReplaceAll(s, t.Name, name), "/"+t.Version+"/", "/"+version+"/")
		}
		doc.Name, doc.Version = name, version
		doc.Download = "/epr/" + name + "/" + name + "-" + version + ".zip"
		doc.Path = "/package/" + name + "/" + version
		doc.Icons = append([]packages.Image(nil), t.Icons...)
		for j := range doc.Icons {
			doc.Icons[j].Path = rename(doc.Icons[j].Path)
		}
		doc.Screenshots = append([]packages.Image(nil), t.Screenshots...)
		for j := range doc.Screenshots {
			doc.Screenshots[j].Path = rename(doc.Screenshots[j].Path)
		}
		doc.Readme = rename(t.Readme)
		raw, err := packages.Encode(&doc)
		if err != nil {
			tb.Fatal(err)
		}
		recs[i] = &index.Record{Name: name, Version: version, Document: raw, Repository: "packages/" + name,
			Tag: version, Zip: index.Blob{Digest: fmt.Sprintf("sha256:%064x", i), Size: 1}, IndexedAt: fixedIndexedAt}
	}
	return recs
}

func scaleSizes() []int {
	if os.Getenv("EPR_BENCH_LARGE") != "" {
		return []int{1000, 10000, 50000}
	}
	return []int{1000, 10000}
}

type scaleServer struct {
	*Server
	recs []*index.Record
	// served is the version backed by a real zip.
	served *index.Record
}

func newScaleServer(b *testing.B, n int) *scaleServer {
	b.Helper()
	blobs := newFakeBlobs(b)
	recs := scaleRecords(b, n)
	// The version the downloads fetch gets its real zip.
	o := loadgen.Options{}
	served := specRecord(b, blobs, o.Spec(n/2), true)
	recs[n/2] = served
	s, err := New(DefaultConfig(), blobs, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	s.Load(recs)
	if got := s.Catalog().Snapshot().Len(); got != n {
		b.Fatalf("%d versions loaded, want %d", got, n)
	}
	s.SetReady(true)
	return &scaleServer{Server: s, recs: recs, served: served}
}

func BenchmarkScale(b *testing.B) {
	for _, n := range scaleSizes() {
		b.Run(fmt.Sprintf("versions=%d", n), func(b *testing.B) {
			runtime.GC()
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			s := newScaleServer(b, n)
			runtime.GC()
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			heap := float64(after.HeapAlloc) - float64(before.HeapAlloc)
			name, version := s.served.Name, s.served.Version
			routes := []struct{ name, target string }{
				{"search-all", "/search?all=true"},
				{"search", "/search?kibana.version=8.15.0"},
				{"search-package", "/search?package=" + name},
				{"categories", "/categories?include_policy_templates=true"},
				{"package", "/package/" + name + "/" + version + "/"},
				{"zip", "/epr/" + name + "/" + name + "-" + version + ".zip"},
				{"file", "/package/" + name + "/" + version + "/docs/README.md"},
			}
			for _, r := range routes {
				b.Run(r.name, func(b *testing.B) { benchServe(b, s.Server, []string{r.target}) })
			}
			// The limit for /search?all=true: a handler that only writes bytes of the same size.
			w := httptest.NewRecorder()
			s.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/search?all=true", nil))
			static := staticBytesHandler(w.Body.Bytes())
			b.Run("static-bytes", func(b *testing.B) { benchServe(b, static, []string{"/search?all=true"}) })
			b.Run("heap", func(b *testing.B) {
				for b.Loop() {
				}
				b.ReportMetric(heap/(1<<20), "MB-heap")
				b.ReportMetric(heap/float64(n), "B-heap/version")
			})
			// Applying one changed version, and the first /search?all=true after it (rendered
			// anew, as every change starts an empty response cache).
			changed := *s.recs[n/3]
			b.Run("apply-one", func(b *testing.B) {
				for i := 0; b.Loop(); i++ {
					changed.IndexedAt = fixedIndexedAt.Add(time.Duration(i) * time.Second)
					s.Apply([]index.Change{{Key: changed.Key(), Record: &changed}})
				}
			})
			b.Run("apply-one-then-search-all", func(b *testing.B) {
				req := httptest.NewRequest(http.MethodGet, "/search?all=true", nil)
				for i := 0; b.Loop(); i++ {
					changed.IndexedAt = fixedIndexedAt.Add(time.Duration(i) * time.Second)
					s.Apply([]index.Change{{Key: changed.Key(), Record: &changed}})
					w := httptest.NewRecorder()
					s.ServeHTTP(w, req)
					if w.Code != 200 {
						b.Fatal(w.Code)
					}
				}
			})
			// 32 clients asking for /search?all=true right after a change: one render serves them.
			b.Run("apply-one-then-32-concurrent-search-all", func(b *testing.B) {
				req := httptest.NewRequest(http.MethodGet, "/search?all=true", nil)
				for i := 0; b.Loop(); i++ {
					changed.IndexedAt = fixedIndexedAt.Add(time.Duration(i) * time.Second)
					s.Apply([]index.Change{{Key: changed.Key(), Record: &changed}})
					var wg sync.WaitGroup
					for range 32 {
						wg.Go(func() {
							w := httptest.NewRecorder()
							s.ServeHTTP(w, req)
						})
					}
					wg.Wait()
				}
			})
			b.Run("cold-start-from-bbolt", func(b *testing.B) { benchColdStart(b, s.recs) })
		})
	}
}

// benchColdStart measures what an API replica does at start with a full bbolt: open the store,
// load every record, serve.
func benchColdStart(b *testing.B, recs []*index.Record) {
	path := filepath.Join(b.TempDir(), "api.db")
	db, err := store.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	changes := make([]store.PackageChange, len(recs))
	for i, r := range recs {
		v, err := index.Encode(r)
		if err != nil {
			b.Fatal(err)
		}
		changes[i] = store.PackageChange{Key: r.Key(), Value: v}
	}
	if err := db.ApplyPackages(changes, 1); err != nil {
		b.Fatal(err)
	}
	db.Close()
	for b.Loop() {
		db, err := store.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		s, err := New(DefaultConfig(), nil, nil, nil)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.LoadStore(db); err != nil {
			b.Fatal(err)
		}
		if s.Catalog().Snapshot().Len() != len(recs) {
			b.Fatal("not every record loaded")
		}
		db.Close()
	}
}

// staticBytesHandler writes body with the headers a cached /search answer has.
func staticBytesHandler(body []byte) http.Handler {
	length := []string{fmt.Sprint(len(body))}
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h[hContentType] = valJSON
		h[hContentLen] = length
		h[hCacheControl] = []string{"max-age=600", "public"}
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body)
	})
}
