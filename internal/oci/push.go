package oci

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/errcode"
)

// The writing side exists for tests and the dev stack: production never writes to the
// registry. It still goes through the same Client, so tests exercise the real auth and
// transport code.

// Blob is content and its descriptor.
type Blob struct {
	Desc ocispec.Descriptor
	Data []byte
}

// BuildPackage builds the package artifact docs/artifact-layout.md describes: the manifest and
// the blobs it refers to (config, zip, signature when sig is not nil). The zip layer is titled
// "<name>-<version>.zip", taken from the zip's single top-level folder; zip bytes that have no
// such folder are titled "package.zip", so tests can push broken packages. The manifest carries
// annotations, plus image title and version from the zip when not given. Nothing
// time-dependent is added, so the same input always gives the same digest.
func BuildPackage(zipData, sig []byte, annotations map[string]string) (manifest Blob, blobs []Blob, err error) {
	title := "package.zip"
	manifestAnnotations := map[string]string{}
	if folder, ok := zipFolder(zipData); ok {
		title = folder + ".zip"
		// Names match ^[a-z0-9_]+$, so the first "-" splits name from version.
		if name, version, ok := strings.Cut(folder, "-"); ok {
			manifestAnnotations[ocispec.AnnotationTitle] = name
			manifestAnnotations[ocispec.AnnotationVersion] = version
		}
	}
	for k, v := range annotations {
		manifestAnnotations[k] = v
	}

	config := ocispec.DescriptorEmptyJSON
	zipDesc := content.NewDescriptorFromBytes(MediaTypePackageZip, zipData)
	zipDesc.Annotations = map[string]string{ocispec.AnnotationTitle: title}
	blobs = []Blob{{config, config.Data}, {zipDesc, zipData}}
	layers := []ocispec.Descriptor{zipDesc}
	if sig != nil {
		sigDesc := content.NewDescriptorFromBytes(MediaTypeSignature, sig)
		sigDesc.Annotations = map[string]string{ocispec.AnnotationTitle: title + ".sig"}
		blobs = append(blobs, Blob{sigDesc, sig})
		layers = append(layers, sigDesc)
	}
	m := ocispec.Manifest{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: ArtifactType,
		Config:       config,
		Layers:       layers,
		Annotations:  manifestAnnotations,
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return Blob{}, nil, err
	}
	return Blob{content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, raw), raw}, blobs, nil
}

// PushPackage pushes the artifact BuildPackage builds and tags it (an empty tag pushes by
// digest only). sig may be nil. Pushing the same input twice gives the same digest.
func (c *Client) PushPackage(ctx context.Context, repository, tag string, zipData, sig []byte, annotations map[string]string) (ocispec.Descriptor, error) {
	repo, err := c.repository(ctx, repository)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	fail := func(err error) (ocispec.Descriptor, error) {
		return ocispec.Descriptor{}, fmt.Errorf("oci: push %s:%s: %w", repository, tag, err)
	}
	manifest, blobs, err := BuildPackage(zipData, sig, annotations)
	if err != nil {
		return fail(err)
	}
	for _, b := range blobs {
		if err := pushBlob(ctx, repo, b.Desc, b.Data); err != nil {
			return fail(err)
		}
	}
	desc := manifest.Desc
	if tag == "" {
		err = repo.Manifests().Push(ctx, desc, bytes.NewReader(manifest.Data))
	} else {
		err = repo.PushReference(ctx, desc, bytes.NewReader(manifest.Data), tag)
	}
	if err != nil {
		return fail(err)
	}
	desc.ArtifactType = ArtifactType
	return desc, nil
}

// pushBlob uploads a blob unless the registry has it already.
func pushBlob(ctx context.Context, repo *remote.Repository, desc ocispec.Descriptor, data []byte) error {
	exists, err := repo.Blobs().Exists(ctx, desc)
	if err != nil || exists {
		return err
	}
	return repo.Blobs().Push(ctx, desc, bytes.NewReader(data))
}

