package index

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/oci-epr/package-registry/internal/retry"
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
	DB     Replica
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

var (
	errReconnected = errors.New("reconnected to NATS")
	errLeaderMoved = errors.New("the bucket's stream has a new leader")
)

// Timings of the follower on a NATS cluster. The watch's consumer lives on one node; when that
// node dies the watch goes silent without an error until its heartbeats time out (about 10 s),
// so the follower asks the bucket's status itself and re-watches as soon as the leader changes.
// Each question is bounded, so a cluster that is electing costs a retry, not a 5 s wait.
var (
	leaderCheckInterval = 250 * time.Millisecond
	statusTimeout       = 500 * time.Millisecond
	watchStartTimeout   = time.Second
	minRetryDelay       = 100 * time.Millisecond
	maxRetryDelay       = time.Second
)

const maxBatch = 500

// Run follows the bucket until ctx ends, re-establishing the watch after failures: at once
// after a reconnect or a leader change, otherwise after a delay growing from minRetryDelay to
// maxRetryDelay (a cluster electing a leader answers again within a second or two).
func (f *Follower) Run(ctx context.Context) error {
	pauses := retry.Policy{First: minRetryDelay, Max: maxRetryDelay}.Pauses()
	for {
		err := f.follow(ctx)
		if ctx.Err() != nil {
			return nil
		}
		switch {
		case errors.Is(err, errReconnected):
			f.Log.Info("resuming the index watch after a NATS reconnect")
			pauses.Reset()
			continue
		case errors.Is(err, errLeaderMoved):
			f.Log.Info("resuming the index watch on the bucket's new leader")
			pauses.Reset()
			continue
		}
		pause := pauses.NextBackOff()
		f.Log.Warn("index watch interrupted; retrying", "in", pause, "err", err)
		if !retry.Sleep(ctx, pause) {
			return nil
		}
	}
}

func (f *Follower) follow(ctx context.Context) error {
	rev, err := f.DB.KVRevision()
	if err != nil {
		return err
	}
	// Creating a watch on a stream without a leader waits 5 s for an answer; a bounded status
	// request first makes an election a short retry instead.
	status, err := f.status(ctx)
	if err != nil {
		return err
	}
	leader, replicated := status.leader, status.replicated
	var opts []jetstream.WatchOpt
	if rev > 0 {
		if last := status.lastSeq; last < rev {
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
	// The watch lives as long as wctx; cancelling it unsubscribes without waiting for the
	// server to delete the consumer, which on a cluster that lost a node waits on an election.
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	w, err := f.startWatch(wctx, opts)
	if err != nil {
		return err
	}
	updates := w.Updates()
	var reconnects uint64
	if f.Reconnects != nil {
		reconnects = f.Reconnects()
	}
	tick := time.NewTicker(leaderCheckInterval)
	defer tick.Stop()
	for {
		var first jetstream.KeyValueEntry
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			if f.Reconnects != nil && f.Reconnects() != reconnects {
				return errReconnected
			}
			if replicated {
				if st, err := f.status(ctx); err == nil && st.leader != leader {
					return errLeaderMoved
				}
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

// startWatch creates the watch, giving up after watchStartTimeout: the client library waits 5 s
// for a consumer that a node stepping down never creates, and its wait cannot be shortened
// without also ending the watch. Giving up cancels ctx, which ends a watch created late.
func (f *Follower) startWatch(ctx context.Context, opts []jetstream.WatchOpt) (jetstream.KeyWatcher, error) {
	type started struct {
		w   jetstream.KeyWatcher
		err error
	}
	ch := make(chan started, 1)
	go func() {
		w, err := f.Bucket.kv.WatchAll(ctx, opts...)
		ch <- started{w, err}
	}()
	select {
	case s := <-ch:
		return s.w, s.err
	case <-time.After(watchStartTimeout):
		return nil, errors.New("the index watch did not start in time")
	}
}

// bucketStatus is what the follower needs to know of the bucket's stream.
type bucketStatus struct {
	// leader is the node leading the stream.
	leader string
	// replicated is whether the stream has replicas, that is a leader that can move while this
	// connection stays up; an R1 stream moves only with a reconnect.
	replicated bool
	lastSeq    uint64
}

func (f *Follower) status(ctx context.Context) (bucketStatus, error) {
	ctx, cancel := context.WithTimeout(ctx, statusTimeout)
	defer cancel()
	st, err := f.Bucket.kv.Status(ctx)
	if err != nil {
		return bucketStatus{}, err
	}
	bs, ok := st.(*jetstream.KeyValueBucketStatus)
	if !ok {
		return bucketStatus{}, errors.New("unexpected bucket status type")
	}
	info := bs.StreamInfo()
	s := bucketStatus{lastSeq: info.State.LastSeq, replicated: info.Config.Replicas > 1}
	if info.Cluster != nil {
		s.leader = info.Cluster.Leader
	}
	return s, nil
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
