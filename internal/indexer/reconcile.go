package indexer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-epr/package-registry/internal/index"
	"github.com/oci-epr/package-registry/internal/oci"
	"github.com/oci-epr/package-registry/internal/store"
)

// run is one reconcile of one repository: what was asked of it and what it has read so far, so
// that its steps share one value rather than a long parameter list.
type run struct {
	ix         *Indexer
	ctx        context.Context
	log        *slog.Logger
	repository string
	req        *request
	// old is what the store recorded for the repository's tags before this reconcile.
	old map[string]store.TagState
	// forced are manifest digests to read again although indexed: subjects of referrers pushed
	// since, each with the signature layer when the referrer is known to be one.
	forced map[string]*ocispec.Descriptor
	// recorded is what the store recorded of the last bucket write of each key old holds.
	recorded map[string]store.Published
	// rivals caches the recorded tags of the other layout's repositories (see publish.go).
	rivals map[string]map[string]store.TagState
}

// tagOutcome is what one tag resolved to in this reconcile.
type tagOutcome struct {
	tag   string
	state store.TagState
	// record is the encoded record to publish, when the tag's digest changed. Nil with a key
	// set: the tag is unchanged but the bucket does not hold what was recorded for it (see
	// unverified), so its stored record is written again.
	record []byte
}

// reconcile lists the repository, resolves what req asks for and publishes the result. It
// returns the pushed tags the listing lacked, for the caller to look for again.
func (ix *Indexer) reconcile(ctx context.Context, repository string, req *request) (missing []string, err error) {
	start := ix.cfg.Now()
	log := ix.cfg.Log.With("repository", repository)
	defer func() {
		ix.cfg.Metrics.ReconcileSeconds.Observe(time.Since(start).Seconds())
		if err != nil {
			ix.cfg.Metrics.ReconcileError.Inc()
			log.Warn("reconcile failed; will retry", "err", err)
		} else {
			ix.cfg.Metrics.ReconcileSuccess.Inc()
		}
	}()

	listed, err := ix.cfg.Registry.Tags(ctx, repository)
	if errors.Is(err, oci.ErrRepositoryNotFound) {
		listed, err = nil, nil
	}
	if err != nil {
		// Invariant: a failed listing changes nothing.
		return nil, fmt.Errorf("list tags: %w", err)
	}
	old, err := ix.cfg.DB.Tags(repository)
	if err != nil {
		return nil, err
	}
	var searched map[string]string
	if req.all && ix.cfg.TagDigests != nil && len(listed) > 0 {
		if searched, err = ix.cfg.TagDigests(ctx, repository); err != nil {
			log.Debug("no tag digests from the registry's search; resolving each tag", "err", err)
			searched = nil
		}
	}
	r := &run{ix: ix, ctx: ctx, log: log, repository: repository, req: req, old: old}
	r.forced = r.subjectsOf()
	oldKeys := make([]string, 0, len(old))
	for _, s := range old {
		if s.Key != "" {
			oldKeys = append(oldKeys, s.Key)
		}
	}
	if r.recorded, err = ix.cfg.DB.PublishedOf(oldKeys); err != nil {
		return nil, err
	}

	next := map[string]store.TagState{}
	var outs []tagOutcome
	var failures []error
	isListed := make(map[string]bool, len(listed))
	for _, tag := range listed {
		isListed[tag] = true
		name, version, ok := ix.cfg.Layout.Candidate(repository, tag)
		if !ok {
			log.Debug("skipping tag that is not a package version", "tag", tag)
			continue
		}
		prev, known := old[tag]
		out := tagOutcome{tag: tag, state: prev}
		if req.all && prev.AwaitingSignature {
			// A lost notification must not keep a signed version out for good: each resync looks
			// for the signatures still awaited.
			if _, ok := r.forced[prev.Digest]; !ok {
				r.forced[prev.Digest] = nil
			}
		}
		_, reread := r.forced[prev.Digest]
		// A tag read under another policy (the flags changed) is read again.
		reread = reread || (known && prev.Policy != ix.cfg.Policy.id())
		// The search index vouches for an unchanged digest: no HEAD needed.
		vouched := known && !reread && !req.tags[tag] && prev.Digest != "" && searched[tag] == prev.Digest
		if vouched {
			ix.cfg.Metrics.SearchSkippedResolves.Inc()
		} else if !known || req.all || req.tags[tag] || reread {
			out, err = r.resolveTag(tag, name, version, prev, known)
			out.tag = tag
			if err != nil {
				failures = append(failures, fmt.Errorf("tag %s: %w", tag, err))
				if known {
					next[tag] = prev // keep what was indexed until the tag can be read again
				}
				continue
			}
		}
		next[tag] = out.state
		if out.record != nil || out.state.Key != "" { // unchanged ones are checked under the write lock
			outs = append(outs, out)
		}
	}
	for tag := range req.tags {
		if _, _, ok := ix.cfg.Layout.Candidate(repository, tag); ok && !isListed[tag] {
			missing = append(missing, tag)
		}
	}

	published, err := r.write(outs, next)
	if err != nil {
		return nil, err // nothing recorded yet: the whole reconcile repeats
	}
	if published > 0 || len(old) != len(next) {
		log.Info("reconciled", "tags", len(listed), "indexed", countIndexed(next), "published", published, "took", time.Since(start).Round(time.Millisecond))
	}
	return missing, errors.Join(failures...)
}

