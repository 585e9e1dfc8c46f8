package status

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/oci-epr/package-registry/internal/events"
)

// testJS is JetStream on a real embedded NATS server.
func testJS(t *testing.T) jetstream.JetStream {
	t.Helper()
	srv, err := events.StartEmbedded(events.EmbeddedOptions{StoreDir: t.TempDir(), Address: "127.0.0.1:-1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// testKV is a status store over the status bucket of a real embedded NATS server, created as
// the indexer creates it.
func testKV(t *testing.T) (*KV, jetstream.KeyValue) {
	t.Helper()
	kv, err := events.Setup{JS: testJS(t), Log: slog.New(slog.DiscardHandler)}.StatusBucket(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewKV(t.Context(), kv, 0)
	if err != nil {
		t.Fatal(err)
	}
	return s, kv
}

func TestKVStoresListsAndDeletes(t *testing.T) {
	ctx := context.Background()
	s, kv := testKV(t)
	if got, err := s.List(ctx, FilterAll); err != nil || len(got) != 0 {
		t.Fatalf("empty bucket: %v %v", got, err)
	}
	a := Tag{Repository: "p/nginx", Tag: "1.0.0", Name: "nginx", Version: "1.0.0", State: Served}
	b := Tag{Repository: "p/nginx", Tag: "1.1.0", Name: "nginx", Version: "1.1.0", State: Rejected}
	c := Tag{Repository: "p", Tag: "latest", State: NotAPackage}
	for _, tg := range []Tag{a, b, c} {
		put(t, s, TagKey(tg), tg)
	}
	put(t, s, KeyIndexer, Indexer{IndexRevision: 3})
	all, err := s.List(ctx, FilterAll)
	if err != nil || len(all) != 4 {
		t.Fatalf("all: %d %v", len(all), err)
	}
	rejected, err := s.List(ctx, TagFilter(Filter{State: Rejected}))
	if err != nil || len(rejected) != 1 || rejected[TagKey(b)] == nil {
		t.Fatalf("rejected: %v %v", rejected, err)
	}
	if err := s.Delete(ctx, TagKey(b)); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "tag.served.none.x.y"); err != nil {
		t.Errorf("deleting a missing key: %v", err)
	}
	if got, err := s.List(ctx, FilterTags); err != nil || len(got) != 2 || got[TagKey(b)] != nil {
		t.Fatalf("after delete: %v %v", got, err)
	}
	// The delete marker is set to expire: the bucket does not keep one per moved tag forever.
	if _, err := kv.Get(ctx, TagKey(b)); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Errorf("deleted key still read: %v", err)
	}
	if got, _ := s.List(ctx, "nothing.>"); len(got) != 0 {
		t.Errorf("no match: %v", got)
	}
}

func TestKVRefusesWhatPassesItsBounds(t *testing.T) {
	s, _ := testKV(t)
	err := s.Put(context.Background(), "tag.x", bytes.Repeat([]byte("x"), events.StatusMaxValue+1))
	if !errors.Is(err, ErrTooBig) {
		t.Fatalf("oversized value: %v", err)
	}
	if !strings.Contains(err.Error(), "tag.x") {
		t.Errorf("error names no key: %v", err)
	}
}

func TestKVCallsHaveADeadline(t *testing.T) {
	s, _ := testKV(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.List(ctx, FilterAll); err == nil {
		t.Error("List with an ended context succeeded")
	}
}

// On a bucket whose delete markers do not expire (a NATS server before 2.11), Compact removes
// them; a bucket that expires them is left to it.
func TestKVCompactsMarkersTheBucketKeeps(t *testing.T) {
	ctx := context.Background()
	cfg := events.StatusBucketConfig(events.StreamOptions{})
	cfg.LimitMarkerTTL = 0
	kv, err := testJS(t).CreateKeyValue(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewKV(ctx, kv, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		key := fmt.Sprintf("tag.served.x.a.%d", i)
		if err := s.Put(ctx, key, []byte("{}")); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, key); err != nil {
			t.Fatal(err)
		}
	}
	values := func() uint64 {
		st, err := kv.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return st.Values()
	}
	if n := values(); n != 3 {
		t.Fatalf("markers before compacting: %d, want 3", n)
	}
	if err := s.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	if n := values(); n != 0 {
		t.Errorf("markers after compacting: %d", n)
	}
}
