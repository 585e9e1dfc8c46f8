package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/oci-epr/package-registry/internal/index"
	"github.com/oci-epr/package-registry/internal/packages"
	"github.com/oci-epr/package-registry/internal/packages/packagetest"
)

func TestETagAndCacheInvalidation(t *testing.T) {
	ts := newTestServer(t, DefaultConfig(), false)
	for _, target := range []string{"/search?all=true", "/categories", "/package/acme_logs/1.2.0/", "/", "/search?package=nothing"} {
		w := ts.get(target)
		etag := w.Header().Get("Etag")
		if w.Code != 200 || len(etag) < 3 || etag[0] != '"' || etag[len(etag)-1] != '"' {
			t.Fatalf("%s: %d, ETag %q", target, w.Code, etag)
		}
		for _, inm := range []string{etag, "W/" + etag, `"other", ` + etag, "*"} {
			nm := ts.get(target, "If-None-Match", inm)
			if nm.Code != 304 || nm.Body.Len() != 0 {
				t.Errorf("%s If-None-Match %s: %d", target, inm, nm.Code)
			}
			// A 304 keeps the validators and cache lines, not the type.
			if nm.Header().Get("Etag") != etag || len(nm.Header()["Cache-Control"]) != 2 ||
				nm.Header().Get("Access-Control-Allow-Origin") != "*" || nm.Header().Get("Content-Type") != "" {
				t.Errorf("%s 304 headers: %v", target, nm.Header())
			}
		}
		if w := ts.get(target, "If-None-Match", `"nope"`); w.Code != 200 {
			t.Errorf("%s: wrong ETag gave %d", target, w.Code)
		}
		// The same bytes always get the same ETag (replicas agree).
		if w2 := ts.get(target); w2.Header().Get("Etag") != etag {
			t.Errorf("%s: ETag changed without an index change", target)
		}
	}

	before := ts.get("/search")
	etag := before.Header().Get("Etag")
	gen := ts.Catalog().Snapshot().Generation()
	// An unrelated change invalidates the cache, yet the body and therefore
	// the ETag stay the same.
	extra := docRecord(t, pk("zzz_new", "1.0.0-rc1"))
	ts.Apply([]index.Change{{Key: extra.Key(), Record: extra}})
	if ts.Catalog().Snapshot().Generation() == gen {
		t.Fatal("generation unchanged")
	}
	if w := ts.get("/search", "If-None-Match", etag); w.Code != 304 {
		t.Errorf("unchanged body lost its ETag: %d", w.Code)
	}
	// A visible change: new body, new ETag, the old one no longer matches.
	extra = docRecord(t, pk("zzz_new", "1.0.0"))
	ts.Apply([]index.Change{{Key: extra.Key(), Record: extra}})
	after := ts.get("/search", "If-None-Match", etag)
	if after.Code != 200 || after.Header().Get("Etag") == etag || !strings.Contains(after.Body.String(), "zzz_new") {
		t.Errorf("cache not invalidated by Apply: %d %s", after.Code, after.Header().Get("Etag"))
	}
	if w := ts.get("/package/zzz_new/1.0.0/"); w.Code != 200 {
		t.Errorf("new package: %d", w.Code)
	}
	ts.Apply([]index.Change{{Key: extra.Key()}})
	if w := ts.get("/package/zzz_new/1.0.0/"); w.Code != 404 {
		t.Errorf("deleted package still cached: %d", w.Code)
	}
}

