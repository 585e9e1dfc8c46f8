package indexer

import (
	"sort"

	"github.com/oci-epr/package-registry/internal/index"
	"github.com/oci-epr/package-registry/internal/store"
)

// Precedence between layouts. A name@version is one bucket key, but two repositories can claim
// it: <base>/<name> (per-package layout) and <base> (single-repository layout). The per-package
// copy is served, whichever arrived first: it is the preferred layout, and its repository can be
// given to the package's owner alone, where the single repository is shared by everyone who
// pushes packages. The other copy stays recorded in its repository's tag state, so that it is
// published when the served one goes. Each repository that is kept out is logged and counted
// once per digest (the store remembers it), not on every resync.

// provider is a recorded tag of another repository that provides a key.
type provider struct {
	repository, tag, digest string
}

// write is the reconcile's write phase: publish outs subject to the layout precedence, delete or
// hand over the keys the repository no longer provides, then record next. It returns how many
// records it put.
func (r *run) write(outs []tagOutcome, next map[string]store.TagState) (int, error) {
	ix := r.ix
	ix.writeMu.Lock()
	defer ix.writeMu.Unlock()
	published := 0
	// pub is what this reconcile wrote to the bucket, recorded with the tags in one transaction.
	pub := map[string]*store.Published{}
	for _, out := range outs {
		key := out.state.Key
		if out.record == nil && !r.unverified(out) {
			continue
		}
		rival, err := r.rivalOf(key)
		if err != nil {
			return published, err
		}
		if rival != nil && ix.cfg.Layout.outranks(rival.repository, r.repository) {
			if out.record == nil {
				continue // an unchanged copy that was kept out before: nothing new
			}
			if err := r.keptOut(key, r.repository, out.state.Digest, rival.repository); err != nil {
				return published, err
			}
			continue
		}
		record := out.record
		if record == nil {
			// The bucket may not hold what was recorded for this unchanged tag: write the
			// record of the digest the tag holds, whatever the bucket holds now.
			if record, err = ix.storedRecord(out.state.Digest, key); err != nil {
				return published, err
			}
			if record == nil {
				r.log.Warn("no stored record to publish again", "key", key, "tag", out.tag, "digest", out.state.Digest)
				continue
			}
			r.log.Warn("publishing again a package the index bucket may not hold as recorded", "key", key, "tag", out.tag, "digest", out.state.Digest)
		}
		rev, err := ix.cfg.Bucket.Put(r.ctx, key, record)
		if err != nil {
			return published, err
		}
		if err := r.fault(FaultPut, key); err != nil {
			return published, err
		}
		pub[key] = &store.Published{Repository: r.repository, Tag: out.tag, Digest: out.state.Digest, Revision: rev}
		ix.wroteLocked(key)
		ix.cfg.Metrics.Published.Inc()
		published++
		if rival != nil {
			if err := r.keptOut(key, rival.repository, rival.digest, r.repository); err != nil {
				return published, err
			}
		}
	}
	if err := r.deleteGone(next, pub); err != nil {
		return published, err
	}
	if err := ix.cfg.DB.Commit(r.repository, next, pub); err != nil {
		return published, err
	}
	return published, r.fault(FaultCommitted, "")
}

// keptOut records that loser's copy (digest) of key is not served because winner's is; the
// first time for that copy it is logged and counted.
func (r *run) keptOut(key, loser, digest, winner string) error {
	isNew, err := r.ix.cfg.DB.RecordConflict(key, loser, store.Conflict{Winner: winner, Digest: digest})
	if err != nil || !isNew {
		return err
	}
	r.ix.cfg.Metrics.Conflicts.Inc()
	r.ix.cfg.Log.Warn("package provided by two repositories; serving the per-package layout's copy",
		"key", key, "served_from", winner, "ignored_repository", loser, "ignored_digest", digest)
	return nil
}

// deleteGone removes the keys this repository no longer provides. Where the other layout's
// repository provides the key too, the bucket keeps (or gets) that copy instead.
func (r *run) deleteGone(next map[string]store.TagState, pub map[string]*store.Published) error {
	ix := r.ix
	kept := map[string]bool{}
	for _, s := range next {
		kept[s.Key] = true
	}
	var gone []string
	for _, s := range r.old {
		if s.Key != "" && !kept[s.Key] {
			gone = append(gone, s.Key)
			kept[s.Key] = true // once
		}
	}
	sort.Strings(gone)
	for _, key := range gone {
		rival, err := r.rivalOf(key)
		if err != nil {
			return err
		}
		if rival != nil && ix.cfg.Layout.outranks(rival.repository, r.repository) {
			// This copy was the one kept out; the served one stays.
			if err := ix.cfg.DB.ClearConflict(key, r.repository); err != nil {
				return err
			}
			continue
		}
		if rival != nil {
			record, err := ix.storedRecord(rival.digest, key)
			if err != nil {
				return err
			}
			if record != nil {
				rev, err := ix.cfg.Bucket.Put(r.ctx, key, record)
				if err != nil {
					return err
				}
				if err := r.fault(FaultPut, key); err != nil {
					return err
				}
				pub[key] = &store.Published{Repository: rival.repository, Tag: rival.tag, Digest: rival.digest, Revision: rev}
				ix.wroteLocked(key)
				ix.cfg.Metrics.Published.Inc()
				r.log.Info("package now served from the other layout's repository", "key", key, "served_from", rival.repository, "tag", rival.tag)
				if err := ix.cfg.DB.ClearConflict(key, rival.repository); err != nil {
					return err
				}
				continue
			}
		}
		if err := ix.cfg.Bucket.Delete(r.ctx, key); err != nil {
			return err
		}
		if err := r.fault(FaultDeleted, key); err != nil {
			return err
		}
		pub[key] = nil
		ix.wroteLocked(key)
		ix.cfg.Metrics.Deleted.Inc()
		r.log.Info("package removed", "key", key)
	}
	return nil
}

// rivalOf is the tag of the other layout's repository that provides key, as recorded, or nil.
// Only that repository can: per-package repositories hold their own name's versions only.
func (r *run) rivalOf(key string) (*provider, error) {
	name, _, ok := index.SplitKey(key)
	if !ok {
		return nil, nil
	}
	for _, repo := range r.ix.cfg.Layout.rivals(r.repository, name) {
		tags, ok := r.rivals[repo]
		if !ok {
			var err error
			if tags, err = r.ix.cfg.DB.Tags(repo); err != nil {
				return nil, err
			}
			if r.rivals == nil {
				r.rivals = map[string]map[string]store.TagState{}
			}
			r.rivals[repo] = tags
		}
		for tag, s := range tags {
			if s.Key == key {
				return &provider{repository: repo, tag: tag, digest: s.Digest}, nil
			}
		}
	}
	return nil, nil
}
