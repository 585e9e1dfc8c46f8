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
	"github.com/oci-epr/package-registry/internal/status"
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
	// rivals caches the recorded tags of the other layout's repositories (see publish.go).
	rivals map[string]map[string]store.TagState
	// others are the other repositories whose copies this reconcile's writes kept out or handed
	// a key to: their status changed too.
	others map[string]bool
}

// reconcile lists the repository, resolves what req asks for and publishes the result. It
// returns the pushed tags the listing lacked, for the caller to look for again. It is the
// executor of plan.go's rounds: each does the I/O its steps name.
func (ix *Indexer) reconcile(ctx context.Context, repository string, req *request) (missing []string, err error) {
	start := ix.cfg.Now()
	log := ix.cfg.Log.With("repository", repository)
	var rep *status.Report
	defer func() {
		ix.report(repository, start, rep, err)
		ix.cfg.Metrics.ReconcileSeconds.Observe(time.Since(start).Seconds())
		if err != nil {
			ix.cfg.Metrics.ReconcileError.Inc()
			ix.cfg.Metrics.countLimits(err)
			log.Warn("reconcile failed; will retry", "err", err)
		} else {
			ix.cfg.Metrics.ReconcileSuccess.Inc()
		}
	}()

	listed, err := ix.cfg.Registry.Tags(ctx, repository)
	ix.heard(err)
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
	r.forced = withAwaited(r.subjectsOf(), old, req.all)

	next := map[string]store.TagState{}
	var outs []outcome
	var failures []error
	failed := map[string]error{}
	kept := map[string]bool{}
	for _, step := range planTags(tagsView{Repository: repository, Layout: ix.cfg.Layout, Listed: listed, Old: old,
		All: req.all, Named: req.tags, Policy: ix.cfg.Policy.id(), Searched: searched, Forced: r.forced}) {
		prev, known := old[step.Tag]
		out := outcome{tag: step.Tag, state: prev}
		if step.Vouched {
			ix.cfg.Metrics.SearchSkippedResolves.Inc()
		}
		kept[step.Tag] = step.Kind == StepKeep
		if step.Kind == StepResolve {
			if out, err = r.resolveTag(step.Tag, prev, known); err != nil {
				failed[step.Tag] = err
				failures = append(failures, fmt.Errorf("tag %s: %w", step.Tag, err))
				if known {
					next[step.Tag] = prev // keep what was indexed until the tag can be read again
				}
				continue
			}
		}
		next[step.Tag] = out.state
		outs = append(outs, out)
	}
	isListed := make(map[string]bool, len(listed))
	for _, tag := range listed {
		isListed[tag] = true
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
	if ix.cfg.Status != nil {
		conflicts, cerr := ix.cfg.DB.ConflictsOf(repository)
		if cerr != nil {
			log.Warn("reading the conflicts for the status failed", "err", cerr)
		}
		rep = &status.Report{Listed: true, TagsListed: len(listed), Kept: kept,
			Tags: ix.tagStatuses(repository, listed, next, failed, conflicts)}
		ix.reportOthers(r.others)
	}
	if published > 0 || len(old) != len(next) {
		log.Info("reconciled", "tags", len(listed), "indexed", countIndexed(next), "published", published, "took", time.Since(start).Round(time.Millisecond))
	}
	return missing, errors.Join(failures...)
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

// resolveTag runs round two for one tag: resolve it, then keep, use what the store holds, or
// fetch and parse, as planDigest decides.
func (r *run) resolveTag(tag string, prev store.TagState, known bool) (outcome, error) {
	ix := r.ix
	name, version, _ := ix.cfg.Layout.Candidate(r.repository, tag)
	desc, err := ix.cfg.Registry.Resolve(r.ctx, r.repository, tag)
	if err != nil {
		return outcome{}, fmt.Errorf("resolve: %w", err)
	}
	v := digestView{Tag: tag, Prev: prev, Known: known, Digest: desc.Digest.String(), Policy: ix.cfg.Policy.id(), Forced: r.forced}
	keep := outcome{tag: tag, state: prev}
	step := planDigest(v)
	if step.Kind == StepKeep {
		return keep, nil
	}
	id := store.ManifestID{Digest: v.Digest, Key: index.Key(name, version), Policy: v.Policy}
	ms, seen, err := ix.cfg.DB.Manifest(id)
	if err != nil {
		return outcome{}, err
	}
	if seen {
		v.Stored = &ms
		step = planDigest(v)
	}
	parsedHere := false // what ms holds was parsed by this reconcile, for this tag
	if step.Kind == StepFetch {
		fresh, err := r.parse(tag, name, version, desc, step.Signature)
		if err != nil {
			return outcome{}, err
		}
		var unchanged bool
		ms, parsedHere, unchanged = planParsed(v, fresh)
		if unchanged {
			return keep, nil
		}
		if parsedHere {
			if err := ix.cfg.DB.PutManifest(id, ms); err != nil {
				return outcome{}, err
			}
			if err := r.fault(FaultParsed, ms.Key); err != nil {
				return outcome{}, err
			}
		}
	}
	out := outcome{tag: tag, changed: true, state: store.TagState{Digest: v.Digest, Key: ms.Key, Rejected: ms.Rejected, Policy: v.Policy,
		AwaitingSignature: ms.AwaitingSignature, Rule: ms.Rule, NotAPackage: ms.NotAPackage, ArtifactType: ms.ArtifactType}}
	switch {
	case ms.Key == "":
	case parsedHere:
		out.record = ms.Record
	default: // parsed earlier, perhaps as the other layout's copy
		if out.record, err = restamp(ms.Record, r.repository, tag); err != nil {
			return outcome{}, err
		}
	}
	return out, nil
}
