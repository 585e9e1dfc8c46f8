package indexer

import (
	"context"
	"errors"
	"sort"
	"sync"
	"time"

	"github.com/oci-epr/package-registry/internal/events"
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
	// What the bucket holds now, so that packages it lost are published again.
	var present map[string]bool
	if keys, err := ix.cfg.Bucket.Keys(ctx); err == nil {
		present = make(map[string]bool, len(keys))
		for _, k := range keys {
			present[k] = true
		}
	} else {
		ix.cfg.Log.Warn("listing the index bucket failed; not checking it for lost packages", "err", err)
	}
	var wg sync.WaitGroup
	errs := make([]error, len(repos))
	for i, r := range repos {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = ix.submit(ctx, r, Hint{All: true}, present)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// RunResync performs a sync now and then every interval until ctx ends.
func (ix *Indexer) RunResync(ctx context.Context, interval time.Duration) {
	for {
		start := time.Now()
		if err := ix.SyncAll(ctx); err != nil && ctx.Err() == nil {
			ix.cfg.Log.Warn("sync finished with failures", "err", err)
		} else if ctx.Err() == nil {
			ix.cfg.Log.Info("sync finished", "took", time.Since(start).Round(time.Millisecond))
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
