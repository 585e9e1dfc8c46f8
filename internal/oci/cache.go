package oci

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/singleflight"
)

// BlobFetcher opens a blob of a repository. *Client is one.
type BlobFetcher interface {
	FetchBlob(ctx context.Context, repository string, desc ocispec.Descriptor) (io.ReadCloser, error)
}

// DefaultFetchTimeout bounds one download. A download outlives the request that started it
// (others may be waiting for it, and finishing it fills the cache), so something else must
// stop a registry that stalls mid-body.
const DefaultFetchTimeout = 10 * time.Minute

// staleTempAge is how old a temporary file must be before NewBlobCache removes it: older ones
// are left over by a crash, younger ones may belong to another process sharing the directory.
const staleTempAge = time.Hour

// BlobCache is a digest-addressed directory of verified blobs:
// <dir>/blobs/<algorithm>/<encoded digest>. A file is there only once its content matched its
// digest and size and was fsynced, so a present file is always complete and right, survives
// restarts, and costs no request. Downloads go to <dir>/tmp and are renamed into place, which
// is atomic because both are on one filesystem. It is safe for concurrent use, also by several
// processes sharing the directory.
type BlobCache struct {
	dir          string
	maxBlobBytes int64
	// FetchTimeout bounds each download; DefaultFetchTimeout unless changed before use.
	FetchTimeout time.Duration

	flights singleflight.Group
	stats   counters
}

// CacheStats are the cache's counters since it was created.
type CacheStats struct {
	Hits      uint64 // Fetch calls served from disk without a request
	Misses    uint64 // Fetch calls that waited for a download (their own or a shared one)
	Downloads uint64 // downloads started; concurrent misses of one digest share one
	Bytes     uint64 // bytes downloaded and verified
	Failures  uint64 // downloads that failed (network, size, digest)
}

type counters struct {
	hits, misses, downloads, bytes, failures atomic.Uint64
}

// NewBlobCache opens (creating if needed) a cache in dir that refuses blobs larger than
// maxBlobBytes.
func NewBlobCache(dir string, maxBlobBytes int64) (*BlobCache, error) {
	if maxBlobBytes <= 0 {
		return nil, errors.New("oci: blob cache: maxBlobBytes must be positive")
	}
	for _, d := range []string{filepath.Join(dir, "blobs"), filepath.Join(dir, "tmp")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("oci: blob cache: %w", err)
		}
	}
	c := &BlobCache{dir: dir, maxBlobBytes: maxBlobBytes, FetchTimeout: DefaultFetchTimeout}
	c.removeStaleTemps()
	return c, nil
}

func (c *BlobCache) removeStaleTemps() {
	entries, err := os.ReadDir(c.tmpDir())
	if err != nil {
		return
	}
	for _, e := range entries {
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > staleTempAge {
			_ = os.Remove(filepath.Join(c.tmpDir(), e.Name()))
		}
	}
}

func (c *BlobCache) tmpDir() string { return filepath.Join(c.dir, "tmp") }

// path is where a digest lives. Validate first: it guarantees the encoded part is hex of the
// right length, so a digest from a manifest cannot name a path outside the cache.
func (c *BlobCache) path(d digest.Digest) (string, error) {
	if err := d.Validate(); err != nil {
		return "", fmt.Errorf("oci: blob cache: %w", err)
	}
	return filepath.Join(c.dir, "blobs", d.Algorithm().String(), d.Encoded()), nil
}

// Path returns the file of a cached blob, and whether it is cached.
func (c *BlobCache) Path(d digest.Digest) (string, bool) {
	p, err := c.path(d)
	if err != nil {
		return "", false
	}
	info, err := os.Stat(p)
	if err != nil || !info.Mode().IsRegular() {
		return "", false
	}
	return p, true
}

// Open opens a cached blob for serving. A blob that is not cached gives an error wrapping
// fs.ErrNotExist.
func (c *BlobCache) Open(d digest.Digest) (*os.File, error) {
	p, err := c.path(d)
	if err != nil {
		return nil, err
	}
	return os.Open(p)
}