func TestResponseCacheBudget(t *testing.T) {
	var c responseCache
	big := newCachedResponse(bytes.Repeat([]byte("x"), 600))
	c.put(cacheKey{kindSearch, "a"}, big, 1000)
	if _, ok := c.get(cacheKey{kindSearch, "a"}); !ok {
		t.Fatal("not cached")
	}
	c.put(cacheKey{kindSearch, "b"}, big, 1000)
	if _, ok := c.get(cacheKey{kindSearch, "a"}); ok {
		t.Error("over budget: the cache should have started over")
	}
	if _, ok := c.get(cacheKey{kindSearch, "b"}); !ok || c.bytes != 600 {
		t.Errorf("bytes %d", c.bytes)
	}
	c.put(cacheKey{kindSearch, "huge"}, newCachedResponse(make([]byte, 2000)), 1000)
	if _, ok := c.get(cacheKey{kindSearch, "huge"}); ok {
		t.Error("a body larger than the budget was cached")
	}
	c.put(cacheKey{kindSearch, "off"}, big, -1)
	if _, ok := c.get(cacheKey{kindSearch, "off"}); ok {
		t.Error("cached with the cache disabled")
	}
	// Disabled cache still serves correct responses.
	cfg := DefaultConfig()
	cfg.ResponseCacheBytes = -1
	ts := newTestServer(t, cfg, false)
	a, b := ts.get("/search"), ts.get("/search")
	if a.Body.String() != b.Body.String() || a.Header().Get("Etag") != b.Header().Get("Etag") || a.Code != 200 {
		t.Error("uncached responses differ")
	}
}

func TestETagMatches(t *testing.T) {
	for _, tc := range []struct {
		header string
		want   bool
	}{
		{`"a"`, true}, {`W/"a"`, true}, {`"b", "a"`, true}, {` "b" ,W/"a"`, true}, {`*`, true},
		{`"b"`, false}, {`a`, false}, {`"a`, false}, {``, false}, {`W/`, false}, {`"ab"`, false},
	} {
		if got := etagMatches(tc.header, `"a"`); got != tc.want {
			t.Errorf("%q: %v", tc.header, got)
		}
	}
}