// zipFolder returns the single top-level folder of a zip, if it has exactly one.
func zipFolder(data []byte) (string, bool) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil || len(zr.File) == 0 {
		return "", false
	}
	folder := ""
	for _, f := range zr.File {
		top, _, _ := strings.Cut(f.Name, "/")
		if top == "" || (folder != "" && top != folder) {
			return "", false
		}
		folder = top
	}
	return folder, true
}

// Tag points toTag at the manifest fromRef (a tag or a digest) points to. It fetches the
// manifest and pushes it again under the new tag, the only way the distribution API offers.
func (c *Client) Tag(ctx context.Context, repository, fromRef, toTag string) error {
	repo, err := c.repository(ctx, repository)
	if err != nil {
		return err
	}
	fail := func(err error) error {
		return fmt.Errorf("oci: tag %s:%s as %s: %w", repository, fromRef, toTag, err)
	}
	desc, rc, err := repo.FetchReference(ctx, fromRef)
	if err != nil {
		return fail(err)
	}
	defer rc.Close()
	if desc.Size < 0 || desc.Size > MaxManifestBytes {
		return fail(fmt.Errorf("%w: manifest of %d bytes", ErrTooLarge, desc.Size))
	}
	raw, err := readVerified(rc, desc)
	if err != nil {
		return fail(err)
	}
	if err := repo.PushReference(ctx, desc, bytes.NewReader(raw), toTag); err != nil {
		return fail(err)
	}
	return nil
}

// DeleteManifest deletes a manifest by digest, and with it every tag pointing to it.
func (c *Client) DeleteManifest(ctx context.Context, repository string, desc ocispec.Descriptor) error {
	repo, err := c.repository(ctx, repository)
	if err != nil {
		return err
	}
	if err := repo.Manifests().Delete(ctx, desc); err != nil {
		return fmt.Errorf("oci: delete %s@%s: %w", repository, desc.Digest, err)
	}
	return nil
}

// DeleteTag deletes one tag, leaving the manifest and its other tags, with
// DELETE /v2/<repository>/manifests/<tag>. oras-go deletes by digest only, which would remove
// every tag of the manifest. Distribution supports deleting a tag; registries that do not
// answer 405 or UNSUPPORTED, returned as an error. A missing tag wraps ErrNotFound.
func (c *Client) DeleteTag(ctx context.Context, repository, tag string) error {
	ref := registry.Reference{Registry: c.host, Repository: repository, Reference: tag}
	if err := ref.ValidateRepository(); err != nil {
		return fmt.Errorf("oci: repository %q: %w", repository, err)
	}
	if err := ref.ValidateReferenceAsTag(); err != nil {
		return fmt.Errorf("oci: tag %q: %w", tag, err)
	}
	base, err := c.baseURL(ctx)
	if err != nil {
		return err
	}
	fail := func(err error) error {
		return fmt.Errorf("oci: delete tag %s:%s: %w", repository, tag, err)
	}
	// The token scope oras-go would ask for when deleting; Basic auth ignores it.
	ctx = auth.AppendRepositoryScope(ctx, ref, auth.ActionDelete)
	u := base + "/v2/" + repository + "/manifests/" + url.PathEscape(tag)
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, u, nil)
	if err != nil {
		return fail(err)
	}
	resp, err := c.auth.Do(req)
	if err != nil {
		return fail(err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusAccepted, http.StatusOK, http.StatusNoContent:
		return nil
	case http.StatusNotFound:
		return fail(fmt.Errorf("%w: %w", ErrNotFound, errorResponse(resp)))
	default:
		return fail(errorResponse(resp))
	}
}

// errorResponse turns a failed response into the error type oras-go returns, so callers match
// one type whichever call failed.
func errorResponse(resp *http.Response) error {
	e := &errcode.ErrorResponse{Method: resp.Request.Method, URL: resp.Request.URL, StatusCode: resp.StatusCode}
	var body struct {
		Errors errcode.Errors `json:"errors"`
	}
	if json.NewDecoder(io.LimitReader(resp.Body, 8<<10)).Decode(&body) == nil {
		e.Errors = body.Errors
	}
	return e
}
