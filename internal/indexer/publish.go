package indexer

import (
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

// write is the reconcile's write phase, the executor of planWrite: publish outs subject to
// the layout precedence, hand over or delete the keys the repository no longer provides, then
// record next and the writes in one transaction. It returns how many records it put.
func (r *run) write(outs []outcome, next map[string]store.TagState) (int, error) {
	ix := r.ix
	ix.writeMu.Lock()
	defer ix.writeMu.Unlock()
	v, err := r.writeView(outs, next)
	if err != nil {
		return 0, err
	}
	records := map[string][]byte{}
	for _, out := range outs {
		records[out.tag] = out.record
	}
	published := 0
	// pub is what this reconcile wrote to the bucket, recorded with the tags in one transaction.
	pub := map[string]*store.Published{}
	put := func(key string, record []byte, p store.Published) error {
		rev, err := ix.cfg.Bucket.Put(r.ctx, key, record)
		if err != nil {
			return err
		}
		if err := r.fault(FaultPut, key); err != nil {
			return err
		}
		p.Revision = rev
		pub[key] = &p
		ix.wroteLocked(key)
		ix.cfg.Metrics.Published.Inc()
		published++
		return nil
	}
	for _, step := range planWrite(v) {
		switch step.Kind {
		case StepPublish:
			err = put(step.Key, records[step.Tag], store.Published{Repository: r.repository, Tag: step.Tag, Digest: step.Digest})
		case StepRepublish:
			var record []byte
			if record, err = ix.storedRecord(step.Digest, step.Key, r.repository, step.Tag); err != nil {
				break
			}
			if record == nil {
				r.log.Warn("no stored record to publish again", "key", step.Key, "tag", step.Tag, "digest", step.Digest)
				continue
			}
			r.log.Warn("publishing again a package the index bucket may not hold as recorded", "key", step.Key, "tag", step.Tag, "digest", step.Digest)
			err = put(step.Key, record, store.Published{Repository: r.repository, Tag: step.Tag, Digest: step.Digest})
		case StepKeepOut:
			err = r.keptOut(step.Key, step.Loser, step.Digest, step.Winner)
			r.touched(step.Loser)
		case StepForgetKeptOut:
			err = ix.cfg.DB.ClearConflict(step.Key, step.Loser)
		case StepHandOver:
			o := step.Other
			var record []byte
			if record, err = ix.storedRecord(o.digest, step.Key, o.repository, o.tag); err != nil {
				break
			}
			if err = put(step.Key, record, store.Published{Repository: o.repository, Tag: o.tag, Digest: o.digest}); err != nil {
				break
			}
			r.log.Info("package now served from the other layout's repository", "key", step.Key, "served_from", o.repository, "tag", o.tag)
			err = ix.cfg.DB.ClearConflict(step.Key, o.repository)
			r.touched(o.repository)
		case StepDelete:
			if err = ix.cfg.Bucket.Delete(r.ctx, step.Key); err != nil {
				break
			}
			if err = r.fault(FaultDeleted, step.Key); err != nil {
				break
			}
			pub[step.Key] = nil
			ix.wroteLocked(step.Key)
			ix.cfg.Metrics.Deleted.Inc()
			r.log.Info("package removed", "key", step.Key)
		}
		if err != nil {
			return published, err
		}
	}
	if err := ix.cfg.DB.Commit(r.repository, next, pub); err != nil {
		return published, err
	}
	return published, r.fault(FaultCommitted, "")
}

// touched notes another repository whose status a write changed.
func (r *run) touched(repository string) {
	if repository == r.repository {
		return
	}
	if r.others == nil {
		r.others = map[string]bool{}
	}
	r.others[repository] = true
}

// writeView loads what planWrite needs: the recorded writes of the repository's keys, and the
// other layout's copy (and whether its record is stored) of each key that may be written.
func (r *run) writeView(outs []outcome, next map[string]store.TagState) (writeView, error) {
	v := writeView{Repository: r.repository, Layout: r.ix.cfg.Layout, Outs: outs, Old: r.old, Next: next,
		Snapshot: r.req.snapshot, Rivals: map[string]*provider{}, Stored: map[string]bool{}}
	var keys []string
	for _, s := range r.old {
		if s.Key != "" {
			keys = append(keys, s.Key)
		}
	}
	var err error
	if v.Recorded, err = r.ix.cfg.DB.PublishedOf(keys); err != nil {
		return v, err
	}
	// Rivals only of keys that may be written: reading the other layout's tags costs a read of
	// the single repository's whole state.
	var written []string
	for _, out := range outs {
		if needsWrite(v, out) {
			written = append(written, out.state.Key)
		}
	}
	gone := goneKeys(r.old, next)
	for _, key := range append(written, gone...) {
		rival, err := r.rivalOf(key)
		if err != nil || rival == nil {
			if err != nil {
				return v, err
			}
			continue
		}
		v.Rivals[key] = rival
	}
	for _, key := range gone {
		if rival := v.Rivals[key]; rival != nil {
			record, err := r.ix.storedRecord(rival.digest, key, rival.repository, rival.tag)
			if err != nil {
				return v, err
			}
			v.Stored[key] = record != nil
		}
	}
	return v, nil
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
