package index

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/oci-epr/package-registry/internal/events"
	"github.com/oci-epr/package-registry/internal/retry"
)

// LargeRecordsBucket is the object store holding records too big for one NATS message; the
// key-value entry then holds a pointer to the object.
const LargeRecordsBucket = events.LargeRecordsBucket

// pointer is the key-value value of a record stored in the object store. It is JSON, where an
// inline record is gzip, so the first byte tells them apart.
type pointer struct {
	Object string `json:"object"`
}

// Bucket is the index as stored in NATS: the key-value bucket plus the object store for large
// records.
type Bucket struct {
	kv jetstream.KeyValue
	js jetstream.JetStream
	// maxInline is the largest value put inline; larger ones go to the object store.
	maxInline int

	// objectsMu guards objects: several reconciles put (and a follower reads) at once, and the
	// first large record of each creates the handle.
	objectsMu sync.Mutex
	objects   jetstream.ObjectStore
}

// OpenBucket binds to the packages bucket. maxInline is the largest value written inline (use the
// connection's max payload less headroom for headers).
func OpenBucket(js jetstream.JetStream, kv jetstream.KeyValue, maxInline int) *Bucket {
	if maxInline <= 0 {
		maxInline = 512 << 10
	}
	return &Bucket{kv: kv, js: js, maxInline: maxInline}
}

func (b *Bucket) objectStore(ctx context.Context, create bool) (jetstream.ObjectStore, error) {
	// Held across the creation too, so that concurrent first puts create the store once.
	b.objectsMu.Lock()
	defer b.objectsMu.Unlock()
	if b.objects != nil {
		return b.objects, nil
	}
	// Bound as it is when it exists: never updated, so its replicas are the operator's.
	os, err := b.js.ObjectStore(ctx, LargeRecordsBucket)
	if create && errors.Is(err, jetstream.ErrBucketNotFound) {
		st, _ := b.kv.Status(ctx)
		replicas := 1
		if st != nil {
			if bs, ok := st.(*jetstream.KeyValueBucketStatus); ok {
				replicas = bs.StreamInfo().Config.Replicas
			}
		}
		os, err = b.js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{
			Bucket:      LargeRecordsBucket,
			Description: "Package records too large for one key-value entry",
			Storage:     jetstream.FileStorage,
			Replicas:    replicas,
		})
		if errors.Is(err, jetstream.ErrBucketExists) {
			os, err = b.js.ObjectStore(ctx, LargeRecordsBucket) // another writer created it meanwhile
		}
	}
	if err != nil {
		return nil, fmt.Errorf("object store %s: %w", LargeRecordsBucket, err)
	}
	b.objects = os
	return os, nil
}

// Put stores an encoded record under key and returns the bucket revision that holds it. It
// always writes: deciding to skip a write on what a read returned would trust a read that a
// lagging replica of the bucket's stream may answer (key-value gets are direct gets, served by
// any replica), and a skipped needed write leaves the bucket serving other bytes for good.
func (b *Bucket) Put(ctx context.Context, key string, encoded []byte) (uint64, error) {
	value := encoded
	if len(encoded) > b.maxInline {
		os, err := b.objectStore(ctx, true)
		if err != nil {
			return 0, err
		}
		if _, err := os.PutBytes(ctx, key, encoded); err != nil {
			return 0, fmt.Errorf("put large record %s: %w", key, err)
		}
		value, _ = json.Marshal(pointer{Object: key})
	}
	var rev uint64
	err := retryTransient(ctx, func(ctx context.Context) error {
		var err error
		if rev, err = b.kv.Put(ctx, key, value); err != nil {
			return fmt.Errorf("put record %s: %w", key, err)
		}
		return nil
	})
	return rev, err
}

// Delete removes key. It always writes the delete marker, for the reason Put always writes;
// deleting an absent key is not an error.
func (b *Bucket) Delete(ctx context.Context, key string) error {
	return retryTransient(ctx, func(ctx context.Context) error {
		if err := b.kv.Delete(ctx, key); err != nil {
			return fmt.Errorf("delete record %s: %w", key, err)
		}
		return nil
	})
}

