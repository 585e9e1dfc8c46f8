package oci

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
)

func TestPushResolveFetchPickRoundTrip(t *testing.T) {
	reg := startRegistry(t, nil)
	c := newTestClient(t, reg, nil, nil)
	ctx := testCtx(t)
	zipData := makeZip(t, "nginx-1.20.0", 100)
	sig := []byte("-----BEGIN PGP SIGNATURE-----\n...\n")

	pushed, err := c.PushPackage(ctx, "packages/nginx", "1.20.0", zipData, sig,
		map[string]string{ocispec.AnnotationDescription: "Nginx integration"})
	if err != nil {
		t.Fatal(err)
	}
	desc, err := c.Resolve(ctx, "packages/nginx", "1.20.0")
	if err != nil {
		t.Fatal(err)
	}
	if desc.Digest != pushed.Digest || desc.MediaType != ocispec.MediaTypeImageManifest {
		t.Fatalf("Resolve = %+v, pushed %+v", desc, pushed)
	}

	m, raw, err := c.FetchManifest(ctx, "packages/nginx", desc)
	if err != nil {
		t.Fatal(err)
	}
	if digest.FromBytes(raw) != desc.Digest {
		t.Error("raw manifest does not match its digest")
	}
	// The layout of docs/artifact-layout.md, field by field.
	if m.ArtifactType != ArtifactType || m.MediaType != ocispec.MediaTypeImageManifest {
		t.Errorf("artifactType %q mediaType %q", m.ArtifactType, m.MediaType)
	}
	if m.Config.MediaType != ocispec.MediaTypeEmptyJSON || m.Config.Digest != ocispec.DescriptorEmptyJSON.Digest {
		t.Errorf("config = %+v, want the empty config", m.Config)
	}
	wantAnn := map[string]string{
		ocispec.AnnotationTitle: "nginx", ocispec.AnnotationVersion: "1.20.0",
		ocispec.AnnotationDescription: "Nginx integration",
	}
	for k, v := range wantAnn {
		if m.Annotations[k] != v {
			t.Errorf("annotation %s = %q, want %q", k, m.Annotations[k], v)
		}
	}

	zipDesc, sigDesc, err := PickLayers(m)
	if err != nil {
		t.Fatal(err)
	}
	if zipDesc.MediaType != MediaTypePackageZip || zipDesc.Annotations[ocispec.AnnotationTitle] != "nginx-1.20.0.zip" ||
		zipDesc.Digest != digest.FromBytes(zipData) || zipDesc.Size != int64(len(zipData)) {
		t.Errorf("zip layer = %+v", zipDesc)
	}
	if sigDesc == nil || sigDesc.MediaType != MediaTypeSignature || sigDesc.Digest != digest.FromBytes(sig) {
		t.Fatalf("signature layer = %+v", sigDesc)
	}
	for _, l := range []struct {
		desc ocispec.Descriptor
		want []byte
	}{{zipDesc, zipData}, {*sigDesc, sig}} {
		rc, err := c.FetchBlob(ctx, "packages/nginx", l.desc)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		if !bytes.Equal(got, l.want) {
			t.Errorf("blob %s differs from what was pushed", l.desc.Digest)
		}
	}

	// Pushing the same input again yields the same manifest: nothing time-dependent in it.
	again, err := c.PushPackage(ctx, "packages/nginx", "1.20.0", zipData, sig,
		map[string]string{ocispec.AnnotationDescription: "Nginx integration"})
	if err != nil || again.Digest != pushed.Digest {
		t.Errorf("second push = %s, %v; want %s", again.Digest, err, pushed.Digest)
	}

	if _, err := c.Resolve(ctx, "packages/nginx", "9.9.9"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Resolve of a missing tag: want ErrNotFound, got %v", err)
	}
}

