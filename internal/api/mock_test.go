package api

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/oci-epr/package-registry/internal/index"
	"github.com/oci-epr/package-registry/internal/packages"
)

func searchNames(t *testing.T, ts *testServer, target string) []string {
	t.Helper()
	w := ts.get(target)
	if w.Code != 200 {
		t.Fatalf("%s: %d %s", target, w.Code, w.Body.String())
	}
	var items []packages.SearchItem
	if err := json.Unmarshal(w.Body.Bytes(), &items); err != nil {
		t.Fatalf("%s: %v", target, err)
	}
	var out []string
	for _, it := range items {
		out = append(out, it.Name+"@"+it.Version)
	}
	return out
}

func TestMockFallback(t *testing.T) {
	ts := newTestServer(t, DefaultConfig(), true)

	// Every response is marked while mocks are served, errors and the
	// router's 404 included.
	for _, target := range []string{"/", "/search", "/categories", "/health?ready=true", "/favicon.ico",
		"/package/mock_logs/1.0.0/", "/package/nope/1.0.0/", "/nope", "/search/", "/search?all=maybe"} {
		if got := ts.get(target).Header().Get("X-Package-Source"); got != "mock" {
			t.Errorf("%s: X-Package-Source %q", target, got)
		}
	}
	if w := ts.get("/health?ready=true"); w.Code != 200 || w.Body.Len() != 0 {
		t.Errorf("ready in mock mode: %d %q", w.Code, w.Body.String())
	}
	names := searchNames(t, ts, "/search")
	if strings.Join(names, " ") != "mock_input@0.1.0 mock_logs@1.0.0" {
		t.Fatalf("mock search: %v", names)
	}
	if testutil.ToFloat64(ts.metrics.mockMode) != 1 || testutil.ToFloat64(ts.metrics.indexed) != 0 {
		t.Error("mock metrics not set")
	}

	// The mock documents are real: their zip downloads, reads back as the
	// same document, and its files are served.
	w := ts.get("/epr/mock_logs/mock_logs-1.0.0.zip")
	if w.Code != 200 || w.Header().Get("Content-Type") != "application/zip" || w.Header().Get("X-Package-Source") != "mock" {
		t.Fatalf("mock zip: %d %v", w.Code, w.Header())
	}
	doc, _, err := packages.ReadBytes(w.Body.Bytes(), packages.Options{})
	if err != nil {
		t.Fatalf("mock zip does not read: %v", err)
	}
	want, _ := packages.Encode(doc)
	if got := ts.get("/package/mock_logs/1.0.0/"); got.Body.String() != string(want) {
		t.Errorf("mock document differs from its zip:\n%s\n%s", got.Body.String(), want)
	}
	zr, err := zip.NewReader(bytes.NewReader(w.Body.Bytes()), int64(w.Body.Len()))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range zr.File {
		if !strings.HasPrefix(f.Name, "mock_logs-1.0.0/") {
			t.Errorf("zip entry %q outside the package folder", f.Name)
		}
	}
	for _, asset := range doc.Assets {
		w := ts.get(asset)
		if w.Code != 200 || w.Header().Get("X-Package-Source") != "mock" {
			t.Errorf("%s: %d", asset, w.Code)
		}
	}
	if w := ts.get("/package/mock_logs/1.0.0/docs/README.md"); !strings.Contains(w.Body.String(), "built-in mock") ||
		w.Header().Get("Content-Type") != "text/markdown; charset=utf-8" {
		t.Errorf("mock readme: %q", w.Body.String())
	}
	if w := ts.get("/package/mock_input/0.1.0/img/icon.svg"); w.Code != 200 || w.Header().Get("Content-Type") != "image/svg+xml" {
		t.Errorf("mock icon: %d", w.Code)
	}
	if w := ts.get("/epr/mock_logs/mock_logs-1.0.0.zip.sig"); w.Code != 404 {
		t.Errorf("mock signature: %d", w.Code)
	}
	cached := ts.get("/search")
	etag := cached.Header().Get("Etag")

	// The first real package replaces the mocks at once.
	real := specRecord(t, ts.blobs, fixtureSpecs()[0].spec, true)
	ts.Apply([]index.Change{{Key: real.Key(), Record: real}})
	for _, target := range []string{"/", "/search", "/nope", "/package/acme_logs/1.2.0/docs/README.md"} {
		if got := ts.get(target).Header().Get("X-Package-Source"); got != "" {
			t.Errorf("%s still marked mock: %q", target, got)
		}
	}
	if names := searchNames(t, ts, "/search"); strings.Join(names, " ") != "acme_logs@1.2.0" {
		t.Errorf("after first package: %v", names)
	}
	if w := ts.get("/search", "If-None-Match", etag); w.Code != 200 {
		t.Errorf("mock ETag still matches real results: %d", w.Code)
	}
	for _, target := range []string{"/package/mock_logs/1.0.0/", "/epr/mock_logs/mock_logs-1.0.0.zip", "/package/mock_logs/1.0.0/docs/README.md"} {
		if w := ts.get(target); w.Code != 404 {
			t.Errorf("%s after real package: %d", target, w.Code)
		}
	}
	if testutil.ToFloat64(ts.metrics.mockMode) != 0 || testutil.ToFloat64(ts.metrics.indexed) != 1 {
		t.Error("metrics not updated on leaving mock mode")
	}

	// Emptied again: the mocks return.
	ts.Apply([]index.Change{{Key: real.Key()}})
	if names := searchNames(t, ts, "/search"); strings.Join(names, " ") != "mock_input@0.1.0 mock_logs@1.0.0" {
		t.Errorf("after delete: %v", names)
	}
	if got := ts.get("/search").Header().Get("X-Package-Source"); got != "mock" {
		t.Error("mock header missing after the index emptied")
	}
	ts.Load([]*index.Record{real})
	ts.Reset()
	if got := ts.get("/search").Header().Get("X-Package-Source"); got != "mock" {
		t.Error("mock header missing after Reset")
	}
}

func TestMockFallbackOff(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MockFallback = false
	ts := newTestServer(t, cfg, true)
	for target, body := range map[string]string{"/search": "[]", "/categories": "[]\n"} {
		w := ts.get(target)
		if w.Code != 200 || w.Body.String() != body || w.Header().Get("X-Package-Source") != "" {
			t.Errorf("%s: %d %q %v", target, w.Code, w.Body.String(), w.Header())
		}
	}
	if w := ts.get("/package/mock_logs/1.0.0/"); w.Code != 404 {
		t.Errorf("mock package served with the fallback off: %d", w.Code)
	}
	if testutil.ToFloat64(ts.metrics.mockMode) != 0 {
		t.Error("mock mode metric set")
	}
}

// The mock zips are built deterministically: same bytes, same ETag, on
// every replica.
func TestMockDeterministic(t *testing.T) {
	a, za, err := mockPackages(mockTime)
	if err != nil {
		t.Fatal(err)
	}
	b, zb, _ := mockPackages(mockTime)
	for i := range a {
		if a[i].Zip.Digest != b[i].Zip.Digest || !bytes.Equal(za[a[i].Zip.Digest], zb[b[i].Zip.Digest]) {
			t.Errorf("%s: zip differs between builds", a[i].Name)
		}
		zr, _ := zip.NewReader(bytes.NewReader(za[a[i].Zip.Digest]), a[i].Zip.Size)
		f, _ := zr.File[0].Open()
		_, _ = io.Copy(io.Discard, f)
	}
}