func TestRanges(t *testing.T) {
	ts := newTestServer(t, DefaultConfig(), false)
	zip := ts.zipBytes(t, "acme_logs", "1.2.0")
	rec := ts.record("acme_logs", "1.2.0")
	const target = "/epr/acme_logs/acme_logs-1.2.0.zip"

	w := ts.get(target, "Range", "bytes=10-19")
	if w.Code != 206 || w.Body.String() != string(zip[10:20]) ||
		w.Header().Get("Content-Range") != fmt.Sprintf("bytes 10-19/%d", len(zip)) || w.Header().Get("Content-Length") != "10" {
		t.Errorf("single range: %d %v", w.Code, w.Header())
	}
	w = ts.get(target, "Range", "bytes=0-3,20-29")
	mt, params, _ := mime.ParseMediaType(w.Header().Get("Content-Type"))
	if w.Code != 206 || mt != "multipart/byteranges" {
		t.Fatalf("multipart: %d %q", w.Code, w.Header().Get("Content-Type"))
	}
	mr := multipart.NewReader(w.Body, params["boundary"])
	var parts []string
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p)
		if p.Header.Get("Content-Type") != "application/zip" {
			t.Errorf("part type %q", p.Header.Get("Content-Type"))
		}
		parts = append(parts, string(b))
	}
	if !reflect.DeepEqual(parts, []string{string(zip[0:4]), string(zip[20:30])}) {
		t.Errorf("parts %q", parts)
	}

	// Unsatisfiable: the contract's body and Content-Range, and the file
	// server strips Cache-Control.
	w = ts.get(target, "Range", fmt.Sprintf("bytes=%d-", len(zip)+10))
	c := errCase("", "", 416, "invalid range: failed to overlap", nil)
	c.headers = map[string]string{"Content-Range": fmt.Sprintf("bytes */%d", len(zip)), "Etag": "", "Last-Modified": ""}
	c.check(t, w)

	// Conditional requests.
	lm := fixedIndexedAt.Format(http.TimeFormat)
	if w := ts.get(target, "If-Modified-Since", lm); w.Code != 304 || w.Body.Len() != 0 || len(w.Header()["Cache-Control"]) != 2 {
		t.Errorf("If-Modified-Since: %d %v", w.Code, w.Header())
	}
	if w := ts.get(target, "If-Modified-Since", fixedIndexedAt.Add(-time.Hour).Format(http.TimeFormat)); w.Code != 200 {
		t.Errorf("older If-Modified-Since: %d", w.Code)
	}
	if w := ts.get(target, "If-None-Match", `"`+rec.Zip.Digest+`"`); w.Code != 304 {
		t.Errorf("If-None-Match digest: %d", w.Code)
	}
	if w := ts.get(target, "If-Unmodified-Since", fixedIndexedAt.Add(-time.Hour).Format(http.TimeFormat)); w.Code != 412 {
		t.Errorf("If-Unmodified-Since: %d", w.Code)
	}
	if w := ts.get(target, "Range", "bytes=0-9", "If-Range", `"`+rec.Zip.Digest+`"`); w.Code != 206 {
		t.Errorf("If-Range match: %d", w.Code)
	}
	if w := ts.get(target, "Range", "bytes=0-9", "If-Range", `"stale"`); w.Code != 200 || w.Body.Len() != len(zip) {
		t.Errorf("If-Range mismatch: %d", w.Code)
	}

	// Files inside the zip: ranges of a deflated entry in ascending order
	// (ranges.go has the policy), Last-Modified from the entry.
	const file = "/package/acme_logs/1.2.0/changelog.yml"
	full := ts.get(file).Body.String()
	if full != "- version: 1.2.0\n  changes: []\n" {
		t.Fatalf("file: %q", full)
	}
	if w := ts.get(file, "Range", "bytes=20-24,2-8"); w.Code != 200 || w.Body.String() != full {
		t.Errorf("descending ranges of a deflated file: %d, want the whole file", w.Code)
	}
	w = ts.get(file, "Range", "bytes=2-8,20-24")
	mt, params, _ = mime.ParseMediaType(w.Header().Get("Content-Type"))
	if w.Code != 206 || mt != "multipart/byteranges" {
		t.Fatalf("file multipart: %d", w.Code)
	}
	mr = multipart.NewReader(w.Body, params["boundary"])
	parts = nil
	for {
		p, err := mr.NextPart()
		if err != nil {
			break
		}
		b, _ := io.ReadAll(p)
		parts = append(parts, string(b))
	}
	if !reflect.DeepEqual(parts, []string{full[2:9], full[20:25]}) {
		t.Errorf("file parts %q", parts)
	}
	if w := ts.get(file, "Range", "bytes=-5"); w.Code != 206 || w.Body.String() != full[len(full)-5:] {
		t.Errorf("suffix range: %d %q", w.Code, w.Body.String())
	}
	c = errCase("", "", 416, "invalid range: failed to overlap", nil)
	c.headers = map[string]string{"Content-Range": fmt.Sprintf("bytes */%d", len(full))}
	c.check(t, ts.get(file, "Range", "bytes=999-"))
	if w := ts.get(file, "If-Modified-Since", packagetest.FixedTime.Format(http.TimeFormat)); w.Code != 304 {
		t.Errorf("file If-Modified-Since: %d", w.Code)
	}
	etag := ts.get(file).Header().Get("Etag")
	if w := ts.get(file, "If-None-Match", etag); etag == "" || w.Code != 304 {
		t.Errorf("file If-None-Match: %d", w.Code)
	}
	if other := ts.get("/package/acme_logs/1.1.0/changelog.yml").Header().Get("Etag"); other == etag {
		t.Error("two zips share a file ETag")
	}
}

