package mirror

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content/oci"
	"oras.land/oras-go/v2/errdef"

	ocireg "github.com/oci-epr/package-registry/internal/oci"
	"github.com/oci-epr/package-registry/internal/ref"
)

// Destination is where versions are copied to.
type Destination interface {
	// Manifest returns the manifest held for name@version and its digest, nil when there is
	// none.
	Manifest(ctx context.Context, name, version string) (*ocispec.Manifest, digest.Digest, error)
	// Push stores the package artifact (ocireg.BuildPackage) for name@version and returns its
	// manifest digest (what -wait waits to see served).
	Push(ctx context.Context, name, version string, zipData, sig []byte, annotations map[string]string) (digest.Digest, error)
}

// Registry writes into an OCI registry in the per-package layout, <base>/<name>:<version>.
func Registry(c *ocireg.Client, base string) Destination {
	if base == "" {
		base = "packages"
	}
	return registryDest{c: c, base: base}
}

type registryDest struct {
	c    *ocireg.Client
	base string
}

func (d registryDest) Manifest(ctx context.Context, name, version string) (*ocispec.Manifest, digest.Digest, error) {
	r := ref.Ref{Name: name, Version: version}
	repo := r.Repository(d.base)
	desc, err := d.c.Resolve(ctx, repo, r.Tag())
	if errors.Is(err, ocireg.ErrNotFound) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", err
	}
	m, _, err := d.c.FetchManifest(ctx, repo, desc)
	if err != nil {
		return nil, "", err
	}
	return &m, desc.Digest, nil
}

func (d registryDest) Push(ctx context.Context, name, version string, zipData, sig []byte, annotations map[string]string) (digest.Digest, error) {
	r := ref.Ref{Name: name, Version: version}
	desc, err := d.c.PushPackage(ctx, r.Repository(d.base), r.Tag(), zipData, sig, annotations)
	return desc.Digest, err
}

// Layout writes into an OCI image layout directory (what `oras cp --to-oci-layout` writes),
// created when missing. A layout is one repository, so versions are tagged as in the single
// repository layout, <name>-<version>: `oras cp --from-oci-layout DIR:<name>-<version>
// registry/packages:<name>-<version>` then gives what the indexer reads.
func Layout(dir string) (Destination, error) {
	s, err := oci.New(dir)
	if err != nil {
		return nil, fmt.Errorf("mirror: OCI layout %s: %w", dir, err)
	}
	return layoutDest{s: s}, nil
}

type layoutDest struct{ s *oci.Store }

func (d layoutDest) Manifest(ctx context.Context, name, version string) (*ocispec.Manifest, digest.Digest, error) {
	desc, err := d.s.Resolve(ctx, ref.Ref{Name: name, Version: version}.SingleTag())
	if errors.Is(err, errdef.ErrNotFound) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", err
	}
	if desc.Size > ocireg.MaxManifestBytes {
		return nil, "", fmt.Errorf("manifest of %d bytes", desc.Size)
	}
	rc, err := d.s.Fetch(ctx, desc)
	if err != nil {
		return nil, "", err
	}
	defer rc.Close()
	raw, err := io.ReadAll(rc)
	if err != nil {
		return nil, "", err
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, "", err
	}
	return &m, desc.Digest, nil
}

func (d layoutDest) Push(ctx context.Context, name, version string, zipData, sig []byte, annotations map[string]string) (digest.Digest, error) {
	manifest, blobs, err := ocireg.BuildPackage(zipData, sig, annotations)
	if err != nil {
		return "", err
	}
	for _, b := range append(blobs, manifest) {
		// Two versions can share a blob (the empty config); whoever stores it first wins.
		if err := d.s.Push(ctx, b.Desc, bytes.NewReader(b.Data)); err != nil && !errors.Is(err, errdef.ErrAlreadyExists) {
			return "", err
		}
	}
	return manifest.Desc.Digest, d.s.Tag(ctx, manifest.Desc, ref.Ref{Name: name, Version: version}.SingleTag())
}
