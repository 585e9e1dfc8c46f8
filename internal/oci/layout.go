package oci

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	orasoci "oras.land/oras-go/v2/content/oci"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry"
)

// Layout reads packages from an OCI image layout directory (what `oras cp --to-oci-layout` or
// cmd/mirror -to-oci-layout write) as if it were one repository of a registry: the single
// repository layout, tags <name>-<version>. It is what the indexer reads with -oci-layout, for
// a site without any registry. index.json is read again at every listing, so the periodic
// resync picks up what was added to the directory.
type Layout struct {
	dir        string
	repository string
	mu         sync.Mutex
	store      *orasoci.ReadOnlyStore
}

// OpenLayout opens dir, to be served as repository.
func OpenLayout(dir, repository string) (*Layout, error) {
	l := &Layout{dir: dir, repository: repository}
	if err := l.reload(context.Background()); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *Layout) reload(ctx context.Context) error {
	s, err := orasoci.NewFromFS(ctx, os.DirFS(l.dir))
	if err != nil {
		return fmt.Errorf("oci: layout %s: %w", l.dir, err)
	}
	l.mu.Lock()
	l.store = s
	l.mu.Unlock()
	return nil
}

func (l *Layout) current() *orasoci.ReadOnlyStore {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.store
}

// Host names the layout in logs.
func (l *Layout) Host() string { return "oci-layout:" + l.dir }

// Repositories is the one repository the layout is served as.
func (l *Layout) Repositories(context.Context) ([]string, error) { return []string{l.repository}, nil }

// Tags lists the layout's tags, reading index.json again.
func (l *Layout) Tags(ctx context.Context, repository string) ([]string, error) {
	if repository != l.repository {
		return nil, nil
	}
	if err := l.reload(ctx); err != nil {
		return nil, err
	}
	var tags []string
	err := l.current().Tags(ctx, "", func(page []string) error {
		tags = append(tags, page...)
		return nil
	})
	return tags, err
}

// Resolve finds a tag's manifest.
func (l *Layout) Resolve(ctx context.Context, repository, tag string) (ocispec.Descriptor, error) {
	if repository != l.repository {
		return ocispec.Descriptor{}, fmt.Errorf("oci: layout serves %s, not %s: %w", l.repository, repository, errdef.ErrNotFound)
	}
	return l.current().Resolve(ctx, tag)
}

// FetchManifest reads and checks a package manifest, as Client.FetchManifest does.
func (l *Layout) FetchManifest(ctx context.Context, repository string, desc ocispec.Descriptor) (ocispec.Manifest, []byte, error) {
	return fetchManifest(repository, desc, func() (io.ReadCloser, error) { return l.current().Fetch(ctx, desc) })
}

// FetchBlob opens a blob; BlobCache verifies what it reads.
func (l *Layout) FetchBlob(ctx context.Context, repository string, desc ocispec.Descriptor) (io.ReadCloser, error) {
	rc, err := l.current().Fetch(ctx, desc)
	if err != nil {
		return nil, fmt.Errorf("oci: blob %s@%s: %w", repository, desc.Digest, err)
	}
	return rc, nil
}

// SignatureOf returns the signature attached to subject as a referrer in the layout, or nil.
func (l *Layout) SignatureOf(ctx context.Context, repository string, subject ocispec.Descriptor) (*ocispec.Descriptor, error) {
	refs, err := registry.Referrers(ctx, l.current(), subject, MediaTypeSignature)
	if err != nil {
		if errors.Is(err, errdef.ErrNotFound) {
			return nil, nil
		}
		return nil, err
	}
	if len(refs) == 0 {
		return nil, nil
	}
	pick := newestReferrer(refs)
	m, _, err := l.FetchManifest(ctx, repository, pick)
	if err != nil {
		return nil, err
	}
	return signatureOf(repository, pick, m)
}
