package indexer

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/oci-epr/package-registry/internal/status"
	"github.com/oci-epr/package-registry/internal/store"
)

// StatusSink is told what each reconcile concluded, for people (internal/status);
// *status.Publisher implements it. It must not wait for anything.
type StatusSink interface {
	Report(status.Report)
}

// tagFacts is what a reconcile knows of one listed tag.
type tagFacts struct {
	Tag string
	// Candidate: the tag names a package version (Name, Version) by the layout.
	Candidate     bool
	Name, Version string
	// State is the tag's recorded state after the reconcile (Known: there is one).
	State store.TagState
	Known bool
	// Failed is why resolving or reading the tag failed in this reconcile; NextAttempt when it
	// is tried again at the latest.
	Failed      error
	NextAttempt *time.Time
	// ShadowedBy is the repository whose copy of the tag's key is served instead (a recorded
	// conflict).
	ShadowedBy string
}

// notAPackageTag is the message of a tag that names no package version.
const notAPackageTag = "the tag names no package version (a per-package repository tags versions, the single repository name-version)"

// tagStatus decides a listed tag's status; ok is false for tags that get no entry: attachments
// (signatures, attestations, SBOMs, referrers fallback tags) belong to the tag they are
// attached to.
func tagStatus(f tagFacts) (t status.Tag, ok bool) {
	t = status.Tag{Tag: f.Tag, Name: f.Name, Version: f.Version, Digest: f.State.Digest}
	switch {
	case !f.Candidate && IsAttachmentTag(f.Tag):
		return t, false
	case !f.Candidate:
		t.State, t.Message, t.Name, t.Version, t.Digest = status.NotAPackage, notAPackageTag, "", "", ""
	case f.Failed != nil:
		t.State, t.Error, t.NextAttempt = status.Failing, f.Failed.Error(), f.NextAttempt
	case !f.Known:
		// Neither read nor failed: a tag a reconcile has not reached (a recorded repository's
		// new tag always is, so this is only defensive).
		return t, false
	case f.State.AwaitingSignature:
		t.State, t.Rule, t.Message = status.AwaitingSignature, f.State.Rule, f.State.Rejected
	case f.State.NotAPackage:
		t.State, t.Rule, t.Message, t.ArtifactType = status.NotAPackage, f.State.Rule, f.State.Rejected, f.State.ArtifactType
	case f.State.Rejected != "" || f.State.Key == "":
		t.State, t.Rule, t.Message = status.Rejected, f.State.Rule, f.State.Rejected
	case f.ShadowedBy != "":
		t.State, t.ShadowedBy = status.Shadowed, f.ShadowedBy
	default:
		t.State = status.Served
	}
	return t, true
}

// tagStatuses are the statuses of a repository's listed tags.
func (ix *Indexer) tagStatuses(repository string, listed []string, next map[string]store.TagState,
	failed map[string]error, conflicts map[string]store.Conflict) []status.Tag {
	nextAttempt := ix.nextAttempt()
	out := make([]status.Tag, 0, len(listed))
	for _, tag := range listed {
		name, version, candidate := ix.cfg.Layout.Candidate(repository, tag)
		s, known := next[tag]
		f := tagFacts{Tag: tag, Candidate: candidate, Name: name, Version: version, State: s, Known: known,
			Failed: failed[tag], NextAttempt: nextAttempt}
		if c, ok := conflicts[s.Key]; ok && s.Key != "" && c.Digest == s.Digest {
			f.ShadowedBy = c.Winner
		}
		if t, ok := tagStatus(f); ok {
			out = append(out, t)
		}
	}
	return out
}

// report tells the status sink what a reconcile of repository concluded. rep is nil when the
// reconcile stopped before it knew its tags (the listing, the store or the writes failed).
func (ix *Indexer) report(repository string, start time.Time, rep *status.Report, err error) {
	if ix.cfg.Status == nil {
		return
	}
	if rep == nil {
		rep = &status.Report{}
	}
	rep.Repository, rep.At, rep.Took = repository, start.UTC(), ix.cfg.Now().Sub(start)
	if err != nil {
		rep.Error = err.Error()
	}
	ix.cfg.Status.Report(*rep)
}

// reportOthers tells the status sink the tags of repositories whose copies this reconcile's
// writes kept out or handed the key to: their state changed without a reconcile of their own.
func (ix *Indexer) reportOthers(repositories map[string]bool) {
	if ix.cfg.Status == nil {
		return
	}
	for repo := range repositories {
		tags, err := ix.cfg.DB.Tags(repo)
		if err != nil {
			continue // told on the repository's next reconcile
		}
		conflicts, err := ix.cfg.DB.ConflictsOf(repo)
		if err != nil {
			continue
		}
		listed := make([]string, 0, len(tags))
		kept := make(map[string]bool, len(tags))
		for tag := range tags {
			listed = append(listed, tag)
			kept[tag] = true
		}
		ix.cfg.Status.Report(status.Report{Repository: repo, At: ix.cfg.Now().UTC(), Partial: true, Kept: kept,
			Tags: ix.tagStatuses(repo, listed, tags, nil, conflicts)})
	}
}

// registryHealth is what the indexer last heard from the registry, for the status.
type registryHealth struct {
	mu        sync.Mutex
	reachable bool
	err       string
	resync    status.Resync
	// next is when the next resync starts (zero: none scheduled); interval the resync period.
	next     time.Time
	interval time.Duration
}

// heard records the outcome of a request to the registry: any HTTP answer means it is
// reachable; a transport error or a deadline means it is not.
func (ix *Indexer) heard(err error) {
	h := &ix.health
	h.mu.Lock()
	defer h.mu.Unlock()
	var ne net.Error
	switch {
	case err == nil:
		h.reachable, h.err = true, ""
	case errors.As(err, &ne), errors.Is(err, context.DeadlineExceeded):
		h.reachable, h.err = false, err.Error()
	default:
		h.reachable, h.err = true, ""
	}
}

// nextAttempt is when a failing tag is tried again at the latest: the next resync. While a
// resync runs, the next one starts an interval after it ends, so at the earliest an interval
// from now.
func (ix *Indexer) nextAttempt() *time.Time {
	h := &ix.health
	h.mu.Lock()
	defer h.mu.Unlock()
	next := h.next
	if running := h.resync.Start != nil && h.resync.End == nil; running && h.interval > 0 {
		next = ix.cfg.Now().Add(h.interval)
	}
	if next.IsZero() {
		return nil
	}
	t := next.UTC().Truncate(time.Second)
	return &t
}

// StatusFacts is the indexer's part of its status entry: whether the registry answers, and the
// resyncs.
func (ix *Indexer) StatusFacts() status.Indexer {
	h := &ix.health
	h.mu.Lock()
	defer h.mu.Unlock()
	return status.Indexer{RegistryReachable: h.reachable, RegistryError: h.err, LastResync: h.resync}
}

func (ix *Indexer) resyncStarted(at time.Time, interval time.Duration) {
	h := &ix.health
	h.mu.Lock()
	defer h.mu.Unlock()
	at = at.UTC()
	h.resync, h.interval = status.Resync{Start: &at, Failed: h.resync.Failed}, interval
}

func (ix *Indexer) resyncEnded(at time.Time, failed int, next time.Time) {
	h := &ix.health
	h.mu.Lock()
	defer h.mu.Unlock()
	at = at.UTC()
	h.resync.End, h.resync.Failed, h.next = &at, failed, next
}
