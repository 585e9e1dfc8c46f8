package mirror

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-epr/package-registry/internal/oci"
	"github.com/oci-epr/package-registry/internal/packages"
)

// RunDir copies a directory of package zips (what `elastic-package build` writes), each with
// its detached signature "<zip>.sig" beside it when there is one. Every zip is validated with
// the indexer's package reader first, so a package the indexer would reject never reaches the
// destination; its name and version come from its manifest, not the file name. The bytes are
// at hand, so the skip rule is the exact one: the destination's zip layer has the zip's digest
// (and a signature layer when there is a signature). Of the selection only Packages applies;
// From, HTTPClient and Retries are not used.
func RunDir(ctx context.Context, dir string, o Options) (Summary, error) {
	start := time.Now()
	o.defaults()
	zips, err := filepath.Glob(filepath.Join(dir, "*.zip"))
	if err != nil {
		return Summary{}, err
	}
	if len(zips) == 0 {
		return Summary{}, fmt.Errorf("mirror: no *.zip in %s", dir)
	}
	sort.Strings(zips)
	return runAll(ctx, o, start, len(zips), func(i int) Result { return copyFile(ctx, o, zips[i]) })
}

func copyFile(ctx context.Context, o Options, path string) Result {
	r := Result{Name: filepath.Base(path)}
	fail := func(err error) Result {
		o.Log.Warn("package not copied", "file", path, "error", err)
		r.Outcome, r.Err = Failed, err
		return r
	}
	st, err := os.Stat(path)
	if err != nil {
		return fail(err)
	}
	if st.Size() > o.MaxZipBytes {
		return fail(fmt.Errorf("zip of %d bytes is over %d", st.Size(), o.MaxZipBytes))
	}
	zipData, err := os.ReadFile(path)
	if err != nil {
		return fail(err)
	}
	sig, err := os.ReadFile(path + ".sig")
	if errors.Is(err, os.ErrNotExist) {
		sig, err = nil, nil
	}
	if err != nil {
		return fail(err)
	}
	return copyLocal(ctx, o, r, zipData, sig, packages.Expect{}, nil)
}

// copyLocal validates and copies a package whose bytes are at hand. r names it until its
// manifest is read.
func copyLocal(ctx context.Context, o Options, named Result, zipData, sig []byte, expect packages.Expect, annotations map[string]string) (r Result) {
	r = named
	defer func() {
		if r.Err != nil {
			r.Outcome = Failed
			o.Log.Warn("package not copied", "package", r.Name, "version", r.Version, "error", r.Err)
		}
	}()
	lim := packages.DefaultLimits()
	lim.MaxZipSize = o.MaxZipBytes
	pkg, _, err := packages.ReadBytes(zipData, packages.Options{Limits: lim, Expect: expect, HasSignature: sig != nil})
	if err != nil {
		r.Err = err
		return r
	}
	r.Name, r.Version = pkg.Name, pkg.Version
	if len(o.Selection.Packages) > 0 && !slices.Contains(o.Selection.Packages, pkg.Name) {
		r.Outcome = Excluded
		return r
	}
	if sig == nil && o.Keyring != nil && !o.AllowUnsigned {
		r.Outcome = Unsigned
		return r
	}
	if sig != nil && o.Keyring != nil {
		if r.Err = Verify(o.Keyring, zipData, sig); r.Err != nil {
			return r
		}
	}
	man, held, err := o.To.Manifest(ctx, pkg.Name, pkg.Version)
	if err != nil {
		r.Err = err
		return r
	}
	if man != nil && holds(man.Layers, digest.FromBytes(zipData), sig != nil) {
		r.Outcome, r.Digest = Present, held
		return r
	}
	if o.DryRun {
		r.Outcome = WouldCopy
		return r
	}
	if r.Digest, r.Err = o.To.Push(ctx, pkg.Name, pkg.Version, zipData, sig, annotations); r.Err != nil {
		return r
	}
	r.Outcome = Copied
	r.Bytes = int64(len(zipData) + len(sig))
	return r
}

// holds reports whether layers have a zip layer of digest d, and a signature layer if wantSig.
func holds(layers []ocispec.Descriptor, d digest.Digest, wantSig bool) bool {
	zipOK, sigOK := false, !wantSig
	for _, l := range layers {
		switch l.MediaType {
		case oci.MediaTypePackageZip:
			zipOK = l.Digest == d
		case oci.MediaTypeSignature:
			sigOK = true
		}
	}
	return zipOK && sigOK
}
