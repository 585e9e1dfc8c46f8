package indexer

import (
	"context"
	"errors"
	"sort"
	"sync"
	"time"

	"github.com/oci-epr/package-registry/internal/events"
	"github.com/oci-epr/package-registry/internal/index"
	"github.com/oci-epr/package-registry/internal/oci"
)

// HandleEvent reconciles the repository an event names. An event that names a tag asks only for
// that tag to be re-resolved (plus any tag not indexed yet); a push by digest re-reads the tags
// whose manifest it refers to; a delete by digest re-resolves every tag.
func (ix *Indexer) HandleEvent(ctx context.Context, ev events.Event) error {
	switch {
	case ev.Tag != "" && ev.Action == events.ActionPush:
		return ix.Submit(ctx, ev.Repository, Hint{Tags: []string{ev.Tag}})
	case ev.Action == events.ActionPush && ev.Digest != "":
		// A push by digest changes no tag; it may be a referrer (a signature) of one.
		return ix.Submit(ctx, ev.Repository, Hint{Digests: []string{ev.Digest}})
	case ev.Action == events.ActionDelete && ev.Tag != "":
		// A tag delete needs only the listing: the tag is gone or it is not.
		return ix.Submit(ctx, ev.Repository, Hint{})
	}
	return ix.Submit(ctx, ev.Repository, Hint{All: true})
}

// KnownRepositories is every repository the indexer should reconcile: those it has state for,
// the configured ones and, where the registry offers a catalog, those under the layout's base.
func (ix *Indexer) KnownRepositories(ctx context.Context) ([]string, error) {
	set := map[string]bool{}
	stored, err := ix.cfg.DB.Repositories()
	if err != nil {
		return nil, err
	}
	for _, r := range stored {
		set[r] = true
	}
	for _, r := range ix.cfg.Repositories {
		set[r] = true
	}
	if ix.cfg.Catalog != nil {
		repos, err := ix.cfg.Catalog(ctx)
		switch {
		case errors.Is(err, oci.ErrCatalogUnsupported):
			ix.cfg.Log.Debug("registry has no catalog; discovering repositories from events only")
		case err != nil:
			ix.cfg.Log.Warn("catalog listing failed", "err", err)
		default:
			for _, r := range repos {
				if ix.cfg.Layout.Owns(r) {
					set[r] = true
				}
			}
		}
	}
	if ix.cfg.Layout.Base != "" {
		set[ix.cfg.Layout.Base] = true
	}
	out := make([]string, 0, len(set))
	for r := range set {
		out = append(out, r)
	}
	sort.Strings(out)
	return out, nil
}

// SyncAll fully reconciles every known repository, in parallel up to the configured bound, and
// returns the failures joined.
func (ix *Indexer) SyncAll(ctx context.Context) error {
	repos, err := ix.KnownRepositories(ctx)
	if err != nil {
		return err
	}
	// What the bucket holds now, key by key, so that a value the indexer did not write as
	// recorded (lost, replaced, or written by a reconcile a crash cut short) is written again.
	snap, err := ix.readBucket(ctx)
	if err != nil {
		ix.cfg.Log.Warn("reading the index bucket's revisions failed; not checking what it holds", "err", err)
	} else {
		defer ix.forget(snap)
	}
	var wg sync.WaitGroup
	errs := make([]error, len(repos))
	for i, r := range repos {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = ix.submit(ctx, r, Hint{All: true}, snap)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return ix.sweep(ctx, snap)
}

// snapshot is the bucket's revisions as a sync read them, and the keys this indexer wrote
// since: the revision read for those says nothing about the value written after it.
type snapshot struct {
	revisions index.Revisions
	// wroteSince is guarded by the Indexer's writeMu.
	wroteSince map[string]bool
}

// maxRevisionsRead bounds reading the bucket's revisions (keys and revisions only: a few
// megabytes at 10,000 versions); past it the sync checks no revision, as when NATS is down.
const maxRevisionsRead = 2 * time.Minute

// readBucket reads the bucket's revisions. The snapshot notes writes from before the read
// starts, so that a write the read may or may not have seen is never judged by it.
func (ix *Indexer) readBucket(ctx context.Context) (*snapshot, error) {
	s := &snapshot{wroteSince: map[string]bool{}}
	ix.writeMu.Lock()
	ix.snapshots[s] = true
	ix.writeMu.Unlock()
	rctx, cancel := context.WithTimeout(ctx, maxRevisionsRead)
	defer cancel()
	revs, err := ix.cfg.Bucket.Revisions(rctx)
	if err != nil {
		ix.forget(s)
		return nil, err
	}
	s.revisions = revs // read by reconciles only after submit hands them the snapshot
	return s, nil
}

func (ix *Indexer) forget(s *snapshot) {
	ix.writeMu.Lock()
	defer ix.writeMu.Unlock()
	delete(ix.snapshots, s)
}

// wroteLocked notes a write of key in every snapshot a sync is using. writeMu is held.
func (ix *Indexer) wroteLocked(key string) {
	for s := range ix.snapshots {
		s.wroteSince[key] = true
	}
}

// sweep deletes the keys of snapshot that no recorded tag provides: a put whose reconcile a
// crash cut short before the store recorded it, for a tag gone since, or a value written by
// anyone else. It runs only after every repository's listing succeeded (a failed listing
// deletes nothing), under the write lock, so a reconcile's write phase is either wholly in the
// store or has not begun.
func (ix *Indexer) sweep(ctx context.Context, snap *snapshot) error {
	if snap == nil || len(snap.revisions) == 0 {
		return nil
	}
	ix.writeMu.Lock()
	defer ix.writeMu.Unlock()
	provided, err := ix.cfg.DB.ProvidedKeys()
	if err != nil {
		return err
	}
	var orphans []string
	for key := range snap.revisions {
		if !provided[key] && !snap.wroteSince[key] {
			orphans = append(orphans, key)
		}
	}
	sort.Strings(orphans)
	for _, key := range orphans {
		if err := ix.cfg.Bucket.Delete(ctx, key); err != nil {
			return err
		}
		ix.wroteLocked(key)
		ix.cfg.Metrics.Deleted.Inc()
		ix.cfg.Log.Warn("removed a package from the index bucket that no tag in the registry provides", "key", key)
	}
	return nil
}

// failedRepositories counts the repositories a sync's joined error names.
func failedRepositories(err error) int {
	if err == nil {
		return 0
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return len(j.Unwrap())
	}
	return 1
}

// RunResync performs a sync now and then every interval until ctx ends.
func (ix *Indexer) RunResync(ctx context.Context, interval time.Duration) {
	for {
		start := time.Now()
		ix.resyncStarted(start, interval)
		err := ix.SyncAll(ctx)
		var next time.Time
		if interval > 0 {
			next = time.Now().Add(interval)
		}
		ix.resyncEnded(time.Now(), failedRepositories(err), next)
		if err != nil && ctx.Err() == nil {
			ix.cfg.Log.Warn("sync finished with failures", "err", err)
		} else if ctx.Err() == nil {
			ix.cfg.Log.Info("sync finished", "took", time.Since(start).Round(time.Millisecond))
		}
		if ctx.Err() == nil {
			ix.syncedOnce.Store(true)
		}
		if interval <= 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}
