package oci

import (
	"context"
	"errors"
	"os"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Blobs is the one way the indexer and the API get at package zips and signatures: by digest,
// from the on-disk cache, downloading through Fetcher on first use. An API in the same process
// as the indexer shares its Blobs, so a zip fetched to be parsed is not fetched again to be
// served.
type Blobs struct {
	Cache   *BlobCache
	Fetcher BlobFetcher
}

// Fetch returns the cached file of desc, downloading it from repository first if needed.
func (b *Blobs) Fetch(ctx context.Context, repository string, desc ocispec.Descriptor) (string, error) {
	return b.Cache.Fetch(ctx, b.Fetcher, repository, desc)
}

// Open opens desc's blob for serving and says whether it was already cached (no download).
func (b *Blobs) Open(ctx context.Context, repository string, desc ocispec.Descriptor) (f *os.File, cached bool, err error) {
	if _, ok := b.Cache.Path(desc.Digest); ok {
		f, err := b.Cache.Open(desc.Digest)
		if err == nil || !errors.Is(err, os.ErrNotExist) {
			return f, true, err
		}
		// Removed between the two calls (another process pruned it): download it again.
	}
	if _, err := b.Fetch(ctx, repository, desc); err != nil {
		return nil, false, err
	}
	f, err = b.Cache.Open(desc.Digest)
	return f, false, err
}
