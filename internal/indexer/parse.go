package indexer

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-epr/package-registry/internal/index"
	"github.com/oci-epr/package-registry/internal/oci"
	"github.com/oci-epr/package-registry/internal/packages"
	"github.com/oci-epr/package-registry/internal/store"
)

// parse fetches a manifest and its zip and builds the record. A broken artifact is not an
// error: it is logged once (a digest is parsed once) and remembered as rejected.
func (r *run) parse(tag, name, version string, desc ocispec.Descriptor, knownSig *ocispec.Descriptor) (store.ManifestState, error) {
	ix, ctx, log, repository := r.ix, r.ctx, r.log, r.repository
	ix.cfg.Metrics.Downloads.Inc()
	rejected := func(rule packages.Rule, reason string) (store.ManifestState, error) {
		ix.cfg.Metrics.Rejected.WithLabelValues(string(rule)).Inc()
		log.Error("artifact rejected", "tag", tag, "digest", desc.Digest.String(), "rule", rule, "reason", reason)
		return store.ManifestState{Rejected: reason, Rule: string(rule)}, nil
	}
	// An artifact of another kind under a version tag is told apart from a broken package in
	// the status (not_a_package, with what it holds); it is logged and counted by its rule as
	// before, so existing alerts keep firing.
	notAPackage := func(rule packages.Rule, reason, artifactType string) (store.ManifestState, error) {
		ms, err := rejected(rule, reason)
		ms.NotAPackage, ms.ArtifactType = true, artifactType
		return ms, err
	}
	manifest, _, err := ix.cfg.Registry.FetchManifest(ctx, repository, desc)
	if errors.Is(err, oci.ErrUnsupportedManifest) {
		return notAPackage(packages.RuleUnsupportedManifest, err.Error(), desc.MediaType)
	}
	if errors.Is(err, oci.ErrTooLarge) {
		return rejected(packages.RuleUnsupportedManifest, err.Error())
	}
	if errors.Is(err, oci.ErrDigestMismatch) {
		return rejected(packages.RuleDigestMismatch, err.Error())
	}
	if err != nil {
		return store.ManifestState{}, fmt.Errorf("fetch manifest: %w", err)
	}
	zipDesc, sigDesc, err := oci.PickLayers(manifest)
	if errors.Is(err, oci.ErrNoPackageLayer) {
		return notAPackage(packages.RuleLayers, err.Error(), cmp.Or(manifest.ArtifactType, manifest.Config.MediaType))
	}
	if err != nil {
		return rejected(packages.RuleLayers, err.Error())
	}
	if sigDesc == nil {
		sigDesc = knownSig
	}
	if sigDesc == nil {
		// A registry whose referrers listing misbehaves must not keep the package out of the
		// index: it is indexed unsigned, and a later signature push reads it again.
		if sigDesc, err = ix.cfg.Registry.SignatureOf(ctx, repository, desc); err != nil {
			ix.cfg.Metrics.countLimits(err)
			log.Warn("looking for a signature referrer failed; indexing unsigned", "tag", tag, "digest", desc.Digest.String(), "err", err)
			sigDesc = nil
		}
	}
	if sigDesc == nil && ix.cfg.Policy.RequireSignatures {
		// Checked before the download: an unsigned zip is not read until it can be served.
		return r.awaitingSignature(tag, desc)
	}
	path, err := ix.cfg.Blobs.Fetch(ctx, repository, zipDesc)
	if errors.Is(err, oci.ErrTooLarge) {
		return rejected(packages.RuleZipTooLarge, err.Error())
	}
	if errors.Is(err, oci.ErrDigestMismatch) {
		// The registry (or something on the way) serves other bytes than the manifest names.
		// Retrying would download them again on every retry and resync; the rejection is
		// remembered for this manifest digest, so only a tag moving to another one is read.
		return rejected(packages.RuleDigestMismatch, err.Error())
	}
	if err != nil {
		return store.ManifestState{}, fmt.Errorf("fetch zip: %w", err)
	}
	pkg, warnings, err := readZip(path, packages.Options{
		Limits:       ix.cfg.Limits,
		Expect:       packages.Expect{Name: name, Version: version},
		HasSignature: sigDesc != nil,

		DisableContentValidation: ix.cfg.Policy.DisableContentValidation,
	})
	if re, ok := packages.AsReject(err); ok {
		return rejected(re.Rule, re.Reason)
	}
	if err != nil {
		return store.ManifestState{}, fmt.Errorf("read zip: %w", err)
	}
	for _, w := range warnings {
		log.Warn("package warning", "tag", tag, "digest", desc.Digest.String(), "warning", w)
	}
	doc, err := packages.Marshal(pkg)
	if err != nil {
		return store.ManifestState{}, err
	}
	rec := &index.Record{
		Name: pkg.Name, Version: pkg.Version, Document: doc,
		Repository: repository, Tag: tag, ManifestDigest: desc.Digest.String(),
		Zip:       blob(zipDesc),
		IndexedAt: ix.cfg.Now().UTC().Truncate(time.Second),
	}
	if sigDesc != nil {
		b := blob(*sigDesc)
		rec.Signature = &b
	}
	encoded, err := index.Encode(rec)
	if err != nil {
		return store.ManifestState{}, err
	}
	ms := store.ManifestState{Key: rec.Key(), Record: encoded}
	if rec.Signature != nil {
		ms.Signature = rec.Signature.Digest
	}
	return ms, nil
}

// awaitingSignature keeps an unsigned version out of the index. It is reported (logged and
// counted) when first seen; the reads again that look for its signature stay quiet.
func (r *run) awaitingSignature(tag string, desc ocispec.Descriptor) (store.ManifestState, error) {
	digest := desc.Digest.String()
	if prev, ok := r.old[tag]; ok && prev.Digest == digest && prev.AwaitingSignature && prev.Policy == r.ix.cfg.Policy.id() {
		r.log.Debug("still no signature", "tag", tag, "digest", digest)
	} else {
		r.ix.cfg.Metrics.Rejected.WithLabelValues(string(packages.RuleMissingSignature)).Inc()
		r.log.Warn("package not served until its signature arrives (-require-package-signatures)", "tag", tag, "digest", digest, "rule", packages.RuleMissingSignature)
	}
	return store.ManifestState{Rejected: "no signature yet; -require-package-signatures is on", Rule: string(packages.RuleMissingSignature),
		AwaitingSignature: true}, nil
}

func blob(d ocispec.Descriptor) index.Blob {
	return index.Blob{Digest: d.Digest.String(), Size: d.Size, MediaType: d.MediaType}
}

func readZip(path string, opts packages.Options) (*packages.Package, []string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	return packages.Read(f, st.Size(), opts)
}

// storedRecord is the record parsed earlier from digest for key, as the copy in repository
// under tag.
func (ix *Indexer) storedRecord(digest, key, repository, tag string) ([]byte, error) {
	ms, ok, err := ix.cfg.DB.Manifest(store.ManifestID{Digest: digest, Key: key, Policy: ix.cfg.Policy.id()})
	if err != nil || !ok || ms.Record == nil {
		return nil, err
	}
	return restamp(ms.Record, repository, tag)
}

// restamp returns record as the copy in repository under tag. A digest is parsed once per
// package key, but the same manifest can sit in both layouts' repositories: each copy served
// must name its own, where its blobs are read from.
func restamp(record []byte, repository, tag string) ([]byte, error) {
	rec, err := index.Decode(record)
	if err != nil {
		return nil, err
	}
	if rec.Repository == repository && rec.Tag == tag {
		return record, nil
	}
	rec.Repository, rec.Tag = repository, tag
	return index.Encode(rec)
}