func TestEntryReader(t *testing.T) {
	content := bytes.Repeat([]byte("0123456789abcdef"), 5000)
	size := int64(len(content))
	for _, stored := range []bool{false, true} {
		s := packagetest.Spec{Name: "big", Version: "1.0.0", Uncompressed: stored, ExtraFiles: map[string][]byte{"data/big.bin": content}}
		a, err := packages.OpenArchiveBytes(packagetest.Build(s), packages.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		fe, _ := a.Lookup("data/big.bin")
		if fe.Stored() != stored {
			t.Fatalf("Stored() = %v", fe.Stored())
		}
		r := openEntry(context.Background(), a, fe)
		// What http.ServeContent does: sniff, seek back, then ranges forward.
		for _, tc := range []struct{ off, n int64 }{{0, 512}, {0, 10}, {5, 7}, {40000, 30000}, {70000, 100}, {79990, 10}} {
			if _, err := r.Seek(tc.off, io.SeekStart); err != nil {
				t.Fatal(err)
			}
			got := make([]byte, tc.n)
			if _, err := io.ReadFull(r, got); err != nil {
				t.Fatalf("stored=%v: read at %d: %v", stored, tc.off, err)
			}
			if !bytes.Equal(got, content[tc.off:tc.off+tc.n]) {
				t.Errorf("stored=%v: wrong bytes at %d", stored, tc.off)
			}
		}
		if n, _ := r.Seek(0, io.SeekEnd); n != size {
			t.Errorf("size %d", n)
		}
		if _, err := r.Read(make([]byte, 1)); err != io.EOF {
			t.Errorf("read at end: %v", err)
		}
		if _, err := r.Seek(-1, io.SeekStart); err == nil {
			t.Error("negative seek accepted")
		}
		_ = r.Close()

		// Reading last byte first: a stored entry seeks, a deflated one
		// stops once it would inflate more than its size and the slack.
		r = openEntry(context.Background(), a, fe)
		var budgetErr error
		for off := size - 1; off >= 0 && budgetErr == nil; off -= size / 16 {
			r.Seek(off, io.SeekStart)
			if _, budgetErr = r.Read(make([]byte, 1)); budgetErr == io.EOF { // with the last byte
				budgetErr = nil
			}
		}
		if stored && budgetErr != nil {
			t.Errorf("stored: backward reads failed: %v", budgetErr)
		}
		if !stored && !errors.Is(budgetErr, errInflateBudget) {
			t.Errorf("deflated: backward reads never hit the budget: %v", budgetErr)
		}
		_ = r.Close()

		ctx, cancel := context.WithCancel(context.Background())
		r = openEntry(ctx, a, fe)
		if _, err := r.Read(make([]byte, 10)); err != nil {
			t.Fatal(err)
		}
		cancel()
		if _, err := r.Read(make([]byte, 10)); !errors.Is(err, context.Canceled) {
			t.Errorf("stored=%v: read after cancel: %v", stored, err)
		}
		_ = r.Close()
	}
}

// Concurrent first requests for files of one zip open it once; a bounded
// number of archives stays open and eviction waits for readers.
func TestArchiveCache(t *testing.T) {
	cfg := DefaultConfig()
	cfg.OpenArchives = 2
	ts := newTestServer(t, cfg, false)
	ts.blobs.delay = 20 * time.Millisecond
	rec := ts.record("acme_logs", "1.2.0")
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if w := ts.get("/package/acme_logs/1.2.0/docs/README.md"); w.Code != 200 {
				t.Errorf("concurrent: %d", w.Code)
			}
		}()
	}
	wg.Wait()
	if n := ts.blobs.openCount(rec.Zip.Digest); n != 1 {
		t.Errorf("zip opened %d times for concurrent first requests", n)
	}
	for _, v := range []string{"1.1.0", "1.3.0-rc1", "1.2.0", "1.1.0"} {
		if w := ts.get("/package/acme_logs/" + v + "/docs/README.md"); w.Code != 200 {
			t.Errorf("%s: %d", v, w.Code)
		}
	}
	if n, _ := ts.archives.Len(); n != 2 {
		t.Errorf("%d archives open, want the bound 2", n)
	}
	if n := ts.blobs.openCount(rec.Zip.Digest); n != 2 {
		t.Errorf("evicted archive reopened %d times, want 2", n)
	}

	// Eviction while a reader holds the archive defers the close.
	c := newArchiveCache(1, 1<<30)
	closed := 0
	load := func() (*packages.Archive, io.Closer, error) {
		return &packages.Archive{}, closerFunc(func() { closed++ }), nil
	}
	a1, _, _ := c.acquire(context.Background(), "a", load)
	_, _, _ = c.acquire(context.Background(), "b", load) // evicts a, still held
	if closed != 0 {
		t.Error("closed while in use")
	}
	c.release(a1)
	if closed != 1 {
		t.Errorf("closed %d after the last release", closed)
	}
	// A failed load is not cached, and its waiters get the error.
	failing := func() (*packages.Archive, io.Closer, error) { return nil, nil, errors.New("boom") }
	if _, _, err := c.acquire(context.Background(), "x", failing); err == nil {
		t.Error("no error")
	}
	if _, hit, err := c.acquire(context.Background(), "x", load); err != nil || hit {
		t.Errorf("retry after failure: hit=%v err=%v", hit, err)
	}
	// A waiter whose request ends stops waiting. The load runs once the
	// entry is in the cache, so the second acquire below finds it loading.
	block, loading := make(chan struct{}), make(chan struct{})
	go func() {
		_, _, _ = c.acquire(context.Background(), "slow", func() (*packages.Archive, io.Closer, error) {
			close(loading)
			<-block
			return &packages.Archive{}, nil, nil
		})
	}()
	<-loading
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := c.acquire(ctx, "slow", load); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled waiter: %v", err)
	}
	close(block)
}

