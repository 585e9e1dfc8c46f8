package index

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/oci-epr/package-registry/internal/events"
	"github.com/oci-epr/package-registry/internal/store"
)

func TestKeyRoundTrip(t *testing.T) {
	for _, tt := range []struct{ name, version, key string }{
		{"nginx", "1.20.0", "nginx/1.20.0"},
		{"acme_logs", "1.2.0-rc1+build.5", "acme_logs/1.2.0-rc1_build.5"},
	} {
		if got := Key(tt.name, tt.version); got != tt.key {
			t.Errorf("Key = %q, want %q", got, tt.key)
		}
		n, v, ok := SplitKey(tt.key)
		if !ok || n != tt.name || v != tt.version {
			t.Errorf("SplitKey(%q) = %q %q %v", tt.key, n, v, ok)
		}
	}
	for _, bad := range []string{"", "nginx", "/1.0.0", "nginx/"} {
		if _, _, ok := SplitKey(bad); ok {
			t.Errorf("SplitKey(%q) ok", bad)
		}
	}
}

func testRecord(name, version string, docBytes int) *Record {
	doc := map[string]any{"name": name, "version": version}
	if docBytes > 0 {
		pad := make([]byte, docBytes/2)
		_, _ = rand.Read(pad)
		doc["pad"] = pad // random bytes do not compress: forces the large-record path
	}
	raw, _ := json.Marshal(doc)
	return &Record{Name: name, Version: version, Document: raw, Repository: "packages/" + name, Tag: version,
		ManifestDigest: "sha256:00", Zip: Blob{Digest: "sha256:11", Size: 3}, IndexedAt: time.Unix(5, 0).UTC()}
}