// unverified reports whether an unchanged indexed tag's key may not hold the record of the
// tag's digest: the store has no write of it recorded, or one of another copy, or (during a
// sync) the bucket's revision of the key is not the recorded one although this indexer has
// not written the key since the sync read the revisions. Any of these is a divergence a
// crash, a lost bucket or a foreign write left; publishing the stored record repairs it.
// Called under the write lock.
func (r *run) unverified(out tagOutcome) bool {
	p, ok := r.recorded[out.state.Key]
	if !ok || p.Repository != r.repository || p.Tag != out.tag || p.Digest != out.state.Digest {
		return true
	}
	v := r.req.snapshot
	return v != nil && !v.wroteSince[out.state.Key] && v.revisions[out.state.Key] != p.Revision
}

func countIndexed(tags map[string]store.TagState) int {
	n := 0
	for _, s := range tags {
		if s.Key != "" {
			n++
		}
	}
	return n
}

// resolveTag resolves one tag and, when its digest is new to this tag, produces its record.
func (r *run) resolveTag(tag, name, version string, prev store.TagState, known bool) (tagOutcome, error) {
	ix := r.ix
	desc, err := ix.cfg.Registry.Resolve(r.ctx, r.repository, tag)
	if err != nil {
		return tagOutcome{}, fmt.Errorf("resolve: %w", err)
	}
	digest := desc.Digest.String()
	knownSig, reread := r.forced[digest]
	if known && prev.Digest == digest && prev.Policy == ix.cfg.Policy.id() && !reread {
		return tagOutcome{state: prev}, nil
	}
	// The same content under another name or version is a different question (it is rejected
	// there), so what a digest produced is remembered per claimed identity.
	parsedAs := ix.manifestKey(digest, index.Key(name, version))
	ms, seen, err := ix.cfg.DB.Manifest(parsedAs)
	if err != nil {
		return tagOutcome{}, err
	}
	if !seen || reread {
		fresh, err := r.parse(tag, name, version, desc, knownSig)
		if err != nil {
			return tagOutcome{}, err
		}
		if !seen || !sameSignature(ms.Record, fresh.Record) {
			ms = fresh
			if err := ix.cfg.DB.PutManifest(parsedAs, ms); err != nil {
				return tagOutcome{}, err
			}
			if err := r.fault(FaultParsed, ms.Key); err != nil {
				return tagOutcome{}, err
			}
		} else if known && prev.Digest == digest && prev.Policy == ix.cfg.Policy.id() {
			// Read again for a signature it already had: nothing to publish.
			return tagOutcome{state: prev}, nil
		}
	}
	out := tagOutcome{state: store.TagState{Digest: digest, Key: ms.Key, Rejected: ms.Rejected, Policy: ix.cfg.Policy.id(),
		AwaitingSignature: ms.AwaitingSignature}}
	if ms.Key != "" {
		out.record = ms.Record
	}
	return out, nil
}

// sameSignature reports whether two encoded records of one manifest name the same signature,
// so that reading a manifest again for referrers does not republish an unchanged record.
func sameSignature(a, b []byte) bool {
	ra, errA := index.Decode(a)
	rb, errB := index.Decode(b)
	if errA != nil || errB != nil {
		return false
	}
	switch {
	case ra.Signature == nil || rb.Signature == nil:
		return ra.Signature == nil && rb.Signature == nil
	default:
		return *ra.Signature == *rb.Signature
	}
}
