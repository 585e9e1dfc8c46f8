package oci

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Media types of docs/artifact-layout.md.
const (
	// ArtifactType is the manifest's artifactType for a package.
	ArtifactType = "application/vnd.elastic.package.v1"
	// MediaTypePackageConfig is the optional config holding manifest.yml as JSON.
	MediaTypePackageConfig = "application/vnd.elastic.package.config.v1+json"
	// MediaTypePackageZip is the package zip layer.
	MediaTypePackageZip = "application/vnd.elastic.package.content.v1+zip"
	// MediaTypeZip is also accepted for the zip layer (what generic tools label a zip).
	MediaTypeZip = "application/zip"
	// MediaTypeSignature is the detached signature of the zip.
	MediaTypeSignature = "application/pgp-signature"
	// MediaTypeDockerManifest is Docker's schema 2 manifest, read like an OCI image manifest.
	MediaTypeDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	// MediaTypeDockerManifestList is Docker's manifest list, rejected like an OCI index.
	MediaTypeDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
)

// MaxManifestBytes bounds a manifest: a package manifest is a few hundred bytes, and the
// manifest is read into memory from whoever could push to the registry.
const MaxManifestBytes = 4 << 20

// Resolve returns the descriptor of the manifest that tag (or a digest) points to, with a
// HEAD request.
func (c *Client) Resolve(ctx context.Context, repository, tag string) (ocispec.Descriptor, error) {
	repo, err := c.repository(ctx, repository)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	desc, err := repo.Resolve(ctx, tag)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("oci: resolve %s:%s: %w", repository, tag, err)
	}
	return desc, nil
}

// FetchManifest fetches the image manifest desc describes and returns it parsed and raw. The
// raw bytes are verified against desc's digest and size, which are bounded by
// MaxManifestBytes. OCI image manifests and Docker schema 2 manifests are accepted; indexes,
// manifest lists and anything else give an error wrapping ErrUnsupportedManifest.
func (c *Client) FetchManifest(ctx context.Context, repository string, desc ocispec.Descriptor) (ocispec.Manifest, []byte, error) {
	return fetchManifest(repository, desc, func() (io.ReadCloser, error) {
		repo, err := c.repository(ctx, repository)
		if err != nil {
			return nil, err
		}
		// oras-go checks Content-Type and Content-Length against desc; readVerified checks what
		// actually arrives, which is what matters.
		return repo.Manifests().Fetch(ctx, desc)
	})
}

// fetchManifest checks desc, reads what open gives, verifies it and decodes it: the one way
// a registry's and a layout's manifests are read.
func fetchManifest(repository string, desc ocispec.Descriptor, open func() (io.ReadCloser, error)) (ocispec.Manifest, []byte, error) {
	fail := func(err error) (ocispec.Manifest, []byte, error) {
		return ocispec.Manifest{}, nil, fmt.Errorf("oci: manifest %s@%s: %w", repository, desc.Digest, err)
	}
	if err := checkManifestDescriptor(desc); err != nil {
		return fail(err)
	}
	rc, err := open()
	if err != nil {
		return fail(err)
	}
	defer rc.Close()
	raw, err := readVerified(rc, desc)
	if err != nil {
		return fail(err)
	}
	m, err := decodeManifest(raw, desc.MediaType)
	if err != nil {
		return fail(err)
	}
	return m, raw, nil
}

// checkManifestDescriptor refuses, before anything is fetched, a descriptor that cannot name a
// package manifest.
func checkManifestDescriptor(desc ocispec.Descriptor) error {
	switch desc.MediaType {
	case ocispec.MediaTypeImageManifest, MediaTypeDockerManifest:
	case ocispec.MediaTypeImageIndex, MediaTypeDockerManifestList:
		return fmt.Errorf("%w: %s is an index of several manifests, not a package artifact", ErrUnsupportedManifest, desc.MediaType)
	default:
		return fmt.Errorf("%w: media type %q is not an image manifest", ErrUnsupportedManifest, desc.MediaType)
	}
	if err := desc.Digest.Validate(); err != nil {
		return err
	}
	if desc.Size < 0 || desc.Size > MaxManifestBytes {
		return fmt.Errorf("%w: manifest of %d bytes, the limit is %d", ErrTooLarge, desc.Size, MaxManifestBytes)
	}
	return nil
}

// decodeManifest parses and checks the verified bytes of an image manifest.
func decodeManifest(raw []byte, mediaType string) (ocispec.Manifest, error) {
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return m, fmt.Errorf("%w: %w", ErrUnsupportedManifest, err)
	}
	return m, checkManifest(m, mediaType)
}