// Fetch returns the file of the blob desc describes, downloading it from repository first if
// it is not cached. The download is verified against desc's digest and size; a blob larger
// than the cache's bound is refused before any request (by desc.Size) and while reading (in
// case the registry sends more). Concurrent Fetch calls for one digest share one download.
// Nothing is left in the cache directory when a download fails.
func (c *BlobCache) Fetch(ctx context.Context, fetcher BlobFetcher, repository string, desc ocispec.Descriptor) (string, error) {
	p, err := c.path(desc.Digest)
	if err != nil {
		return "", err
	}
	if desc.Size < 0 || desc.Size > c.maxBlobBytes {
		return "", fmt.Errorf("oci: blob %s: %w: %d bytes, the limit is %d", desc.Digest, ErrTooLarge, desc.Size, c.maxBlobBytes)
	}
	if _, ok := c.Path(desc.Digest); ok {
		c.stats.hits.Add(1)
		return p, nil
	}
	c.stats.misses.Add(1)
	// The download runs detached from ctx: callers that share it must not fail because the
	// first one went away, and a finished download still serves the next request. Each caller
	// stops waiting on its own ctx.
	ch := c.flights.DoChan(desc.Digest.String(), func() (any, error) {
		timeout := c.FetchTimeout
		if timeout <= 0 {
			timeout = DefaultFetchTimeout
		}
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
		defer cancel()
		return p, c.download(dctx, fetcher, repository, desc, p)
	})
	select {
	case <-ctx.Done():
		return "", ctx.Err()
	case r := <-ch:
		if r.Err != nil {
			return "", r.Err
		}
		return p, nil
	}
}

// download fetches desc into final via a temporary file, unless another flight (in this or
// another process) has put it there meanwhile.
func (c *BlobCache) download(ctx context.Context, fetcher BlobFetcher, repository string, desc ocispec.Descriptor, final string) (err error) {
	if _, ok := c.Path(desc.Digest); ok {
		return nil
	}
	c.stats.downloads.Add(1)
	defer func() {
		if err != nil {
			c.stats.failures.Add(1)
			err = fmt.Errorf("oci: blob %s@%s: %w", repository, desc.Digest, err)
		}
	}()
	rc, err := fetcher.FetchBlob(ctx, repository, desc)
	if err != nil {
		return err
	}
	defer rc.Close()

	tmp, err := os.CreateTemp(c.tmpDir(), "blob-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	verifier := desc.Digest.Verifier()
	// Reading one byte past the announced size catches a registry that sends more, so the
	// disk use is bounded by desc.Size (itself bounded by maxBlobBytes) whatever it sends.
	n, err := io.Copy(io.MultiWriter(tmp, verifier), io.LimitReader(rc, desc.Size+1))
	if err != nil {
		return err
	}
	if n != desc.Size {
		return fmt.Errorf("%w: got %s bytes, expected %d", ErrDigestMismatch, atLeast(n, desc.Size), desc.Size)
	}
	if !verifier.Verified() {
		return fmt.Errorf("%w: content does not match", ErrDigestMismatch)
	}
	// fsync before rename: after a crash the name must never point at a file whose data
	// did not reach the disk.
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	if err = os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), final); err != nil {
		return err
	}
	c.stats.bytes.Add(uint64(n))
	syncDir(filepath.Dir(final))
	return nil
}

// syncDir makes a rename durable. Best effort: some filesystems refuse fsync on directories,
// and the blob can always be downloaded again.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// Stats returns the counters.
func (c *BlobCache) Stats() CacheStats {
	return CacheStats{
		Hits:      c.stats.hits.Load(),
		Misses:    c.stats.misses.Load(),
		Downloads: c.stats.downloads.Load(),
		Bytes:     c.stats.bytes.Load(),
		Failures:  c.stats.failures.Load(),
	}
}

// RegisterMetrics exposes the counters as prometheus counters (oci_blob_cache_*_total). A nil
// registerer registers nothing.
func (c *BlobCache) RegisterMetrics(reg prometheus.Registerer) error {
	if reg == nil {
		return nil
	}
	for _, m := range []struct {
		name, help string
		v          *atomic.Uint64
	}{
		{"oci_blob_cache_hits_total", "Blob fetches served from the disk cache without a registry request.", &c.stats.hits},
		{"oci_blob_cache_misses_total", "Blob fetches that waited for a download.", &c.stats.misses},
		{"oci_blob_cache_downloads_total", "Blob downloads started (concurrent misses of one digest share one).", &c.stats.downloads},
		{"oci_blob_cache_downloaded_bytes_total", "Bytes downloaded and verified into the blob cache.", &c.stats.bytes},
		{"oci_blob_cache_download_failures_total", "Blob downloads that failed (network, size or digest).", &c.stats.failures},
	} {
		v := m.v
		err := reg.Register(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: m.name, Help: m.help},
			func() float64 { return float64(v.Load()) }))
		if err != nil {
			return fmt.Errorf("oci: register %s: %w", m.name, err)
		}
	}
	return nil
}