// The archive cache is bounded by the heap its archives hold, not only by
// their count: many-entry packages evict others.
func TestArchiveCacheBytes(t *testing.T) {
	open := func(files int) *packages.Archive {
		s := packagetest.Spec{Name: "many", Version: "1.0.0", Uncompressed: true, ExtraFiles: map[string][]byte{}}
		for i := 0; i < files; i++ {
			s.ExtraFiles[fmt.Sprintf("kibana/tag/%05d.json", i)] = []byte("{}")
		}
		a, err := packages.OpenArchiveBytes(packagetest.Build(s), packages.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	small, big := open(10), open(500)
	sc, bc := small.MemoryCost(), big.MemoryCost()
	if sc <= 0 || bc < 10*sc {
		t.Fatalf("costs: small %d, big %d", sc, bc)
	}
	closed := map[string]bool{}
	loader := func(key string, a *packages.Archive) func() (*packages.Archive, io.Closer, error) {
		return func() (*packages.Archive, io.Closer, error) {
			return a, closerFunc(func() { closed[key] = true }), nil
		}
	}
	c := newArchiveCache(64, bc+2*sc) // room for the big one and two small ones
	get := func(key string, a *packages.Archive) {
		t.Helper()
		it, _, err := c.acquire(context.Background(), key, loader(key, a))
		if err != nil {
			t.Fatal(err)
		}
		c.release(it)
	}
	check := func(what string, n int, bytes int64, gone ...string) {
		t.Helper()
		if gotN, gotBytes := c.Len(); gotN != n || gotBytes != bytes {
			t.Errorf("%s: %d archives, %d bytes; want %d, %d", what, gotN, gotBytes, n, bytes)
		}
		for _, k := range gone {
			if !closed[k] {
				t.Errorf("%s: %s not evicted and closed", what, k)
			}
		}
	}
	get("s1", small)
	get("s2", small)
	get("b1", big)
	check("big and two small fit", 3, bc+2*sc)
	get("s3", small) // over by one small: the least recently used goes
	check("one more small", 3, bc+2*sc, "s1")
	get("b2", big) // evicts from the back until it fits: s2, then b1
	check("second big", 2, bc+sc, "s2", "b1")
	if closed["s3"] {
		t.Error("s3 evicted although the cache had room for it")
	}
	// An archive larger than the whole budget is not kept.
	tiny := newArchiveCache(64, sc)
	it, _, err := tiny.acquire(context.Background(), "huge", loader("huge", big))
	if err != nil {
		t.Fatal(err)
	}
	if n, b := tiny.Len(); n != 0 || b != 0 || closed["huge"] {
		t.Errorf("over-budget archive: %d cached, %d bytes, closed while in use %v", n, b, closed["huge"])
	}
	tiny.release(it)
	if !closed["huge"] {
		t.Error("over-budget archive not closed after its request")
	}

	// Config.OpenArchiveBytes reaches the server's cache.
	cfg := DefaultConfig()
	cfg.OpenArchiveBytes = 1
	ts := newTestServer(t, cfg, false)
	if w := ts.get("/package/acme_logs/1.2.0/docs/README.md"); w.Code != 200 {
		t.Fatalf("file with a 1-byte archive budget: %d", w.Code)
	}
	if n, b := ts.archives.Len(); n != 0 || b != 0 {
		t.Errorf("1-byte budget keeps %d archives, %d bytes", n, b)
	}
	if _, err := New(Config{OpenArchiveBytes: -1}, nil, nil, nil); err == nil {
		t.Error("negative OpenArchiveBytes accepted")
	}
}

func TestMetrics(t *testing.T) {
	blobs := newFakeBlobs(t)
	reg := prometheus.NewRegistry()
	cfg := DefaultConfig()
	cfg.Instance, cfg.ServiceVersion = "host-1", "9.9.9"
	s, err := New(cfg, blobs, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{Server: s, blobs: blobs, reg: reg}
	ts.recs = fixtureRecords(t, blobs)
	s.Load(ts.recs)
	s.SetRevision(42)
	ts.get("/search")
	ts.get("/search?all=maybe")
	ts.do("PURGE", "/search")
	ts.get("/nope")
	ts.get("/epr/x/acme_logs-1.2.0.zip")
	ts.get("/epr/x/acme_logs-1.2.0.zip")
	ts.get("/epr/x/acme_logs-1.2.0.zip.sig")
	ts.get("/package/acme_logs/1.2.0/docs/README.md")
	ts.get("/package/acme_logs/1.2.0/img/logo.svg")
	ts.get("/epr/x/y/z.zip")

	if got := testutil.ToFloat64(s.metrics.requests.WithLabelValues("200", "GET", "/search")); got != 1 {
		t.Errorf("search 200: %v", got)
	}
	if got := testutil.ToFloat64(s.metrics.requests.WithLabelValues("400", "GET", "/search")); got != 1 {
		t.Errorf("search 400: %v", got)
	}
	if got := testutil.ToFloat64(s.metrics.requests.WithLabelValues("200", "OTHER", "/search")); got != 1 {
		t.Errorf("search PURGE: %v", got)
	}
	if got := testutil.ToFloat64(s.metrics.requests.WithLabelValues("200", "GET", labelZip)); got != 2 {
		t.Errorf("zip: %v", got)
	}
	if got := testutil.ToFloat64(s.metrics.requests.WithLabelValues("200", "GET", labelSig)); got != 1 {
		t.Errorf("sig: %v", got)
	}
	// Unmatched paths are not counted.
	if n := testutil.CollectAndCount(s.metrics.requests); n != 6 {
		t.Errorf("%d request series, want 6", n)
	}
	for _, tc := range []struct {
		location, component string
		want                float64
	}{
		// The statics load reopens the zip the downloads already cached
		// (local); the second file is an open-archive hit (local).
		{"remote", "artifacts", 1}, {"local", "artifacts", 1}, {"remote", "signatures", 1},
		{"remote", "statics", 0}, {"local", "statics", 2},
	} {
		if got := testutil.ToFloat64(s.metrics.storage.WithLabelValues(tc.location, tc.component)); got != tc.want {
			t.Errorf("storage %s/%s: %v, want %v", tc.location, tc.component, got, tc.want)
		}
	}
	if testutil.ToFloat64(s.metrics.cacheHit) != 2 || testutil.ToFloat64(s.metrics.cacheMiss) != 2 {
		t.Errorf("blob cache hits %v misses %v", testutil.ToFloat64(s.metrics.cacheHit), testutil.ToFloat64(s.metrics.cacheMiss))
	}
	expect := `
# HELP epr_index_revision Last index (key-value) revision this replica applied.
# TYPE epr_index_revision gauge
epr_index_revision 42
# HELP epr_mock_mode 1 while the built-in mock packages are served because the index is empty.
# TYPE epr_mock_mode gauge
epr_mock_mode 0
# HELP epr_number_indexed_packages Package versions in the index (mock packages not counted).
# TYPE epr_number_indexed_packages gauge
epr_number_indexed_packages 11
# HELP epr_service_info Service version and instance.
# TYPE epr_service_info gauge
epr_service_info{instance="host-1",version="9.9.9"} 1
# HELP epr_in_flight_requests Requests being served by the API routes.
# TYPE epr_in_flight_requests gauge
epr_in_flight_requests 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(expect), "epr_index_revision", "epr_mock_mode",
		"epr_number_indexed_packages", "epr_service_info", "epr_in_flight_requests"); err != nil {
		t.Error(err)
	}
	mfs, _ := reg.Gather()
	names := map[string]bool{}
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	for _, n := range []string{"epr_http_request_duration_seconds", "epr_http_request_size_bytes", "epr_http_response_size_bytes",
		"epr_blob_cache_hits_total", "epr_blob_cache_misses_total", "epr_storage_requests_total", "epr_http_requests_total"} {
		if !names[n] {
			t.Errorf("metric %s missing", n)
		}
	}
	// Registering twice on one registry is an error, not a panic.
	if _, err := New(cfg, blobs, nil, reg); err == nil {
		t.Error("duplicate registration accepted")
	}
}

// Spellings of one query share one cached response: the normalised filter is the cache key.
func TestNormalisedQueriesShareACachedResponse(t *testing.T) {
	ts := newTestServer(t, DefaultConfig(), false)
	spellings := [][]string{
		{"/search?package=acme_logs&prerelease=true", "/search?prerelease=1&package=acme_logs&unknown=x", "/search?prerelease=True&package=acme_logs&package=other"},
		{"/search?capabilities=apm,observability", "/search?capabilities=observability,apm"},
		{"/categories?include_policy_templates=true&kibana.version=8.13", "/categories?kibana.version=8.13.0&include_policy_templates=t"},
	}
	for _, group := range spellings {
		var first *cachedResponse
		for i, target := range group {
			if w := ts.get(target); w.Code != 200 {
				t.Fatalf("%s: %d", target, w.Code)
			}
			kind := kindSearch
			if strings.HasPrefix(target, "/categories") {
				kind = kindCategories
			}
			_, raw, _ := strings.Cut(target, "?")
			resp, ok := ts.Catalog().Snapshot().cache.get(cacheKey{kind, raw})
			if !ok {
				t.Fatalf("%s not cached", target)
			}
			if i == 0 {
				first = resp
			} else if resp != first {
				t.Errorf("%s computed its own response instead of sharing that of %s", target, group[0])
			}
		}
	}
	// Different filters do not share.
	ts.get("/search?package=acme_logs")
	ts.get("/search?package=acme_logs&all=true")
	snap := ts.Catalog().Snapshot()
	a, okA := snap.cache.get(cacheKey{kindSearch, "package=acme_logs"})
	b, okB := snap.cache.get(cacheKey{kindSearch, "package=acme_logs&all=true"})
	if !okA || !okB || a == b {
		t.Fatal("different filters share one cached response")
	}
}