func TestPushPackageWithoutFolderStillPushes(t *testing.T) {
	reg := startRegistry(t, nil)
	c := newTestClient(t, reg, nil, nil)
	ctx := testCtx(t)
	desc, err := c.PushPackage(ctx, "packages/broken", "1.0.0", []byte("not a zip"), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	m, _, err := c.FetchManifest(ctx, "packages/broken", desc)
	if err != nil {
		t.Fatal(err)
	}
	zipDesc, sig, err := PickLayers(m)
	if err != nil || sig != nil || zipDesc.Annotations[ocispec.AnnotationTitle] != "package.zip" {
		t.Errorf("PickLayers = %+v, %v, %v", zipDesc, sig, err)
	}
}

// pushRaw pushes a manifest of any kind with oras-go directly, bypassing PushPackage.
func pushRaw(t *testing.T, c *Client, repository, tag, mediaType string, v any) ocispec.Descriptor {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	repo, err := c.repository(testCtx(t), repository)
	if err != nil {
		t.Fatal(err)
	}
	desc := content.NewDescriptorFromBytes(mediaType, raw)
	if err := repo.PushReference(testCtx(t), desc, bytes.NewReader(raw), tag); err != nil {
		t.Fatalf("push %s: %v", mediaType, err)
	}
	return desc
}

func TestFetchManifestRejectsIndexes(t *testing.T) {
	reg := startRegistry(t, nil)
	ct := newCountingTransport()
	c := newTestClient(t, reg, ct, nil)
	ctx := testCtx(t)
	pkg, err := c.PushPackage(ctx, "packages/nginx", "1.0.0", makeZip(t, "nginx-1.0.0", 0), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	pkg.ArtifactType = ""
	pushRaw(t, c, "packages/nginx", "1.0.1", ocispec.MediaTypeImageIndex, ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex,
		Manifests: []ocispec.Descriptor{pkg},
	})
	desc, err := c.Resolve(ctx, "packages/nginx", "1.0.1")
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = c.FetchManifest(ctx, "packages/nginx", desc)
	if !errors.Is(err, ErrUnsupportedManifest) || !strings.Contains(err.Error(), "index") {
		t.Errorf("want an ErrUnsupportedManifest naming the index, got %v", err)
	}

	// Bounds are checked before any request.
	ct.reset()
	huge := desc
	huge.MediaType, huge.Size = ocispec.MediaTypeImageManifest, MaxManifestBytes+1
	if _, _, err := c.FetchManifest(ctx, "packages/nginx", huge); !errors.Is(err, ErrTooLarge) {
		t.Errorf("want ErrTooLarge, got %v", err)
	}
	lying := pkg
	lying.Size-- // the registry's bytes are one longer than announced
	if _, _, err := c.FetchManifest(ctx, "packages/nginx", lying); err == nil {
		t.Error("a manifest longer than its descriptor was accepted")
	}
	if _, _, err := c.FetchManifest(ctx, "packages/nginx", ocispec.Descriptor{MediaType: "application/json", Digest: pkg.Digest, Size: pkg.Size}); !errors.Is(err, ErrUnsupportedManifest) {
		t.Errorf("want ErrUnsupportedManifest for a non-manifest media type, got %v", err)
	}
	if n := ct.count("GET manifest"); n != 1 {
		t.Errorf("manifest GETs = %d, want 1 (only the lying descriptor)", n)
	}
}

func TestFetchManifestDockerSchema2(t *testing.T) {
	reg := startRegistry(t, nil)
	c := newTestClient(t, reg, nil, nil)
	ctx := testCtx(t)
	zipData := makeZip(t, "nginx-1.0.0", 0)
	repo, err := c.repository(ctx, "packages/nginx")
	if err != nil {
		t.Fatal(err)
	}
	config := content.NewDescriptorFromBytes("application/vnd.docker.container.image.v1+json", []byte("{}"))
	layer := content.NewDescriptorFromBytes(MediaTypeZip, zipData)
	for _, b := range []struct {
		d    ocispec.Descriptor
		data []byte
	}{{config, []byte("{}")}, {layer, zipData}} {
		if err := pushBlob(ctx, repo, b.d, b.data); err != nil {
			t.Fatal(err)
		}
	}
	pushRaw(t, c, "packages/nginx", "1.0.0", MediaTypeDockerManifest, ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: MediaTypeDockerManifest,
		Config: config, Layers: []ocispec.Descriptor{layer},
	})
	desc, err := c.Resolve(ctx, "packages/nginx", "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	m, _, err := c.FetchManifest(ctx, "packages/nginx", desc)
	if err != nil {
		t.Fatal(err)
	}
	if zipDesc, _, err := PickLayers(m); err != nil || zipDesc.Digest != layer.Digest {
		t.Errorf("PickLayers = %+v, %v", zipDesc, err)
	}
}

func TestPickLayers(t *testing.T) {
	layer := func(mediaType, title string) ocispec.Descriptor {
		d := content.NewDescriptorFromBytes(mediaType, []byte(mediaType+title))
		if title != "" {
			d.Annotations = map[string]string{ocispec.AnnotationTitle: title}
		}
		return d
	}
	const tar = ocispec.MediaTypeImageLayer
	tests := []struct {
		name    string
		layers  []ocispec.Descriptor
		zip     int // index of the expected zip layer
		sig     int // index of the expected signature, -1 for none
		wantErr string
	}{
		{name: "package zip and signature",
			layers: []ocispec.Descriptor{layer(MediaTypePackageZip, "a-1.zip"), layer(MediaTypeSignature, "a-1.zip.sig")}, sig: 1},
		{name: "application/zip", layers: []ocispec.Descriptor{layer(MediaTypeZip, "")}, sig: -1},
		{name: "plain oras push of a .zip",
			layers: []ocispec.Descriptor{layer(tar, "README.md"), layer(tar, "nginx-1.0.0.ZIP")}, zip: 1, sig: -1},
		{name: "package type wins over a title",
			layers: []ocispec.Descriptor{layer(tar, "other.zip"), layer(MediaTypeZip, "x"), layer(MediaTypePackageZip, "")}, zip: 2, sig: -1},
		{name: "signature titled .zip is still the signature",
			layers: []ocispec.Descriptor{layer(MediaTypeSignature, "odd.zip"), layer(MediaTypePackageZip, "")}, zip: 1, sig: 0},
		{name: "no zip", layers: []ocispec.Descriptor{layer(tar, "a.tar.gz"), layer(MediaTypeSignature, "")}, wantErr: "no package zip layer"},
		{name: "no layers", wantErr: "no package zip layer"},
		{name: "two package zips", layers: []ocispec.Descriptor{layer(MediaTypePackageZip, "a"), layer(MediaTypePackageZip, "b")}, wantErr: "2 " + MediaTypePackageZip},
		{name: "two titled zips", layers: []ocispec.Descriptor{layer(tar, "a.zip"), layer(tar, "b.zip")}, wantErr: "2 layers titled"},
		{name: "two signatures",
			layers: []ocispec.Descriptor{layer(MediaTypePackageZip, ""), layer(MediaTypeSignature, "1"), layer(MediaTypeSignature, "2")}, wantErr: "2 " + MediaTypeSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			zipDesc, sig, err := PickLayers(ocispec.Manifest{Layers: slices.Clone(tt.layers)})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("want error containing %q, got %v", tt.wantErr, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if zipDesc.Digest != tt.layers[tt.zip].Digest {
				t.Errorf("zip = %s, want layer %d", zipDesc.Digest, tt.zip)
			}
			if (sig == nil) != (tt.sig < 0) || (sig != nil && sig.Digest != tt.layers[tt.sig].Digest) {
				t.Errorf("sig = %+v, want layer %d", sig, tt.sig)
			}
		})
	}
}

func TestTagAndDelete(t *testing.T) {
	reg := startRegistry(t, nil)
	c := newTestClient(t, reg, nil, nil)
	ctx := testCtx(t)
	pushTestPackage(t, c, "packages/nginx", "1.0.0", "nginx-1.0.0")
	if err := c.Tag(ctx, "packages/nginx", "1.0.0", "latest"); err != nil {
		t.Fatal(err)
	}
	listed := func() []string {
		t.Helper()
		tags, err := c.Tags(ctx, "packages/nginx")
		if err != nil && !errors.Is(err, ErrRepositoryNotFound) {
			t.Fatal(err)
		}
		slices.Sort(tags)
		return tags
	}
	if got := listed(); !slices.Equal(got, []string{"1.0.0", "latest"}) {
		t.Fatalf("tags = %v", got)
	}
	if err := c.DeleteTag(ctx, "packages/nginx", "latest"); err != nil {
		t.Fatal(err)
	}
	if got := listed(); !slices.Equal(got, []string{"1.0.0"}) {
		t.Fatalf("after DeleteTag, tags = %v", got)
	}
	if err := c.DeleteTag(ctx, "packages/nginx", "latest"); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleting a missing tag: want ErrNotFound, got %v", err)
	}
	desc, err := c.Resolve(ctx, "packages/nginx", "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteManifest(ctx, "packages/nginx", desc); err != nil {
		t.Fatal(err)
	}
	if got := listed(); len(got) != 0 {
		t.Fatalf("after DeleteManifest, tags = %v", got)
	}
}
