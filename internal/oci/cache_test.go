package oci

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/prometheus/client_golang/prometheus"
)

// blobTamper alters blob GET responses of the registry it wraps.
type blobTamper struct {
	mode  atomic.Int32 // tamperNone, tamperFlip, tamperExtend
	delay atomic.Int64 // nanoseconds to wait before answering a blob GET
}

const (
	tamperNone   = iota
	tamperFlip   // flip the first byte: same size, wrong digest
	tamperExtend // drop Content-Length and append bytes: more than announced
)

func (b *blobTamper) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || endpointKind(r.URL.Path) != "blob" {
			next.ServeHTTP(w, r)
			return
		}
		time.Sleep(time.Duration(b.delay.Load()))
		switch b.mode.Load() {
		case tamperFlip:
			next.ServeHTTP(&flipWriter{ResponseWriter: w}, r)
		case tamperExtend:
			ew := &extendWriter{ResponseWriter: w}
			next.ServeHTTP(ew, r)
			w.Write(bytes.Repeat([]byte("!"), 1000))
		default:
			next.ServeHTTP(w, r)
		}
	})
}

type flipWriter struct {
	http.ResponseWriter
	done bool
}

func (f *flipWriter) Write(p []byte) (int, error) {
	if !f.done && len(p) > 0 {
		f.done = true
		q := bytes.Clone(p)
		q[0] ^= 0xff
		return f.ResponseWriter.Write(q)
	}
	return f.ResponseWriter.Write(p)
}

type extendWriter struct{ http.ResponseWriter }

func (e *extendWriter) WriteHeader(code int) {
	e.Header().Del("Content-Length")
	e.ResponseWriter.WriteHeader(code)
}

// cacheFixture is a registry holding one package, a client counting its requests, and a cache.
type cacheFixture struct {
	tamper *blobTamper
	ct     *countingTransport
	client *Client
	cache  *BlobCache
	dir    string
	zip    []byte
	desc   ocispec.Descriptor // the zip layer
}

func newCacheFixture(t *testing.T, zipSize int, maxBlobBytes int64) *cacheFixture {
	t.Helper()
	f := &cacheFixture{tamper: &blobTamper{}, ct: newCountingTransport(), dir: t.TempDir()}
	reg := startRegistry(t, f.tamper.wrap)
	f.client = newTestClient(t, reg, f.ct, nil)
	f.zip = makeZip(t, "nginx-1.0.0", zipSize)
	pushed, err := f.client.PushPackage(testCtx(t), "packages/nginx", "1.0.0", f.zip, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	m, _, err := f.client.FetchManifest(testCtx(t), "packages/nginx", pushed)
	if err != nil {
		t.Fatal(err)
	}
	if f.desc, _, err = PickLayers(m); err != nil {
		t.Fatal(err)
	}
	if f.cache, err = NewBlobCache(f.dir, maxBlobBytes); err != nil {
		t.Fatal(err)
	}
	f.ct.reset()
	return f
}

// files lists the regular files under the cache directory.
func (f *cacheFixture) files(t *testing.T) []string {
	t.Helper()
	var files []string
	filepath.WalkDir(f.dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			files = append(files, p)
		}
		return err
	})
	return files
}

