package indexer

import (
	"sort"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-epr/package-registry/internal/store"
)

// The reconcile's decisions are pure functions of what is known; the executor (reconcile.go,
// publish.go) does the I/O each step names and feeds the results to the next round, as a copy
// of an artifact graph walks it: list, then decide per tag (planTags), then per resolved
// digest (planDigest, planParsed), then what to write (planWrite). Their tables in
// plan_test.go state the invariants of docs/architecture.md row by row.

// StepKind is what one step of a reconcile does.
type StepKind string

const (
	// StepKeep records a tag's state as it was; nothing is asked of the registry.
	StepKeep StepKind = "keep"
	// StepResolve asks the registry for a tag's manifest digest; planDigest decides next.
	StepResolve StepKind = "resolve"
	// StepFetch fetches and parses a manifest and its zip: the digest is new for this package
	// key and policy, or is read again for a signature.
	StepFetch StepKind = "fetch"
	// StepUse takes what an earlier parse of the digest produced, from the store.
	StepUse StepKind = "use"
	// StepPublish writes a tag's new record to the bucket.
	StepPublish StepKind = "publish"
	// StepRepublish writes an unchanged tag's stored record again: the bucket may not hold it.
	StepRepublish StepKind = "republish"
	// StepKeepOut records that a copy is not served because the other layout's copy is.
	StepKeepOut StepKind = "keep-out"
	// StepForgetKeptOut forgets a kept-out copy that is gone.
	StepForgetKeptOut StepKind = "forget-kept-out"
	// StepHandOver publishes the other layout's copy of a key this repository no longer holds.
	StepHandOver StepKind = "hand-over"
	// StepDelete removes a key no repository holds any more.
	StepDelete StepKind = "delete"
)

// Step is one thing a reconcile does. Which fields are set depends on Kind.
type Step struct {
	Kind StepKind
	Tag  string
	Key  string
	// Digest is the manifest digest concerned: the tag's, or the kept-out copy's.
	Digest string
	// Vouched marks a StepKeep the registry's search index confirmed.
	Vouched bool
	// Signature is the signature layer a referrer gave for a StepFetch, when known.
	Signature *ocispec.Descriptor
	// Winner is the repository whose copy is served, for StepKeepOut; Loser the one kept out.
	Winner, Loser string
	// Other is the other layout's copy that a StepHandOver publishes.
	Other *provider
}

// tagsView is what round one knows: the complete listing and the recorded state.
type tagsView struct {
	Repository string
	Layout     Layout
	// Listed is the complete tag listing.
	Listed []string
	Old    map[string]store.TagState
	// All re-resolves every tag; Named are the tags events named.
	All   bool
	Named map[string]bool
	// Policy is the current policy's id.
	Policy string
	// Searched are tag digests from the registry's search index (nil: none).
	Searched map[string]string
	// Forced are digests to read again for their referrers (see withAwaited).
	Forced map[string]*ocispec.Descriptor
}

// planTags decides, for each listed tag that claims a package version, whether it is resolved
// or kept as recorded. Tags that are not package versions get no step.
func planTags(v tagsView) []Step {
	var steps []Step
	for _, tag := range v.Listed {
		if _, _, ok := v.Layout.Candidate(v.Repository, tag); !ok {
			continue
		}
		prev, known := v.Old[tag]
		_, reread := v.Forced[prev.Digest]
		// A tag read under another policy (the flags changed) is read again.
		reread = reread || (known && prev.Policy != v.Policy)
		switch {
		case known && !reread && !v.Named[tag] && prev.Digest != "" && v.Searched[tag] == prev.Digest:
			// The search index vouches for an unchanged digest: no HEAD needed.
			steps = append(steps, Step{Kind: StepKeep, Tag: tag, Digest: prev.Digest, Vouched: true})
		case !known || v.All || v.Named[tag] || reread:
			steps = append(steps, Step{Kind: StepResolve, Tag: tag})
		default:
			steps = append(steps, Step{Kind: StepKeep, Tag: tag, Digest: prev.Digest})
		}
	}
	return steps
}

// withAwaited adds to forced the digests of tags awaiting their signature, on a full
// reconcile: a lost notification must not keep a signed version out for good.
func withAwaited(forced map[string]*ocispec.Descriptor, old map[string]store.TagState, all bool) map[string]*ocispec.Descriptor {
	if !all {
		return forced
	}
	for _, s := range old {
		if _, ok := forced[s.Digest]; s.AwaitingSignature && !ok {
			forced[s.Digest] = nil
		}
	}
	return forced
}

// digestView is what round two knows of one resolved tag.
type digestView struct {
	Tag    string
	Prev   store.TagState
	Known  bool
	Digest string
	Policy string
	Forced map[string]*ocispec.Descriptor
	// Stored is what an earlier parse of Digest for this key and policy produced, or nil.
	Stored *store.ManifestState
}

