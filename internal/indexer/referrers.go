package indexer

import (
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-epr/package-registry/internal/oci"
	"github.com/oci-epr/package-registry/internal/ref"
)

// maxDigestReads bounds the manifests pushed by digest that one reconcile reads one by one.
// Beyond it, reading each would cost a request per event, so the reconcile looks for
// signatures of its indexed tags instead: the cost is then bounded by the repository, not by
// how many events arrived.
const maxDigestReads = 8

// subjectsOf returns the manifest digests to read again for their referrers, each with the
// signature layer when known. They come from three hints:
//   - a manifest pushed by digest is read: if it is a referrer, its subject is returned with the
//     signature it carries. Using the referrer just pushed, rather than listing referrers again,
//     matters on registries without the referrers API: there the client updates the referrers
//     index after the push that notified us;
//   - a pushed referrers fallback tag (sha256-<hex>) names its subject: the referrers index now
//     exists, so listing it finds the signature;
//   - more pushes by digest than maxDigestReads: every indexed tag, and every tag awaiting its
//     signature, is checked for a signature.
func (r *run) subjectsOf() map[string]*ocispec.Descriptor {
	subjects := map[string]*ocispec.Descriptor{}
	for tag := range r.req.tags {
		if ref.IsFallbackTag(tag) {
			subjects["sha256:"+strings.TrimPrefix(tag, "sha256-")] = nil
		}
	}
	// A push by digest of a manifest a tag already holds says nothing new.
	recorded, indexed := map[string]bool{}, map[string]bool{}
	for _, s := range r.old {
		recorded[s.Digest] = true
		if s.Key != "" || s.AwaitingSignature {
			indexed[s.Digest] = true
		}
	}
	var unknown []string
	for d := range r.req.digests {
		if !recorded[d] {
			unknown = append(unknown, d)
		}
	}
	if len(unknown) > maxDigestReads {
		r.log.Info("many manifests pushed by digest at once; checking the indexed tags for signatures instead of reading each",
			"pushed", len(unknown), "indexed", len(indexed))
		for d := range indexed {
			if _, ok := subjects[d]; !ok {
				subjects[d] = nil
			}
		}
		return subjects
	}
	for _, digest := range unknown {
		desc, err := r.ix.cfg.Registry.Resolve(r.ctx, r.repository, digest)
		if err != nil {
			r.log.Debug("pushed manifest is gone", "digest", digest, "err", err)
			continue
		}
		m, _, err := r.ix.cfg.Registry.FetchManifest(r.ctx, r.repository, desc)
		if err != nil {
			r.log.Debug("pushed manifest is not an image manifest", "digest", digest, "err", err)
			continue
		}
		if m.Subject == nil {
			continue
		}
		subject := m.Subject.Digest.String()
		if _, seen := subjects[subject]; !seen {
			subjects[subject] = nil
		}
		if sig := oci.SignatureLayer(m); sig != nil {
			subjects[subject] = sig
		}
	}
	return subjects
}