// Revisions is what the bucket holds, key by key: the revision of each key's current value.
// The resync compares it with the revisions the indexer recorded when it wrote, so a value it
// did not write (a write whose outcome a crash hid, an operator's put, a lost bucket) is found
// without reading any value.
type Revisions map[string]uint64

// Revisions lists the revision of every key, values left out. It reads through an ordered
// consumer, which the stream's leader serves, not through direct gets that a lagging replica
// may answer.
func (b *Bucket) Revisions(ctx context.Context) (Revisions, error) {
	w, err := b.kv.WatchAll(ctx, jetstream.MetaOnly(), jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("watch revisions: %w", err)
	}
	defer w.Stop()
	out := Revisions{}
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("watch revisions: %w", ctx.Err())
		case e, ok := <-w.Updates():
			if !ok {
				return nil, errors.New("watch revisions: watcher stopped")
			}
			if e == nil { // every current value was delivered
				return out, nil
			}
			if e.Operation() == jetstream.KeyValuePut {
				out[e.Key()] = e.Revision()
			} else {
				delete(out, e.Key())
			}
		}
	}
}

// Bounds of a write's retries. While a NATS cluster elects a new leader for the bucket's stream
// a write goes unanswered; giving up would hand the event back to JetStream, which redelivers it
// only after its back-off (1 s, then 5 s). Short attempts retried here resume within about
// writeAttemptTimeout of the election instead.
var (
	writeAttemptTimeout = 500 * time.Millisecond
	writeBudget         = 20 * time.Second
)

// retryTransient runs write with a bounded time per attempt, again while it fails the way an
// unreachable or leaderless stream makes it fail, for at most writeBudget.
func retryTransient(ctx context.Context, write func(context.Context) error) error {
	return retry.Policy{First: 50 * time.Millisecond, Max: 500 * time.Millisecond,
		Attempt: writeAttemptTimeout, Budget: writeBudget, Retryable: transient}.Do(ctx, write)
}

// transient reports whether err is what a write meets while its stream has no leader or the
// connection is moving to another server, as opposed to a refusal that a retry cannot change.
func transient(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, nats.ErrNoResponders) ||
		errors.Is(err, jetstream.ErrNoStreamResponse) ||
		errors.Is(err, nats.ErrConnectionReconnecting) ||
		errors.Is(err, nats.ErrDisconnected) ||
		isUnavailable(err)
}

// isUnavailable matches JetStream's "unavailable" API errors (503), which it answers while a
// stream's raft group has no quorum.
func isUnavailable(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.Code == 503
}

// resolve turns a key-value value into the encoded record, fetching it from the object store when
// the value is a pointer.
func (b *Bucket) resolve(ctx context.Context, value []byte) ([]byte, error) {
	if len(value) == 0 || value[0] != '{' {
		return value, nil
	}
	var p pointer
	if err := json.Unmarshal(value, &p); err != nil || p.Object == "" {
		return nil, errors.New("bad record pointer")
	}
	os, err := b.objectStore(ctx, false)
	if err != nil {
		return nil, err
	}
	data, err := os.GetBytes(ctx, p.Object)
	if err != nil {
		return nil, fmt.Errorf("get large record %s: %w", p.Object, err)
	}
	return data, nil
}

// Get returns the encoded record under key, or jetstream.ErrKeyNotFound.
func (b *Bucket) Get(ctx context.Context, key string) ([]byte, error) {
	e, err := b.kv.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	return b.resolve(ctx, e.Value())
}

// Keys lists every key in the bucket.
func (b *Bucket) Keys(ctx context.Context) ([]string, error) {
	lister, err := b.kv.ListKeys(ctx)
	if err != nil {
		return nil, err
	}
	out := []string{}
	for k := range lister.Keys() {
		out = append(out, k)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	return out, nil
}
