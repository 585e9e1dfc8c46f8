package mirror

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	orasoci "oras.land/oras-go/v2/content/oci"

	"github.com/oci-epr/package-registry/internal/oci"
	"github.com/oci-epr/package-registry/internal/packages"
	"github.com/oci-epr/package-registry/internal/ref"
)

// RunLayout copies the packages of an OCI image layout directory that Layout wrote (tags
// <name>-<version>, "+" written "_") to o.To: how a carried layout is pushed into the
// registry on the other side. Every package is read back digest-verified and validated like
// RunDir's, its manifest annotations are kept, and the skip rule is RunDir's. Tags that do
// not name a package version are left alone. Of the selection only Packages applies.
func RunLayout(ctx context.Context, dir string, o Options) (Summary, error) {
	start := time.Now()
	o.defaults()
	store, err := orasoci.NewFromFS(ctx, os.DirFS(dir))
	if err != nil {
		return Summary{}, fmt.Errorf("mirror: OCI layout %s: %w", dir, err)
	}
	var tags []string
	if err := store.Tags(ctx, "", func(ts []string) error { tags = append(tags, ts...); return nil }); err != nil {
		return Summary{}, fmt.Errorf("mirror: OCI layout %s: %w", dir, err)
	}
	var keep []string
	for _, t := range tags {
		if _, ok := ref.FromSingleTag(t); ok {
			keep = append(keep, t)
		}
	}
	return runAll(ctx, o, start, len(keep), func(i int) Result { return copyTag(ctx, o, store, keep[i]) })
}

func copyTag(ctx context.Context, o Options, store *orasoci.ReadOnlyStore, tag string) Result {
	pkg, _ := ref.FromSingleTag(tag)
	name, version := pkg.Name, pkg.Version
	r := Result{Name: name, Version: version}
	fail := func(err error) Result {
		o.Log.Warn("package not copied", "package", name, "version", version, "error", err)
		r.Outcome, r.Err = Failed, err
		return r
	}
	if len(o.Selection.Packages) > 0 && !slices.Contains(o.Selection.Packages, name) {
		r.Outcome = Excluded
		return r
	}
	desc, err := store.Resolve(ctx, tag)
	if err != nil {
		return fail(err)
	}
	if desc.Size > oci.MaxManifestBytes {
		return fail(fmt.Errorf("manifest of %d bytes", desc.Size))
	}
	raw, err := content.FetchAll(ctx, store, desc)
	if err != nil {
		return fail(err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return fail(err)
	}
	var zipData, sig []byte
	for _, l := range m.Layers {
		var dst *[]byte
		switch l.MediaType {
		case oci.MediaTypePackageZip:
			dst = &zipData
		case oci.MediaTypeSignature:
			dst = &sig
		default:
			continue
		}
		if *dst != nil {
			return fail(fmt.Errorf("two %s layers", l.MediaType))
		}
		if l.Size > o.MaxZipBytes {
			return fail(fmt.Errorf("layer of %d bytes is over %d", l.Size, o.MaxZipBytes))
		}
		if *dst, err = content.FetchAll(ctx, store, l); err != nil {
			return fail(err)
		}
	}
	if zipData == nil {
		return fail(fmt.Errorf("no %s layer", oci.MediaTypePackageZip))
	}
	// Title and version are derived again from the zip; the rest (where it was mirrored
	// from) travels on.
	ann := map[string]string{}
	for k, v := range m.Annotations {
		if k != ocispec.AnnotationTitle && k != ocispec.AnnotationVersion {
			ann[k] = v
		}
	}
	return copyLocal(ctx, o, r, zipData, sig, packages.Expect{Name: name, Version: version}, ann)
}