// planDigest decides what a resolved tag costs: nothing (StepKeep), the stored outcome of an
// earlier parse (StepUse), or a download and parse (StepFetch).
func planDigest(v digestView) Step {
	sig, reread := v.Forced[v.Digest]
	switch {
	case v.Known && v.Prev.Digest == v.Digest && v.Prev.Policy == v.Policy && !reread:
		return Step{Kind: StepKeep, Tag: v.Tag, Digest: v.Digest}
	case v.Stored != nil && !reread:
		return Step{Kind: StepUse, Tag: v.Tag, Digest: v.Digest}
	}
	return Step{Kind: StepFetch, Tag: v.Tag, Digest: v.Digest, Signature: sig}
}

// planParsed decides, after a StepFetch, between the fresh outcome and the stored one: a
// manifest read again for its referrers republishes only when its signature changed.
func planParsed(v digestView, fresh store.ManifestState) (use store.ManifestState, store, keep bool) {
	switch {
	case v.Stored == nil || v.Stored.Signature != fresh.Signature:
		return fresh, true, false
	case v.Known && v.Prev.Digest == v.Digest && v.Prev.Policy == v.Policy:
		return *v.Stored, false, true // read again for a signature it already had
	}
	return *v.Stored, false, false
}

// outcome is what one listed tag resolved to in this reconcile.
type outcome struct {
	tag   string
	state store.TagState
	// changed: the tag's record is new (state.Key set) or it holds no package any more.
	changed bool
	// record is the encoded record of a changed tag that holds a package.
	record []byte
}

// writeView is what the write phase knows, under the write lock.
type writeView struct {
	Repository string
	Layout     Layout
	Outs       []outcome
	Old, Next  map[string]store.TagState
	// Recorded is the store's record of the last bucket write of each key of Old.
	Recorded map[string]store.Published
	// Snapshot is the bucket as a sync read it (nil outside a sync).
	Snapshot *snapshot
	// Rivals are, per key, the other layout's recorded copy (absent: none).
	Rivals map[string]*provider
	// Stored reports, per key, whether a record of its rival's digest is stored.
	Stored map[string]bool
}

// needsWrite reports whether an out may need a bucket write: a changed record, or an unchanged
// one whose key the store has no matching write recorded for, or (during a sync) whose bucket
// revision is not the recorded one although this indexer has not written the key since the
// sync read the revisions. Any of these is a divergence a crash, a lost bucket or a foreign
// write left.
func needsWrite(v writeView, out outcome) bool {
	if out.state.Key == "" {
		return false
	}
	if out.changed {
		return true
	}
	p, ok := v.Recorded[out.state.Key]
	if !ok || p.Repository != v.Repository || p.Tag != out.tag || p.Digest != out.state.Digest {
		return true
	}
	s := v.Snapshot
	return s != nil && !s.wroteSince[out.state.Key] && s.revisions[out.state.Key] != p.Revision
}

// goneKeys are the keys Old provides and Next does not, sorted.
func goneKeys(old, next map[string]store.TagState) []string {
	kept := map[string]bool{}
	for _, s := range next {
		kept[s.Key] = true
	}
	var gone []string
	for _, s := range old {
		if s.Key != "" && !kept[s.Key] {
			gone = append(gone, s.Key)
			kept[s.Key] = true // once
		}
	}
	sort.Strings(gone)
	return gone
}

// planWrite decides the bucket writes: publish what changed (or is not verified) subject to the
// layout precedence, then hand over or delete the keys the repository no longer provides.
func planWrite(v writeView) []Step {
	var steps []Step
	for _, out := range v.Outs {
		if !needsWrite(v, out) {
			continue
		}
		key := out.state.Key
		rival := v.Rivals[key]
		if rival != nil && v.Layout.outranks(rival.repository, v.Repository) {
			if out.changed {
				steps = append(steps, Step{Kind: StepKeepOut, Key: key, Digest: out.state.Digest, Loser: v.Repository, Winner: rival.repository})
			}
			continue // an unchanged kept-out copy: nothing new
		}
		kind := StepPublish
		if !out.changed {
			kind = StepRepublish
		}
		steps = append(steps, Step{Kind: kind, Tag: out.tag, Key: key, Digest: out.state.Digest})
		if rival != nil {
			steps = append(steps, Step{Kind: StepKeepOut, Key: key, Digest: rival.digest, Loser: rival.repository, Winner: v.Repository})
		}
	}
	for _, key := range goneKeys(v.Old, v.Next) {
		rival := v.Rivals[key]
		switch {
		case rival != nil && v.Layout.outranks(rival.repository, v.Repository):
			// This copy was the one kept out; the served one stays.
			steps = append(steps, Step{Kind: StepForgetKeptOut, Key: key, Loser: v.Repository})
		case rival != nil && v.Stored[key]:
			steps = append(steps, Step{Kind: StepHandOver, Key: key, Other: rival})
		default:
			steps = append(steps, Step{Kind: StepDelete, Key: key})
		}
	}
	return steps
}