func TestBlobCacheFetch(t *testing.T) {
	f := newCacheFixture(t, 64<<10, 1<<20)
	ctx := testCtx(t)
	if _, ok := f.cache.Path(f.desc.Digest); ok {
		t.Fatal("blob cached before any fetch")
	}
	p, err := f.cache.Fetch(ctx, f.client, "packages/nginx", f.desc)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(p); !bytes.Equal(got, f.zip) {
		t.Fatal("cached file differs from the pushed zip")
	}
	if n := f.ct.count("GET blob"); n != 1 {
		t.Errorf("blob GETs = %d, want 1", n)
	}
	if files := f.files(t); len(files) != 1 || files[0] != p {
		t.Errorf("cache directory holds %v, want only %s", files, p)
	}

	// Present digests cost nothing, whatever the repository asked for.
	f.ct.reset()
	for _, repo := range []string{"packages/nginx", "packages/other"} {
		p2, err := f.cache.Fetch(ctx, f.client, repo, f.desc)
		if err != nil || p2 != p {
			t.Fatalf("second Fetch = %s, %v", p2, err)
		}
	}
	if n := f.ct.totalCount(); n != 0 {
		t.Errorf("cached Fetch made %d requests, want 0", n)
	}
	if got, ok := f.cache.Path(f.desc.Digest); !ok || got != p {
		t.Errorf("Path = %s, %t", got, ok)
	}
	file, err := f.cache.Open(f.desc.Digest)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(file)
	file.Close()
	if !bytes.Equal(got, f.zip) {
		t.Error("Open reads other bytes")
	}
	if _, err := f.cache.Open(digest.FromString("absent")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open of an absent blob: want fs.ErrNotExist, got %v", err)
	}

	// A new cache over the same directory (a restart) still has it.
	reopened, err := NewBlobCache(f.dir, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := reopened.Path(f.desc.Digest); !ok {
		t.Error("blob lost across reopen")
	}
	want := CacheStats{Hits: 2, Misses: 1, Downloads: 1, Bytes: uint64(len(f.zip))}
	if s := f.cache.Stats(); s != want {
		t.Errorf("Stats = %+v, want %+v", s, want)
	}
}

func TestBlobCacheRejectsTamperedBlobs(t *testing.T) {
	f := newCacheFixture(t, 1000, 1<<20)
	for _, tt := range []struct {
		name string
		mode int32
	}{{"flipped byte", tamperFlip}, {"more bytes than announced, no Content-Length", tamperExtend}} {
		t.Run(tt.name, func(t *testing.T) {
			f.tamper.mode.Store(tt.mode)
			f.ct.reset()
			_, err := f.cache.Fetch(testCtx(t), f.client, "packages/nginx", f.desc)
			if !errors.Is(err, ErrDigestMismatch) {
				t.Fatalf("want ErrDigestMismatch, got %v", err)
			}
			if n := f.ct.count("GET blob"); n != 1 {
				t.Errorf("blob GETs = %d, want 1", n)
			}
			if files := f.files(t); len(files) != 0 {
				t.Errorf("a failed download left %v", files)
			}
			if _, ok := f.cache.Path(f.desc.Digest); ok {
				t.Error("a tampered blob is cached")
			}
		})
	}
	// The failure is not remembered: once the registry behaves, the blob arrives.
	f.tamper.mode.Store(tamperNone)
	if _, err := f.cache.Fetch(testCtx(t), f.client, "packages/nginx", f.desc); err != nil {
		t.Fatal(err)
	}
	if s := f.cache.Stats(); s.Failures != 2 || s.Downloads != 3 {
		t.Errorf("Stats = %+v, want 2 failures of 3 downloads", s)
	}
}

func TestBlobCacheBounds(t *testing.T) {
	f := newCacheFixture(t, 10<<10, 1<<20)
	ctx := testCtx(t)
	small, err := NewBlobCache(t.TempDir(), f.desc.Size-1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := small.Fetch(ctx, f.client, "packages/nginx", f.desc); !errors.Is(err, ErrTooLarge) {
		t.Errorf("want ErrTooLarge, got %v", err)
	}
	for _, bad := range []ocispec.Descriptor{
		{Digest: "sha256:../../../../etc/passwd", Size: 1},
		{Digest: "md5:d41d8cd98f00b204e9800998ecf8427e", Size: 1},
		{Digest: f.desc.Digest, Size: -1},
	} {
		if _, err := f.cache.Fetch(ctx, f.client, "packages/nginx", bad); err == nil {
			t.Errorf("Fetch(%+v): want error", bad)
		}
	}
	if n := f.ct.totalCount(); n != 0 {
		t.Errorf("refused fetches made %d requests, want 0", n)
	}
	// A descriptor announcing fewer bytes than the registry has is refused too.
	short := f.desc
	short.Size--
	if _, err := f.cache.Fetch(ctx, f.client, "packages/nginx", short); err == nil {
		t.Error("a blob longer than its descriptor was accepted")
	}
	if files := f.files(t); len(files) != 0 {
		t.Errorf("cache directory holds %v", files)
	}
}

func TestBlobCacheConcurrentFetchDownloadsOnce(t *testing.T) {
	f := newCacheFixture(t, 256<<10, 1<<20)
	// Slow the download so that every caller arrives while it runs.
	f.tamper.delay.Store(int64(200 * time.Millisecond))
	ctx := testCtx(t)
	var wg sync.WaitGroup
	paths := make([]string, 20)
	errs := make([]error, 20)
	for i := range paths {
		wg.Go(func() { paths[i], errs[i] = f.cache.Fetch(ctx, f.client, "packages/nginx", f.desc) })
	}
	wg.Wait()
	for i := range paths {
		if errs[i] != nil || paths[i] != paths[0] {
			t.Fatalf("Fetch %d = %s, %v", i, paths[i], errs[i])
		}
	}
	if n := f.ct.count("GET blob"); n != 1 {
		t.Errorf("blob GETs = %d, want exactly 1", n)
	}
	if s := f.cache.Stats(); s.Downloads != 1 || s.Hits+s.Misses != 20 {
		t.Errorf("Stats = %+v", s)
	}
}

// TestBlobCacheCallerCancelDoesNotAbortDownload: a caller that gives up stops waiting, but the
// shared download completes for the others (and for the next request).
func TestBlobCacheCallerCancelDoesNotAbortDownload(t *testing.T) {
	f := newCacheFixture(t, 1000, 1<<20)
	// The caller's deadline must pass well before the download ends, even when a saturated
	// machine leaves the waiting goroutine unscheduled for a while: seconds, not milliseconds.
	f.tamper.delay.Store(int64(3 * time.Second))
	ctx := testCtx(t)
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := f.cache.Fetch(short, f.client, "packages/nginx", f.desc); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want DeadlineExceeded, got %v", err)
	}
	if _, err := f.cache.Fetch(ctx, f.client, "packages/nginx", f.desc); err != nil {
		t.Fatal(err)
	}
	if n := f.ct.count("GET blob"); n != 1 {
		t.Errorf("blob GETs = %d, want 1 shared download", n)
	}
}

func TestBlobCacheMetrics(t *testing.T) {
	f := newCacheFixture(t, 0, 1<<20)
	reg := prometheus.NewRegistry()
	if err := f.cache.RegisterMetrics(reg); err != nil {
		t.Fatal(err)
	}
	if err := f.cache.RegisterMetrics(nil); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := f.cache.Fetch(testCtx(t), f.client, "packages/nginx", f.desc); err != nil {
			t.Fatal(err)
		}
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range families {
		got[mf.GetName()] = mf.GetMetric()[0].GetCounter().GetValue()
	}
	want := map[string]float64{
		"oci_blob_cache_hits_total": 1, "oci_blob_cache_misses_total": 1, "oci_blob_cache_downloads_total": 1,
		"oci_blob_cache_downloaded_bytes_total": float64(len(f.zip)), "oci_blob_cache_download_failures_total": 0,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
}

func TestNewBlobCacheRemovesStaleTemps(t *testing.T) {
	dir := t.TempDir()
	if _, err := NewBlobCache(dir, 1); err != nil {
		t.Fatal(err)
	}
	stale, fresh := filepath.Join(dir, "tmp", "blob-stale"), filepath.Join(dir, "tmp", "blob-fresh")
	for _, p := range []string{stale, fresh} {
		os.WriteFile(p, []byte("x"), 0o600)
	}
	old := time.Now().Add(-2 * staleTempAge)
	os.Chtimes(stale, old, old)
	if _, err := NewBlobCache(dir, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, fs.ErrNotExist) {
		t.Error("stale temporary file kept")
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Error("fresh temporary file (maybe another process's download) removed")
	}
	if _, err := NewBlobCache(dir, 0); err == nil || !strings.Contains(err.Error(), "positive") {
		t.Errorf("NewBlobCache with no bound: %v", err)
	}
}
