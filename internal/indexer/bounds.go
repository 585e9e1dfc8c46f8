package indexer

import (
	"context"
	"errors"
	"time"

	"github.com/oci-epr/package-registry/internal/oci"
)

// DefaultReconcileTimeout bounds one reconcile: listing, resolving, downloading and publishing.
// What a reconcile that runs out of time has parsed is kept in the store, so the next one goes
// on from there; what it has not published yet is published then.
const DefaultReconcileTimeout = 10 * time.Minute

// DefaultMaxPendingRetries bounds the repositories waiting for another look at a tag an event
// named but the listing lacked. Legitimate retries last milliseconds (distribution notifies just
// before it writes the tag); only a sender naming many tags that do not exist fills them.
const DefaultMaxPendingRetries = 256

// Limit names, the values of the "limit" label of epr_indexer_limit_hits_total: the bounds of
// oci.LimitError, and these.
const (
	LimitDeadline          = "deadline"            // a registry request or a reconcile ran out of time
	LimitMissingTagRetries = "missing_tag_retries" // a missing tag not looked for again: too many retries pending
)

// bounds is the indexer's state for the bounds on what one repository may cost others.
type bounds struct {
	// slowLane is taken, besides a worker slot, by repositories whose last reconcile ran out
	// of time. It holds half the slots, so slow repositories never hold all the workers that
	// every other repository needs.
	slowLane chan struct{}
	slow     map[string]bool // guarded by Indexer.mu
	// retrying is the repositories with a missing-tag retry queued (guarded by Indexer.mu).
	retrying map[string]bool
}

func newBounds(parallelism int) bounds {
	return bounds{slowLane: make(chan struct{}, max(1, parallelism/2)), slow: map[string]bool{}, retrying: map[string]bool{}}
}

// acquire takes a worker slot for one reconcile of repository, and a place in the slow lane
// first when the repository is slow. It returns the release.
func (ix *Indexer) acquire(repository string) (release func()) {
	ix.mu.Lock()
	slow := ix.bounds.slow[repository]
	delete(ix.bounds.retrying, repository) // a queued retry is being taken
	ix.mu.Unlock()
	if slow {
		ix.bounds.slowLane <- struct{}{}
	}
	ix.sem <- struct{}{}
	return func() {
		<-ix.sem
		if slow {
			<-ix.bounds.slowLane
		}
	}
}

// reconcileContext is the context of one reconcile. Reconciles are not tied to a caller's
// context (waiters may give up, the work is still worth finishing), only to their deadline.
func (ix *Indexer) reconcileContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), ix.cfg.ReconcileTimeout)
}

// settle records how a reconcile of repository ended: one that ran out of time makes the
// repository slow until one succeeds.
func (ix *Indexer) settle(repository string, err error) {
	timedOut := errors.Is(err, context.DeadlineExceeded)
	ix.mu.Lock()
	defer ix.mu.Unlock()
	switch {
	case timedOut && !ix.bounds.slow[repository]:
		ix.bounds.slow[repository] = true
		ix.cfg.Log.Warn("repository is slow to answer; its reconciles now share a smaller part of the workers",
			"repository", repository, "slow_lane", cap(ix.bounds.slowLane), "parallelism", cap(ix.sem))
	case err == nil && ix.bounds.slow[repository]:
		delete(ix.bounds.slow, repository)
		ix.cfg.Log.Info("repository answers again; back among the other repositories", "repository", repository)
	}
}

// admitRetry reports whether repository may queue a missing-tag retry; called with ix.mu held.
func (ix *Indexer) admitRetryLocked(repository string) bool {
	if ix.bounds.retrying[repository] || len(ix.bounds.retrying) < ix.cfg.MaxPendingRetries {
		ix.bounds.retrying[repository] = true
		return true
	}
	return false
}

// countLimits counts, once per bound, the bounds err says were hit.
func (m *Metrics) countLimits(err error) {
	if err == nil {
		return
	}
	hit := map[string]bool{}
	var walk func(error)
	walk = func(err error) {
		if le, ok := err.(*oci.LimitError); ok {
			hit[le.Bound] = true
		}
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				walk(e)
			}
		case interface{ Unwrap() error }:
			if e := u.Unwrap(); e != nil {
				walk(e)
			}
		}
	}
	walk(err)
	if errors.Is(err, context.DeadlineExceeded) {
		hit[LimitDeadline] = true
	}
	for b := range hit {
		m.LimitHits.WithLabelValues(b).Inc()
	}
}
