package index

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/oci-epr/package-registry/internal/store"
)

// Change is one applied update of the index: Record is nil for a delete.
type Change struct {
	Key    string
	Record *Record
}

// Follower keeps a replica's store in step with the bucket, resuming from the revision the store
// last applied, and reports every batch of changes it applied.
type Follower struct {
	Bucket *Bucket
	DB     *store.DB
	Log    *slog.Logger
	// OnChange is called after each batch was committed to the store.
	OnChange func([]Change)
	// OnSynced is called each time the watch has caught up with the bucket.
	OnSynced func(revision uint64)
	// OnApplied is called with the revision of every batch committed to the store.
	OnApplied func(revision uint64)
	// OnReject is called for a value that does not decode; it is skipped.
	OnReject func(key string, err error)
	// OnReset is called when the replica dropped everything to re-read the bucket.
	OnReset func()
	// Reconnects, when set, counts the NATS connection's reconnects. A watch does not survive a
	// server restart by itself until its heartbeats time out; a new count restarts it at once.
	Reconnects func() uint64
}

var errReconnected = errors.New("reconnected to NATS")

const maxBatch = 500

// Run follows the bucket until ctx ends, re-establishing the watch after failures.
func (f *Follower) Run(ctx context.Context) error {
	for {
		err := f.follow(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, errReconnected) {
			f.Log.Info("resuming the index watch after a NATS reconnect")
			continue
		}
		f.Log.Warn("index watch interrupted; retrying", "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

func (f *Follower) follow(ctx context.Context) error {
	rev, err := f.DB.KVRevision()
	if err != nil {
		return err
	}
	var opts []jetstream.WatchOpt
	if rev > 0 {
		if last, ok := f.lastRevision(ctx); ok && last < rev {
			// The bucket is older than our replica (recreated): start again from scratch.
			f.Log.Warn("index bucket revision went backwards; re-reading it", "stored", rev, "bucket", last)
			if err := f.DB.ReplacePackages(nil, 0); err != nil {
				return err
			}
			if f.OnReset != nil {
				f.OnReset()
			}
			rev = 0
		}
	}
	if rev > 0 {
		opts = append(opts, jetstream.ResumeFromRevision(rev+1))
	}
	w, err := f.Bucket.kv.WatchAll(ctx, opts...)
	if err != nil {
		return err
	}
	defer w.Stop()
	updates := w.Updates()
	var reconnects uint64
	var tick <-chan time.Time
	if f.Reconnects != nil {
		reconnects = f.Reconnects()
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		tick = t.C
	}
	for {
		var first jetstream.KeyValueEntry
		select {
		case <-ctx.Done():
			return nil
		case <-tick:
			if f.Reconnects() != reconnects {
				return errReconnected
			}
			continue
		case e, ok := <-updates:
			if !ok {
				return errors.New("watch closed")
			}
			if e == nil {
				if f.OnSynced != nil {
					r, _ := f.DB.KVRevision()
					f.OnSynced(r)
				}
				continue
			}
			first = e
		}
		batch := []jetstream.KeyValueEntry{first}
		synced := false
	drain:
		for len(batch) < maxBatch {
			select {
			case e, ok := <-updates:
				if !ok {
					break drain
				}
				if e == nil {
					synced = true
					break drain
				}
				batch = append(batch, e)
			default:
				break drain
			}
		}
		if err := f.apply(ctx, batch); err != nil {
			return err
		}
		if synced && f.OnSynced != nil {
			r, _ := f.DB.KVRevision()
			f.OnSynced(r)
		}
	}
}

func (f *Follower) lastRevision(ctx context.Context) (uint64, bool) {
	st, err := f.Bucket.kv.Status(ctx)
	if err != nil {
		return 0, false
	}
	bs, ok := st.(*jetstream.KeyValueBucketStatus)
	if !ok {
		return 0, false
	}
	return bs.StreamInfo().State.LastSeq, true
}

func (f *Follower) apply(ctx context.Context, batch []jetstream.KeyValueEntry) error {
	var storeChanges []store.PackageChange
	var changes []Change
	var last uint64
	for _, e := range batch {
		last = max(last, e.Revision())
		if e.Operation() != jetstream.KeyValuePut {
			storeChanges = append(storeChanges, store.PackageChange{Key: e.Key()})
			changes = append(changes, Change{Key: e.Key()})
			continue
		}
		encoded, err := f.Bucket.resolve(ctx, e.Value())
		if err != nil {
			return err // transient: the object store may be unreachable; retry the watch
		}
		rec, err := Decode(encoded)
		if err == nil && rec.Key() != e.Key() {
			err = errors.New("record name and version do not match its key")
		}
		if err != nil {
			f.Log.Error("skipping undecodable index record", "key", e.Key(), "revision", e.Revision(), "err", err)
			if f.OnReject != nil {
				f.OnReject(e.Key(), err)
			}
			continue
		}
		storeChanges = append(storeChanges, store.PackageChange{Key: e.Key(), Value: encoded})
		changes = append(changes, Change{Key: e.Key(), Record: rec})
	}
	if err := f.DB.ApplyPackages(storeChanges, last); err != nil {
		return err
	}
	if f.OnApplied != nil {
		f.OnApplied(last)
	}
	if f.OnChange != nil && len(changes) > 0 {
		f.OnChange(changes)
	}
	return nil
}
