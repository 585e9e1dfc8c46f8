package api

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/oci-epr/package-registry/internal/index"
	"github.com/oci-epr/package-registry/internal/packages"
	"github.com/oci-epr/package-registry/internal/packages/packagetest"
)

var benchRecords = sync.OnceValue(func() []*index.Record {
	var recs []*index.Record
	for _, a := range packagetest.Many(1000) {
		doc, _, err := packages.ReadBytes(a.Zip, packages.Options{})
		if err != nil {
			panic(err)
		}
		raw, err := packages.Encode(doc)
		if err != nil {
			panic(err)
		}
		recs = append(recs, &index.Record{Name: doc.Name, Version: doc.Version, Document: raw,
			Repository: "packages/" + doc.Name, Zip: index.Blob{Digest: "sha256:" + doc.Name + doc.Version, Size: int64(len(a.Zip))},
			IndexedAt: fixedIndexedAt})
	}
	return recs
})

func benchServer(b *testing.B, cfg Config) *Server {
	b.Helper()
	s, err := New(cfg, nil, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	s.Load(benchRecords())
	if n := s.Catalog().Snapshot().Len(); n != 1000 {
		b.Fatalf("%d versions loaded", n)
	}
	return s
}

func benchServe(b *testing.B, s http.Handler, targets []string) {
	b.Helper()
	reqs := make([]*http.Request, len(targets))
	for i, t := range targets {
		reqs[i] = httptest.NewRequest(http.MethodGet, t, nil)
		w := httptest.NewRecorder()
		s.ServeHTTP(w, reqs[i]) // warm the caches
		if w.Code != 200 {
			b.Fatalf("%s: %d", t, w.Code)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	var bytes int64
	for i := 0; b.Loop(); i++ {
		w := httptest.NewRecorder()
		s.ServeHTTP(w, reqs[i%len(reqs)])
		bytes += int64(w.Body.Len())
	}
	b.ReportMetric(float64(bytes)/float64(b.N), "body-bytes/op")
}

// BenchmarkSearchAllCached: /search?all=true over 1,000 versions, served
// from the response cache.
func BenchmarkSearchAllCached(b *testing.B) {
	benchServe(b, benchServer(b, DefaultConfig()), []string{"/search?all=true"})
}

// BenchmarkSearchAllUncached: the same with the response cache off (query
// parsing, filtering and assembling the pre-encoded items on every request).
func BenchmarkSearchAllUncached(b *testing.B) {
	cfg := DefaultConfig()
	cfg.ResponseCacheBytes = -1
	benchServe(b, benchServer(b, cfg), []string{"/search?all=true"})
}

// BenchmarkSearchDefaultCached: the Fleet integrations list (latest per
// name).
func BenchmarkSearchDefaultCached(b *testing.B) {
	benchServe(b, benchServer(b, DefaultConfig()), []string{"/search?prerelease=true&kibana.version=8.15.0"})
}

// BenchmarkPackageCached: /package/<n>/<v>/ cycling through all 1,000
// versions, all cached.
func BenchmarkPackageCached(b *testing.B) {
	var targets []string
	for _, r := range benchRecords() {
		targets = append(targets, fmt.Sprintf("/package/%s/%s/", r.Name, r.Version))
	}
	benchServe(b, benchServer(b, DefaultConfig()), targets)
}

// BenchmarkPackageUncached encodes the document on every request.
func BenchmarkPackageUncached(b *testing.B) {
	cfg := DefaultConfig()
	cfg.ResponseCacheBytes = -1
	r := benchRecords()[401]
	benchServe(b, benchServer(b, cfg), []string{"/package/" + r.Name + "/" + r.Version + "/"})
}
