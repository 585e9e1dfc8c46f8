package status

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// KV is a Store over a NATS JetStream key-value bucket: the status bucket every process shares
// (events.StatusBucket, created by the indexer, bound by API replicas). Every call has a
// deadline, so a NATS that is away costs a caller Timeout at most.
type KV struct {
	kv      jetstream.KeyValue
	timeout time.Duration
	// markerTTL is set when the bucket lets deletes leave markers that expire (its
	// LimitMarkerTTL): a tag that moves between states must not leave a marker forever.
	markerTTL time.Duration
}

// DefaultTimeout bounds one call to the bucket.
const DefaultTimeout = 10 * time.Second

// ErrTooBig means the bucket refused a value: beyond its value size or its byte bound.
var ErrTooBig = errors.New("status: the status bucket refused the entry (beyond its size bounds)")

// NewKV returns a Store over kv; timeout bounds each call (0: DefaultTimeout).
func NewKV(ctx context.Context, kv jetstream.KeyValue, timeout time.Duration) (*KV, error) {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	k := &KV{kv: kv, timeout: timeout}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	st, err := kv.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("status bucket %s: %w", kv.Bucket(), err)
	}
	if bs, ok := st.(*jetstream.KeyValueBucketStatus); ok {
		k.markerTTL = bs.LimitMarkerTTL()
	}
	return k, nil
}

func (k *KV) Put(ctx context.Context, key string, value []byte) error {
	ctx, cancel := context.WithTimeout(ctx, k.timeout)
	defer cancel()
	_, err := k.kv.Put(ctx, key, value)
	if errors.Is(err, jetstream.ErrMaxBytesExceeded) || isLimitError(err) {
		return fmt.Errorf("%w: %s (%d bytes): %w", ErrTooBig, key, len(value), err)
	}
	return err
}

// isLimitError recognises the server's refusals of a message beyond the bucket's bounds: a
// value beyond its value size, or a put that would pass its byte bound (the server's "maximum
// bytes exceeded" has no code of its own in the client).
func isLimitError(err error) bool {
	return err != nil && (errors.Is(err, jetstream.ErrStreamMessageExceedsMaximum) ||
		strings.Contains(err.Error(), "maximum bytes exceeded") || strings.Contains(err.Error(), "message size exceeds maximum"))
}

// Delete removes key. The marker it leaves expires after the bucket's marker TTL, when it has
// one; a missing key is not an error.
func (k *KV) Delete(ctx context.Context, key string) error {
	ctx, cancel := context.WithTimeout(ctx, k.timeout)
	defer cancel()
	var err error
	if k.markerTTL > 0 {
		err = k.kv.Purge(ctx, key, jetstream.PurgeTTL(k.markerTTL))
	} else {
		err = k.kv.Delete(ctx, key)
	}
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil
	}
	return err
}

// Compact removes the delete markers the bucket does not expire itself (a server without
// marker TTLs); with them it does nothing.
func (k *KV) Compact(ctx context.Context) error {
	if k.markerTTL > 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, k.timeout)
	defer cancel()
	// Every marker: no reader of the status watches for deletes.
	return k.kv.PurgeDeletes(ctx, jetstream.DeleteMarkersOlderThan(-1))
}

// List returns the current entries matching filter: a watch of the filter that ends at the
// marker after the current values, within the deadline.
func (k *KV) List(ctx context.Context, filter string) (map[string][]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, k.timeout)
	defer cancel()
	w, err := k.kv.Watch(ctx, filter, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("status: list %s: %w", filter, err)
	}
	defer w.Stop()
	out := map[string][]byte{}
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("status: list %s: %w", filter, ctx.Err())
		case e, ok := <-w.Updates():
			if !ok {
				return nil, fmt.Errorf("status: list %s: the watch ended early", filter)
			}
			if e == nil {
				return out, nil
			}
			if e.Operation() == jetstream.KeyValuePut {
				out[e.Key()] = e.Value()
			}
		}
	}
}
