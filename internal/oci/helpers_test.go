package oci

import (
	"archive/zip"
	"bytes"
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oci-epr/package-registry/internal/devregistry"
)

// testCtx bounds every test: a hang should fail fast, not at the global test timeout.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// startRegistry runs a real distribution registry, optionally wrapped (to fail, slow down or
// corrupt requests), closed when the test ends.
func startRegistry(t *testing.T, wrap func(http.Handler) http.Handler) *devregistry.Registry {
	t.Helper()
	reg, err := devregistry.Start(context.Background(), devregistry.Options{Handler: wrap})
	if err != nil {
		t.Fatalf("start registry: %v", err)
	}
	t.Cleanup(func() { reg.Close() })
	return reg
}

// countingTransport counts requests by method and kind of endpoint ("GET blob", "GET tags").
type countingTransport struct {
	base http.RoundTripper

	mu     sync.Mutex
	counts map[string]int
	total  int
}

func newCountingTransport() *countingTransport {
	return &countingTransport{base: http.DefaultTransport, counts: map[string]int{}}
}

func (t *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.mu.Lock()
	t.counts[req.Method+" "+endpointKind(req.URL.Path)]++
	t.total++
	t.mu.Unlock()
	return t.base.RoundTrip(req)
}

// count returns the requests of one kind, e.g. count("GET blob").
func (t *countingTransport) count(key string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.counts[key]
}

func (t *countingTransport) totalCount() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.total
}

func (t *countingTransport) reset() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.counts = map[string]int{}
	t.total = 0
}

// endpointKind classifies a distribution API path.
func endpointKind(path string) string {
	switch {
	case strings.HasSuffix(path, "/tags/list"):
		return "tags"
	case path == "/v2/_catalog":
		return "catalog"
	case strings.Contains(path, "/blobs/uploads/"):
		return "upload"
	case strings.Contains(path, "/blobs/"):
		return "blob"
	case strings.Contains(path, "/manifests/"):
		return "manifest"
	case path == "/v2/" || path == "/v2":
		return "base"
	}
	return "other"
}

// newTestClient returns a client of reg over plain HTTP whose requests ct counts (ct may be
// nil). mutate adjusts the configuration.
func newTestClient(t *testing.T, reg *devregistry.Registry, ct *countingTransport, mutate func(*Config)) *Client {
	t.Helper()
	cfg := Config{Registry: reg.URL()}
	if ct != nil {
		cfg.HTTPClient = &http.Client{Transport: ct}
	}
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

// makeZip builds a package zip with a single top-level folder.
func makeZip(t *testing.T, folder string, size int) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.Create(folder + "/manifest.yml")
	if err != nil {
		t.Fatal(err)
	}
	name, version, _ := strings.Cut(folder, "-")
	w.Write([]byte("name: " + name + "\nversion: " + version + "\n"))
	if size > 0 {
		w, err = zw.CreateHeader(&zip.FileHeader{Name: folder + "/docs/README.md", Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(bytes.Repeat([]byte("x"), size))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// pushTestPackage pushes name-version to repository:tag and returns the zip and descriptor.
func pushTestPackage(t *testing.T, c *Client, repository, tag, folder string) []byte {
	t.Helper()
	data := makeZip(t, folder, 0)
	if _, err := c.PushPackage(testCtx(t), repository, tag, data, nil, nil); err != nil {
		t.Fatalf("PushPackage: %v", err)
	}
	return data
}