// checkManifest rejects JSON that claims the media type but is not an image manifest.
func checkManifest(m ocispec.Manifest, mediaType string) error {
	if m.SchemaVersion != 2 {
		return fmt.Errorf("%w: schemaVersion %d", ErrUnsupportedManifest, m.SchemaVersion)
	}
	if m.MediaType != "" && m.MediaType != mediaType {
		return fmt.Errorf("%w: manifest says media type %q, the registry said %q", ErrUnsupportedManifest, m.MediaType, mediaType)
	}
	if err := m.Config.Digest.Validate(); err != nil {
		return fmt.Errorf("%w: config: %w", ErrUnsupportedManifest, err)
	}
	for i, l := range m.Layers {
		if err := l.Digest.Validate(); err != nil {
			return fmt.Errorf("%w: layer %d: %w", ErrUnsupportedManifest, i, err)
		}
		if l.Size < 0 {
			return fmt.Errorf("%w: layer %d: negative size", ErrUnsupportedManifest, i)
		}
	}
	return nil
}

// readVerified reads exactly desc.Size bytes and checks their digest. It reads one byte more
// than announced so that a longer body is caught rather than silently cut.
func readVerified(r io.Reader, desc ocispec.Descriptor) ([]byte, error) {
	verifier := desc.Digest.Verifier()
	buf, err := io.ReadAll(io.TeeReader(io.LimitReader(r, desc.Size+1), verifier))
	if err != nil {
		return nil, err
	}
	if int64(len(buf)) != desc.Size {
		return nil, fmt.Errorf("%w: got %s bytes, expected %d", ErrDigestMismatch, atLeast(int64(len(buf)), desc.Size), desc.Size)
	}
	if !verifier.Verified() {
		return nil, fmt.Errorf("%w: content does not match %s", ErrDigestMismatch, desc.Digest)
	}
	return buf, nil
}

func atLeast(n, size int64) string {
	if n > size {
		return fmt.Sprintf("more than %d", size)
	}
	return fmt.Sprint(n)
}

// FetchBlob opens the blob desc describes. The stream is NOT verified: BlobCache.Fetch is
// the verified way to get a blob; this is the primitive it is built on.
func (c *Client) FetchBlob(ctx context.Context, repository string, desc ocispec.Descriptor) (io.ReadCloser, error) {
	repo, err := c.repository(ctx, repository)
	if err != nil {
		return nil, err
	}
	rc, err := repo.Blobs().Fetch(ctx, desc)
	if err != nil {
		return nil, fmt.Errorf("oci: blob %s@%s: %w", repository, desc.Digest, err)
	}
	return rc, nil
}

// ErrNoPackageLayer is PickLayers' error for a manifest with no layer that may be a package zip:
// an artifact of another kind (an image, a chart), not a broken package.
var ErrNoPackageLayer = errors.New("no package zip layer")

// PickLayers finds the package zip layer and the optional signature layer of a package
// manifest, reading leniently so that a plain `oras push` works. The zip is, by preference:
// the one layer of type MediaTypePackageZip; else the one of type application/zip; else the
// one titled "*.zip". Two candidates of the winning kind are an error: guessing would serve
// one of them arbitrarily. The signature is the layer of type MediaTypeSignature, at most one.
func PickLayers(m ocispec.Manifest) (zip ocispec.Descriptor, sig *ocispec.Descriptor, err error) {
	var byType, byZipType, byTitle, sigs []ocispec.Descriptor
	for _, l := range m.Layers {
		switch {
		case l.MediaType == MediaTypePackageZip:
			byType = append(byType, l)
		case l.MediaType == MediaTypeZip:
			byZipType = append(byZipType, l)
		case l.MediaType == MediaTypeSignature:
			sigs = append(sigs, l)
		case strings.HasSuffix(strings.ToLower(l.Annotations[ocispec.AnnotationTitle]), ".zip"):
			byTitle = append(byTitle, l)
		}
	}
	if len(sigs) > 1 {
		return ocispec.Descriptor{}, nil, fmt.Errorf("oci: manifest has %d %s layers, expected at most one", len(sigs), MediaTypeSignature)
	}
	if len(sigs) == 1 {
		sig = &sigs[0]
	}
	for _, candidates := range []struct {
		what   string
		layers []ocispec.Descriptor
	}{
		{MediaTypePackageZip + " layers", byType},
		{MediaTypeZip + " layers", byZipType},
		{"layers titled *.zip", byTitle},
	} {
		switch len(candidates.layers) {
		case 0:
			continue
		case 1:
			return candidates.layers[0], sig, nil
		default:
			return ocispec.Descriptor{}, nil, fmt.Errorf("oci: manifest has %d %s, expected one package zip", len(candidates.layers), candidates.what)
		}
	}
	return ocispec.Descriptor{}, nil, fmt.Errorf("oci: manifest has %w (%s, %s, or a layer titled *.zip)", ErrNoPackageLayer, MediaTypePackageZip, MediaTypeZip)
}