func TestEncodeDecode(t *testing.T) {
	r := testRecord("nginx", "1.0.0", 0)
	enc, err := Encode(r)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	if got.Key() != "nginx/1.0.0" || !bytes.Equal(got.Document, r.Document) || got.Zip != r.Zip {
		t.Fatalf("decoded %+v", got)
	}
	for name, bad := range map[string][]byte{"empty": nil, "not gzip": []byte("{}"), "truncated": enc[:len(enc)/2]} {
		if _, err := Decode(bad); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
	// Coders are pooled: a failed decode must leave none behind that spoils the next one.
	for i := range 3 {
		other := testRecord("apache", fmt.Sprintf("2.0.%d", i), 0)
		enc, err := Encode(other)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := Decode(enc); err != nil || got.Key() != other.Key() || !bytes.Equal(got.Document, other.Document) {
			t.Fatalf("decode after reuse: %+v, %v", got, err)
		}
	}
}

// BenchmarkEncodeDecode: one record of a typical package document's size, as a cold sync
// encodes it and a replica's catch-up decodes it.
func BenchmarkEncodeDecode(b *testing.B) {
	streams := make([]map[string]any, 0, 8)
	for i := range 8 {
		streams = append(streams, map[string]any{"type": "logs", "dataset": fmt.Sprintf("nginx.stream%d", i),
			"title": "Nginx access logs", "release": "ga", "streams": []any{map[string]any{"input": "logfile",
				"vars": []any{map[string]any{"name": "paths", "type": "text", "multi": true, "default": []string{"/var/log/nginx/access.log*"}}}}}})
	}
	doc, _ := json.Marshal(map[string]any{"name": "nginx", "version": "1.2.3", "description": "Collect logs and metrics from Nginx HTTP servers with Elastic Agent.", "data_streams": streams})
	r := testRecord("nginx", "1.2.3", 0)
	r.Document = doc
	b.ReportAllocs()
	for b.Loop() {
		enc, err := Encode(r)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Decode(enc); err != nil {
			b.Fatal(err)
		}
	}
}

type fixture struct {
	srv *events.Embedded
	nc  *nats.Conn
	b   *Bucket
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	srv, err := events.StartEmbedded(events.EmbeddedOptions{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, _ := jetstream.New(nc)
	kv, err := events.EnsurePackagesBucket(t.Context(), js, 1)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{srv: srv, nc: nc, b: OpenBucket(js, kv, 64<<10)}
}

func (f *fixture) put(t *testing.T, r *Record) {
	t.Helper()
	enc, err := Encode(r)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.b.Put(t.Context(), r.Key(), enc); err != nil {
		t.Fatal(err)
	}
}

// follow runs a follower until it has caught up and returns what its store holds.
func follow(t *testing.T, b *Bucket, db *store.DB) (map[string]*Record, []Change) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	var mu sync.Mutex
	var changes []Change
	var applied uint64
	synced := make(chan struct{}, 1)
	f := &Follower{Bucket: b, DB: db, Log: slog.New(slog.DiscardHandler),
		OnChange:  func(c []Change) { mu.Lock(); changes = append(changes, c...); mu.Unlock() },
		OnApplied: func(rev uint64) { mu.Lock(); applied = rev; mu.Unlock() },
		OnSynced: func(uint64) {
			select {
			case synced <- struct{}{}:
			default:
			}
		}}
	done := make(chan struct{})
	go func() { defer close(done); _ = f.Run(ctx) }()
	select {
	case <-synced:
	case <-time.After(3 * time.Minute): // a generous outer limit, not a measurement
		t.Fatal("follower never caught up")
	}
	cancel()
	<-done
	if rev, _ := db.KVRevision(); len(changes) > 0 && applied != rev {
		t.Fatalf("OnApplied reported revision %d, the store holds %d", applied, rev)
	}
	got := map[string]*Record{}
	_ = db.ForEachPackage(func(k string, v []byte) error {
		r, err := Decode(v)
		if err != nil {
			t.Fatalf("store holds undecodable %s: %v", k, err)
		}
		got[k] = r
		return nil
	})
	return got, changes
}

// A document of several MB that does not compress still travels, through the object store, with
// the server's default 1 MiB message limit.
func TestSeveralMegabyteRecord(t *testing.T) {
	f := newFixture(t)
	f.b = OpenBucket(f.b.js, f.b.kv, int(f.nc.MaxPayload())-16<<10)
	big := testRecord("big", "1.0.0", 6<<20)
	f.put(t, big)
	db, err := store.Open(filepath.Join(t.TempDir(), "replica.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got, _ := follow(t, f.b, db)
	if r := got["big/1.0.0"]; r == nil || !bytes.Equal(r.Document, big.Document) {
		t.Fatalf("several-MB record did not round-trip")
	}
	t.Logf("document of %d bytes stored and followed with max payload %d", len(big.Document), f.nc.MaxPayload())
}

func TestFollowerResumesAndHandlesLargeRecords(t *testing.T) {
	f := newFixture(t)
	f.put(t, testRecord("a", "1.0.0", 0))
	f.put(t, testRecord("b", "1.0.0", 200<<10)) // over maxInline: goes through the object store
	db, err := store.Open(filepath.Join(t.TempDir(), "replica.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got, changes := follow(t, f.b, db)
	if len(got) != 2 || got["b/1.0.0"] == nil || len(got["b/1.0.0"].Document) < 100<<10 {
		t.Fatalf("replica holds %d records", len(got))
	}
	if len(changes) != 2 {
		t.Fatalf("first follow reported %d changes, want 2", len(changes))
	}
	// A put of identical bytes is not a change.
	f.put(t, testRecord("a", "1.0.0", 0))
	// Changes while the replica is away: one delete, one new record.
	if err := f.b.Delete(t.Context(), "a/1.0.0"); err != nil {
		t.Fatal(err)
	}
	f.put(t, testRecord("c", "2.0.0", 0))
	got, changes = follow(t, f.b, db)
	if _, ok := got["a/1.0.0"]; ok || got["c/2.0.0"] == nil || got["b/1.0.0"] == nil || len(got) != 2 {
		t.Fatalf("after resume replica holds %v", keys(got))
	}
	if len(changes) != 2 {
		t.Fatalf("resumed follow reported %d changes, want only the 2 new ones: %+v", len(changes), changes)
	}
	// A hostile value is skipped, the rest still applies.
	if _, err := f.b.kv.Put(t.Context(), "bad/1.0.0", []byte("not a record")); err != nil {
		t.Fatal(err)
	}
	f.put(t, testRecord("d", "1.0.0", 0))
	got, _ = follow(t, f.b, db)
	if got["d/1.0.0"] == nil || got["bad/1.0.0"] != nil {
		t.Fatalf("after bad value replica holds %v", keys(got))
	}
	if err := f.b.Delete(t.Context(), "absent/1.0.0"); err != nil {
		t.Fatalf("deleting an absent key: %v", err)
	}
}

func keys(m map[string]*Record) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestEncodeKeepsHTMLCharacters(t *testing.T) {
	r := testRecord("a", "1.0.0", 0)
	r.Document = json.RawMessage(`{"name":"a","default":"<b> & </b>"}`)
	enc, err := Encode(r)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(got.Document, []byte(`"<b> & </b>"`)) {
		t.Fatalf("document came back as %s", got.Document)
	}
}

// Up to four reconciles put records at once; the first large ones all reach for the object-store
// handle, which must be created and shared without a data race (run with -race).
func TestConcurrentLargePuts(t *testing.T) {
	f := newFixture(t)
	var wg sync.WaitGroup
	recs := make([]*Record, 4)
	for i := range recs {
		recs[i] = testRecord("big", "1.0."+string(rune('0'+i)), 256<<10)
	}
	for _, r := range recs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			enc, err := Encode(r)
			if err != nil {
				t.Error(err)
				return
			}
			if _, err := f.b.Put(t.Context(), r.Key(), enc); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	for _, r := range recs {
		enc, err := f.b.Get(t.Context(), r.Key())
		if err != nil {
			t.Fatal(err)
		}
		got, err := Decode(enc)
		if err != nil || !bytes.Equal(got.Document, r.Document) {
			t.Fatalf("%s did not round-trip: %v", r.Key(), err)
		}
	}
}

// Writes never depend on a read: putting the value the bucket already holds writes again (a read
// answered by a lagging replica must not be able to skip a needed write), and Revisions reports
// the revision each write returned, deleted keys left out.
func TestWritesAreUnconditionalAndRevisionsTellThem(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	enc := []byte("same value")
	first, err := f.b.Put(ctx, "a/1.0.0", enc)
	if err != nil {
		t.Fatal(err)
	}
	second, err := f.b.Put(ctx, "a/1.0.0", enc)
	if err != nil {
		t.Fatal(err)
	}
	if second <= first {
		t.Fatalf("second put of the same value returned revision %d after %d: it was skipped", second, first)
	}
	large := bytes.Repeat([]byte("x"), 100<<10) // beyond maxInline: object store plus pointer
	third, err := f.b.Put(ctx, "b/1.0.0", large)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.b.Put(ctx, "c/1.0.0", enc); err != nil {
		t.Fatal(err)
	}
	if err := f.b.Delete(ctx, "c/1.0.0"); err != nil {
		t.Fatal(err)
	}
	if err := f.b.Delete(ctx, "never/1.0.0"); err != nil {
		t.Fatalf("deleting an absent key: %v", err)
	}
	revs, err := f.b.Revisions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Revisions{"a/1.0.0": second, "b/1.0.0": third}); !reflect.DeepEqual(revs, want) {
		t.Fatalf("revisions %v, want %v", revs, want)
	}
	if got, err := f.b.Get(ctx, "b/1.0.0"); err != nil || !bytes.Equal(got, large) {
		t.Fatalf("large record read back: %d bytes, %v", len(got), err)
	}
}

// Load reads back every record a replica holds, skipping (and logging) one that does not decode.
func TestLoadSkipsUndecodableRecords(t *testing.T) {
	db, err := store.Open(filepath.Join(t.TempDir(), "replica.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var changes []store.PackageChange
	for i := range 40 {
		enc, err := Encode(&Record{Name: "p", Version: fmt.Sprintf("1.0.%d", i), Document: json.RawMessage(`{}`)})
		if err != nil {
			t.Fatal(err)
		}
		changes = append(changes, store.PackageChange{Key: Key("p", fmt.Sprintf("1.0.%d", i)), Value: enc})
	}
	changes = append(changes, store.PackageChange{Key: "broken/1.0.0", Value: []byte("not gzip")})
	if err := db.ApplyPackages(changes, 7); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	recs, err := Load(db, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 40 || !bytes.Contains(logs.Bytes(), []byte("broken/1.0.0")) {
		t.Fatalf("loaded %d records, want 40; logs:\n%s", len(recs), logs.String())
	}
}
