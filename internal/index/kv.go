package index

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/oci-epr/package-registry/internal/events"
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

// Put stores an encoded record under key. It writes nothing when the bucket already holds the
// same value, so replicas see no spurious change.
func (b *Bucket) Put(ctx context.Context, key string, encoded []byte) error {
	value := encoded
	if len(encoded) > b.maxInline {
		os, err := b.objectStore(ctx, true)
		if err != nil {
			return err
		}
		if _, err := os.PutBytes(ctx, key, encoded); err != nil {
			return fmt.Errorf("put large record %s: %w", key, err)
		}
		value, _ = json.Marshal(pointer{Object: key})
	}
	return retryTransient(ctx, func(ctx context.Context) error {
		if cur, err := b.kv.Get(ctx, key); err == nil && bytes.Equal(cur.Value(), value) && len(encoded) <= b.maxInline {
			return nil
		}
		if _, err := b.kv.Put(ctx, key, value); err != nil {
			return fmt.Errorf("put record %s: %w", key, err)
		}
		return nil
	})
}

// Delete removes key. Deleting an absent key is not an error.
func (b *Bucket) Delete(ctx context.Context, key string) error {
	return retryTransient(ctx, func(ctx context.Context) error {
		if _, err := b.kv.Get(ctx, key); errors.Is(err, jetstream.ErrKeyNotFound) {
			return nil
		}
		if err := b.kv.Delete(ctx, key); err != nil {
			return fmt.Errorf("delete record %s: %w", key, err)
		}
		return nil
	})
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
	deadline := time.Now().Add(writeBudget)
	delay := 50 * time.Millisecond
	for {
		actx, cancel := context.WithTimeout(ctx, writeAttemptTimeout)
		err := write(actx)
		cancel()
		if err == nil || ctx.Err() != nil || !transient(err) || time.Now().Add(delay).After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(delay):
		}
		delay = min(2*delay, 500*time.Millisecond)
	}
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

// Has reports whether key is in the bucket, without reading a large record's object.
func (b *Bucket) Has(ctx context.Context, key string) (bool, error) {
	_, err := b.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return false, nil
	}
	return err == nil, err
}

// resolve turns a key-value value into the encoded record, fetching it from the object store when
// the value is a pointer.
func (b *Bucket) resolve(ctx context.Context, value []byte) ([]byte, error) {
	if len(value) == 0 || value[0] != '{' {
		return value, nil
	}
	var p pointer
	if err := json.Unmarshal(value, &p); err != nil || p.Object == "" {
		return nil, fmt.Errorf("bad record pointer")
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
