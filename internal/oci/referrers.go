package oci

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
)

// Referrers lists the manifests of repository whose subject is subject, keeping those of
// artifactType (all when empty). Registries without the OCI 1.1 referrers API are read through
// the referrers tag schema (the sha256-<hex> index tag), as oras-go does. The listing is
// bounded in referrers of any type and in pages (limits.go): the filter is applied here, not
// asked of the registry, so that referrers of other types count too.
func (c *Client) Referrers(ctx context.Context, repository string, subject ocispec.Descriptor, artifactType string) ([]ocispec.Descriptor, error) {
	repo, err := c.repository(ctx, repository)
	if err != nil {
		return nil, err
	}
	var out []ocispec.Descriptor
	seen := 0
	err = repo.Referrers(ctx, subject, "", func(page []ocispec.Descriptor) error {
		if seen += len(page); seen > maxReferrers {
			return &LimitError{Bound: "referrers", Limit: maxReferrers}
		}
		for _, d := range page {
			if artifactType == "" || d.ArtifactType == artifactType {
				out = append(out, d)
			}
		}
		return nil
	})
	if err = pagesLimit(err, "referrer_pages", maxReferrerPages); err != nil {
		return nil, fmt.Errorf("oci: referrers of %s@%s: %w", repository, subject.Digest, err)
	}
	return out, nil
}

// SignatureOf returns the detached signature attached to subject as a referrer (artifact type
// application/pgp-signature): the signature layer of the newest such referrer, or nil when there
// is none.
func (c *Client) SignatureOf(ctx context.Context, repository string, subject ocispec.Descriptor) (*ocispec.Descriptor, error) {
	refs, err := c.Referrers(ctx, repository, subject, MediaTypeSignature)
	if err != nil || len(refs) == 0 {
		return nil, err
	}
	m, _, err := c.FetchManifest(ctx, repository, newestReferrer(refs))
	if err != nil {
		return nil, err
	}
	return signatureOf(repository, newestReferrer(refs), m)
}

// newestReferrer picks among referrers: listings have no order, so the one created last when
// they say so, else the last listed.
func newestReferrer(refs []ocispec.Descriptor) ocispec.Descriptor {
	pick := refs[len(refs)-1]
	for _, r := range refs {
		if r.Annotations[ocispec.AnnotationCreated] > pick.Annotations[ocispec.AnnotationCreated] {
			pick = r
		}
	}
	return pick
}

// signatureOf is the signature blob of the signature referrer m (ref).
func signatureOf(repository string, ref ocispec.Descriptor, m ocispec.Manifest) (*ocispec.Descriptor, error) {
	if sig := SignatureLayer(m); sig != nil {
		return sig, nil
	}
	return nil, fmt.Errorf("oci: signature referrer %s@%s has no %s layer", repository, ref.Digest, MediaTypeSignature)
}

// SignatureLayer is the signature blob of a signature referrer: its application/pgp-signature
// layer, or its only layer (generic tools such as `oras attach` label files as they like). It is
// nil for manifests that are not signature referrers.
func SignatureLayer(m ocispec.Manifest) *ocispec.Descriptor {
	if m.Subject == nil || m.ArtifactType != MediaTypeSignature && m.Config.MediaType != MediaTypeSignature {
		return nil
	}
	for _, l := range m.Layers {
		if l.MediaType == MediaTypeSignature {
			return &l
		}
	}
	if len(m.Layers) == 1 {
		return &m.Layers[0]
	}
	return nil
}

// PushSignature attaches sig to subject as a referrer, the way signing tools do: a manifest with
// artifact type application/pgp-signature, subject set and the signature as its one layer. For
// tests and the dev stack.
func (c *Client) PushSignature(ctx context.Context, repository string, subject ocispec.Descriptor, sig []byte) (ocispec.Descriptor, error) {
	repo, err := c.repository(ctx, repository)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	fail := func(err error) (ocispec.Descriptor, error) {
		return ocispec.Descriptor{}, fmt.Errorf("oci: push signature of %s@%s: %w", repository, subject.Digest, err)
	}
	config := ocispec.DescriptorEmptyJSON
	sigDesc := content.NewDescriptorFromBytes(MediaTypeSignature, sig)
	for _, b := range []struct {
		desc ocispec.Descriptor
		data []byte
	}{{config, config.Data}, {sigDesc, sig}} {
		if err := pushBlob(ctx, repo, b.desc, b.data); err != nil {
			return fail(err)
		}
	}
	subj := ocispec.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size}
	m := ocispec.Manifest{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: MediaTypeSignature,
		Config:       config,
		Layers:       []ocispec.Descriptor{sigDesc},
		Subject:      &subj,
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return fail(err)
	}
	desc := content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, raw)
	// oras-go maintains the referrers tag schema itself when the registry lacks the API.
	if err := repo.Manifests().Push(ctx, desc, bytes.NewReader(raw)); err != nil {
		return fail(err)
	}
	desc.ArtifactType = MediaTypeSignature
	return desc, nil
}
