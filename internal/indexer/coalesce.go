package indexer

import (
	"context"
	"time"
)

// Hint says what an event asks of a repository's next reconcile. Hints for one repository are
// merged until a reconcile takes them, so a burst of events costs one listing whatever they
// name. The zero Hint asks for a listing only: new tags are read and gone ones removed, indexed
// tags are not re-resolved (a tag delete needs no more).
type Hint struct {
	// All re-resolves every listed tag.
	All bool
	// Tags were pushed: they are re-resolved (a push may have moved them), and one the listing
	// lacks is looked for again shortly (the notification may precede the tag).
	Tags []string
	// Digests are manifests pushed by digest: perhaps referrers (signatures) of indexed tags.
	Digests []string
}

// request gathers the hints for one repository until a reconcile takes it.
type request struct {
	all     bool
	tags    map[string]bool
	digests map[string]bool
	// tries counts, per tag, the listings that lacked it so far.
	tries   map[string]int
	waiters []chan error
	// snapshot, when set, is the bucket as a sync read it: a served key whose revision is not
	// the one recorded at its last write is published again.
	snapshot *snapshot
	// wait is the pause before this request's reconcile starts, when it is a retry.
	wait time.Duration
}

func newRequest() *request {
	return &request{tags: map[string]bool{}, digests: map[string]bool{}, tries: map[string]int{}}
}

func (r *request) add(h Hint) {
	r.all = r.all || h.All
	for _, t := range h.Tags {
		r.tags[t] = true
	}
	for _, d := range h.Digests {
		r.digests[d] = true
	}
}

// Request asks for repository to be reconciled and waits for the outcome of a reconcile that
// started after the request. Tags named are re-resolved even if already indexed (a push may have
// moved them); with no tags every tag is re-resolved.
func (ix *Indexer) Request(ctx context.Context, repository string, tags ...string) error {
	return ix.Submit(ctx, repository, Hint{All: len(tags) == 0, Tags: tags})
}

// Submit asks for repository to be reconciled with hint and waits for the outcome of a reconcile
// that started after the call. Hints arriving while one is pending or running are merged into
// the next reconcile.
func (ix *Indexer) Submit(ctx context.Context, repository string, hint Hint) error {
	return ix.submit(ctx, repository, hint, nil)
}

func (ix *Indexer) submit(ctx context.Context, repository string, hint Hint, snapshot *snapshot) error {
	if !ix.cfg.Layout.Owns(repository) {
		ix.cfg.Log.Debug("ignoring repository outside the package layout", "repository", repository)
		return nil
	}
	done := make(chan error, 1)
	ix.mu.Lock()
	if ix.closed {
		ix.mu.Unlock()
		return ErrClosed
	}
	req := ix.pendingLocked(repository)
	req.add(hint)
	if snapshot != nil {
		req.snapshot = snapshot
	}
	req.waiters = append(req.waiters, done)
	ix.startLocked(repository)
	ix.mu.Unlock()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (ix *Indexer) pendingLocked(repository string) *request {
	req := ix.pending[repository]
	if req == nil {
		req = newRequest()
		ix.pending[repository] = req
	}
	return req
}

func (ix *Indexer) startLocked(repository string) {
	if !ix.running[repository] {
		ix.running[repository] = true
		ix.workers.Add(1)
		go ix.worker(repository)
	}
}

// worker runs reconciles for one repository until nothing is pending for it.
func (ix *Indexer) worker(repository string) {
	defer ix.workers.Done()
	for {
		ix.mu.Lock()
		wait := ix.cfg.Debounce
		if req := ix.pending[repository]; req != nil && req.wait > wait {
			wait = req.wait
		}
		ix.mu.Unlock()
		if wait > 0 {
			time.Sleep(wait)
		}
		release := ix.acquire(repository)
		ix.mu.Lock()
		req := ix.pending[repository]
		delete(ix.pending, repository)
		ix.mu.Unlock()
		var err error
		var missing []string
		if req != nil {
			ctx, cancel := ix.reconcileContext()
			missing, err = ix.reconcile(ctx, repository, req)
			cancel()
			ix.settle(repository, err)
		}
		release()
		if req != nil && !ix.retryMissing(repository, req, missing, err) {
			for _, w := range req.waiters {
				w <- err
			}
		}
		ix.mu.Lock()
		if ix.pending[repository] == nil {
			delete(ix.running, repository)
			ix.mu.Unlock()
			return
		}
		ix.mu.Unlock()
	}
}

// retryMissing queues another look for pushed tags the listing lacked, handing over req's
// waiters, while tries remain. It reports whether it did; the waiters then hear from the retry.
func (ix *Indexer) retryMissing(repository string, req *request, missing []string, err error) bool {
	if err != nil || len(missing) == 0 {
		return false
	}
	var again []string
	var wait time.Duration
	for _, t := range missing {
		if n := req.tries[t]; n < len(ix.cfg.MissingTagRetries) {
			again = append(again, t)
			wait = max(wait, ix.cfg.MissingTagRetries[n])
		}
	}
	if len(again) == 0 {
		ix.cfg.Log.Info("event named a tag that is not listed; acknowledging it", "repository", repository, "tags", missing)
		return false
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if !ix.admitRetryLocked(repository) {
		ix.cfg.Metrics.LimitHits.WithLabelValues(LimitMissingTagRetries).Inc()
		ix.cfg.Log.Warn("event named a tag that is not listed; not looking again, too many repositories await a retry",
			"repository", repository, "tags", again, "limit", LimitMissingTagRetries, "bound", ix.cfg.MaxPendingRetries)
		return false
	}
	next := ix.pendingLocked(repository)
	for _, t := range again {
		next.tags[t] = true
		next.tries[t] = max(next.tries[t], req.tries[t]+1)
	}
	next.wait = max(next.wait, wait)
	next.waiters = append(next.waiters, req.waiters...)
	// The worker calling this is still running and takes the retry on its next turn.
	return true
}

// Reconcile reconciles repository now, re-resolving every tag.
func (ix *Indexer) Reconcile(ctx context.Context, repository string) error {
	return ix.Request(ctx, repository)
}
