package indexer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/oci-epr/package-registry/internal/devregistry"
	"github.com/oci-epr/package-registry/internal/events"
	"github.com/oci-epr/package-registry/internal/index"
	"github.com/oci-epr/package-registry/internal/oci"
	"github.com/oci-epr/package-registry/internal/packages"
	"github.com/oci-epr/package-registry/internal/packages/packagetest"
	"github.com/oci-epr/package-registry/internal/store"
	"github.com/oci-epr/package-registry/internal/testkit"
)

// requestCounter counts the registry's requests by kind, can fail tag listings, can corrupt the
// bytes of chosen blobs (as a tampering registry or proxy would) and can run a hook after a tag
// listing was served.
type requestCounter struct {
	mu       sync.Mutex
	counts   map[string]int
	paths    []string // of GET requests for manifests and blobs
	failTags atomic.Bool
	// corrupt holds the digests whose blob bodies are served with their first byte changed.
	corrupt map[string]bool
	// afterTags, when set, is called after each tag listing with the repository listed.
	afterTags func(repository string)
	// search, when set, answers Zot's search path in front of the registry.
	search http.Handler
}

func (c *requestCounter) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		kind := classify(r)
		c.mu.Lock()
		c.counts[kind]++
		if kind == "GET manifest" || kind == "GET blob" {
			c.paths = append(c.paths, r.URL.Path)
		}
		c.mu.Unlock()
		if kind == "tags" && c.failTags.Load() {
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		}
		c.mu.Lock()
		corrupt := kind == "GET blob" && c.corrupt[path.Base(r.URL.Path)]
		afterTags := c.afterTags
		search := c.search
		c.mu.Unlock()
		if search != nil && r.URL.Path == "/v2/_zot/ext/search" {
			search.ServeHTTP(w, r)
			return
		}
		if corrupt {
			w = &corruptingWriter{ResponseWriter: w}
		}
		next.ServeHTTP(w, r)
		if kind == "tags" && afterTags != nil {
			repo := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/v2/"), "/tags/list")
			afterTags(repo)
		}
	})
}

// corruptingWriter changes the first byte of a body: same size, different digest.
type corruptingWriter struct {
	http.ResponseWriter
	done bool
}

func (w *corruptingWriter) Write(p []byte) (int, error) {
	if !w.done && len(p) > 0 {
		w.done = true
		q := append([]byte(nil), p...)
		q[0] ^= 0xff
		return w.ResponseWriter.Write(q)
	}
	return w.ResponseWriter.Write(p)
}

func (c *requestCounter) corruptBlob(digest string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.corrupt == nil {
		c.corrupt = map[string]bool{}
	}
	c.corrupt[digest] = true
}

func (c *requestCounter) setAfterTags(fn func(repository string)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.afterTags = fn
}

func classify(r *http.Request) string {
	p := r.URL.Path
	switch {
	case strings.HasSuffix(p, "/tags/list"):
		return "tags"
	case strings.Contains(p, "/manifests/"):
		return r.Method + " manifest"
	case strings.Contains(p, "/blobs/uploads"):
		return "upload"
	case strings.Contains(p, "/blobs/"):
		return r.Method + " blob"
	}
	return r.Method + " other"
}

func (c *requestCounter) reset() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.counts
	c.counts = map[string]int{}
	c.paths = nil
	return out
}

func (c *requestCounter) getPaths() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.paths...)
}

type harness struct {
	t       *testing.T
	reg     *devregistry.Registry
	counter *requestCounter
	client  *oci.Client
	bucket  *index.Bucket
	dataDir string
	db      *store.DB
	ix      *Indexer
	metrics *Metrics
	logs    *testkit.SyncBuffer
	// tagDigests is the indexer's Config.TagDigests (nil: none).
	tagDigests func(ctx context.Context, repository string) (map[string]string, error)
	// policy is the indexer's Config.Policy, read by start.
	policy Policy
	// hostile misbehaves, on the requests a test picks, between the registry and the counter.
	hostile testkit.HostileRegistry
	// configure, when set, adjusts the indexer's Config in start.
	configure func(*Config)
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{t: t, counter: &requestCounter{counts: map[string]int{}}, dataDir: t.TempDir(), logs: &testkit.SyncBuffer{}}
	reg, err := devregistry.Start(t.Context(), devregistry.Options{Handler: func(next http.Handler) http.Handler {
		return h.counter.wrap(h.hostile.Wrap(next))
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	t.Cleanup(h.hostile.Release) // runs first: the registry's Close waits for trickled requests
	h.reg = reg
	h.client, err = oci.New(oci.Config{Registry: "http://" + reg.Host()})
	if err != nil {
		t.Fatal(err)
	}
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
	h.bucket = index.OpenBucket(js, kv, 0)
	h.start()
	return h
}

// start opens the data directory and builds an indexer over it, as a process start would.
func (h *harness) start() {
	h.t.Helper()
	db, err := store.Open(filepath.Join(h.dataDir, "indexer.db"))
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { db.Close() })
	cache, err := oci.NewBlobCache(filepath.Join(h.dataDir, "blobs"), 64<<20)
	if err != nil {
		h.t.Fatal(err)
	}
	h.db = db
	h.metrics = NewMetrics(nil)
	cfg := Config{
		Layout: Layout{Base: "packages"}, Registry: h.client, Blobs: &oci.Blobs{Cache: cache, Fetcher: h.client},
		Bucket: h.bucket, DB: db, Catalog: h.client.Catalog, Metrics: h.metrics, TagDigests: h.tagDigests, Policy: h.policy,
		Log: slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
	}
	if h.configure != nil {
		h.configure(&cfg)
	}
	h.ix = New(cfg)
}

func (h *harness) stop() { h.db.Close() }

func (h *harness) push(repo, tag string, zip []byte) {
	h.t.Helper()
	if _, err := h.client.PushPackage(h.t.Context(), repo, tag, zip, nil, nil); err != nil {
		h.t.Fatalf("push %s:%s: %v", repo, tag, err)
	}
}

// bucketDocs returns every record in the bucket by key.
func (h *harness) bucketDocs() map[string]*index.Record {
	h.t.Helper()
	keys, err := h.bucket.Keys(h.t.Context())
	if err != nil {
		h.t.Fatal(err)
	}
	out := map[string]*index.Record{}
	for _, k := range keys {
		enc, err := h.bucket.Get(h.t.Context(), k)
		if err != nil {
			h.t.Fatal(err)
		}
		r, err := index.Decode(enc)
		if err != nil {
			h.t.Fatal(err)
		}
		out[k] = r
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func expectDoc(t *testing.T, rec *index.Record, zip []byte) {
	t.Helper()
	want, _, err := packages.ReadBytes(zip, packages.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got packages.Package
	if err := json.Unmarshal(rec.Document, &got); err != nil {
		t.Fatal(err)
	}
	wb, _ := packages.Encode(want)
	gb, _ := packages.Encode(&got)
	if !bytes.Equal(wb, gb) {
		t.Fatalf("document of %s differs from the package read directly:\n%s\nwant\n%s", rec.Key(), gb, wb)
	}
}

func TestIndexerFollowsTheRegistry(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	arts := packagetest.Many(20)
	zips := map[string][]byte{}
	for i, a := range arts {
		zips[index.Key(a.Name, a.Version)] = a.Zip
		if i%2 == 0 {
			h.push("packages/"+a.Name, strings.ReplaceAll(a.Version, "+", "_"), a.Zip)
		} else {
			h.push("packages", a.Name+"-"+a.Version, a.Zip)
		}
	}
	// Tags that are not package versions are skipped.
	h.push("packages/"+arts[0].Name, "latest", arts[0].Zip)

	start := time.Now()
	if err := h.ix.SyncAll(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("indexed %d packages (both layouts) in %v", len(arts), time.Since(start))
	docs := h.bucketDocs()
	if got, want := sortedKeys(docs), sortedKeys(zips); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("bucket keys\n%v\nwant\n%v", got, want)
	}
	for k, rec := range docs {
		expectDoc(t, rec, zips[k])
	}

	// Retag an indexed version with a non-version tag: nothing changes.
	before := h.bucketDocs()
	if err := h.client.Tag(ctx, "packages/"+arts[0].Name, arts[0].Version, "stable"); err != nil {
		t.Fatal(err)
	}
	if err := h.ix.Request(ctx, "packages/"+arts[0].Name, "stable"); err != nil {
		t.Fatal(err)
	}
	if after := h.bucketDocs(); len(after) != len(before) {
		t.Fatalf("retag to a non-version tag changed the bucket: %d → %d records", len(before), len(after))
	}

	// Re-push a tag with new content: the document is replaced.
	a := arts[0]
	spec := packagetest.Spec{Name: a.Name, Version: a.Version, Title: "Changed", Description: "New content."}
	changed := packagetest.Build(spec)
	h.push("packages/"+a.Name, a.Version, changed)
	if err := h.ix.Request(ctx, "packages/"+a.Name, a.Version); err != nil {
		t.Fatal(err)
	}
	expectDoc(t, h.bucketDocs()[index.Key(a.Name, a.Version)], changed)

	// The same package in both layouts: deleting one copy keeps the key.
	h.push("packages", a.Name+"-"+a.Version, changed)
	if err := h.ix.Request(ctx, "packages", a.Name+"-"+a.Version); err != nil {
		t.Fatal(err)
	}
	if err := h.client.DeleteTag(ctx, "packages", a.Name+"-"+a.Version); err != nil {
		t.Fatal(err)
	}
	if err := h.ix.Reconcile(ctx, "packages"); err != nil {
		t.Fatal(err)
	}
	if _, ok := h.bucketDocs()[index.Key(a.Name, a.Version)]; !ok {
		t.Fatal("key deleted although another repository still provides it")
	}

	// Delete a tag: its package leaves the bucket.
	b := arts[2]
	if err := h.client.DeleteTag(ctx, "packages/"+b.Name, b.Version); err != nil {
		t.Fatal(err)
	}
	if err := h.ix.Submit(ctx, "packages/"+b.Name, Hint{}); err != nil {
		t.Fatal(err)
	}
	docs = h.bucketDocs()
	if _, ok := docs[index.Key(b.Name, b.Version)]; ok {
		t.Fatal("deleted tag still indexed")
	}
	if len(docs) != 19 {
		t.Fatalf("bucket holds %d records after one delete, want 19", len(docs))
	}

	// Delete a whole repository (every manifest): all its packages leave.
	repo := "packages/" + arts[4].Name
	tags, err := h.client.Tags(ctx, repo)
	if err != nil {
		t.Fatal(err)
	}
	for _, tag := range tags {
		desc, err := h.client.Resolve(ctx, repo, tag)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.client.DeleteManifest(ctx, repo, desc); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.ix.Reconcile(ctx, repo); err != nil {
		t.Fatal(err)
	}
	for k, rec := range h.bucketDocs() {
		if rec.Repository == repo {
			t.Fatalf("%s still indexed from deleted repository", k)
		}
	}
}

func TestEventOnLargeRepositoryFetchesOnlyTheNewTag(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	const repo = "packages/big"
	for i := range 200 {
		v := fmt.Sprintf("1.%d.0", i)
		h.push(repo, v, packagetest.Build(packagetest.Spec{Name: "big", Version: v}))
	}
	if err := h.ix.Reconcile(ctx, repo); err != nil {
		t.Fatal(err)
	}
	newZip := packagetest.Build(packagetest.Spec{Name: "big", Version: "2.0.0"})
	h.push(repo, "2.0.0", newZip)
	newManifest, err := h.client.Resolve(ctx, repo, "2.0.0")
	if err != nil {
		t.Fatal(err)
	}
	h.counter.reset()
	ev := events.Event{ID: "x", Repository: repo, Tag: "2.0.0", Action: events.ActionPush}
	if err := h.ix.HandleEvent(ctx, ev); err != nil {
		t.Fatal(err)
	}
	paths := h.counter.getPaths()
	got := h.counter.reset()
	t.Logf("registry requests for one new tag among 200: %v", got)
	if got["HEAD manifest"] != 1 || got["GET blob"] != 1 {
		t.Errorf("requests %v: want one resolve and one blob download", got)
	}
	// Manifest reads: the new manifest, and the signature lookup through the referrers tag
	// schema (a 404 for sha256-<hex of the new manifest>); nothing of the 200 indexed tags.
	zipDigest := "sha256:" + fmt.Sprintf("%x", sha256.Sum256(newZip))
	allowed := map[string]bool{
		"/v2/" + repo + "/manifests/" + newManifest.Digest.String():         true,
		"/v2/" + repo + "/manifests/sha256-" + newManifest.Digest.Encoded(): true,
		"/v2/" + repo + "/blobs/" + zipDigest:                               true,
	}
	for _, p := range paths {
		if !allowed[p] {
			t.Errorf("unexpected download %s", p)
		}
	}
	if got["tags"] < 1 {
		t.Error("no tag listing")
	}
	if len(h.bucketDocs()) != 201 {
		t.Fatalf("bucket holds %d records, want 201", len(h.bucketDocs()))
	}
	// A full resync re-resolves every tag but downloads nothing.
	if err := h.ix.Reconcile(ctx, repo); err != nil {
		t.Fatal(err)
	}
	got = h.counter.reset()
	t.Logf("registry requests for a full resync of 201 tags: %v", got)
	if got["GET manifest"] != 0 || got["GET blob"] != 0 {
		t.Errorf("resync downloaded: %v", got)
	}
}

func TestFailedListingDeletesNothing(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	arts := packagetest.Many(4)
	for _, a := range arts {
		h.push("packages/"+a.Name, a.Version, a.Zip)
	}
	repo := "packages/" + arts[0].Name
	if err := h.ix.Reconcile(ctx, repo); err != nil {
		t.Fatal(err)
	}
	before := sortedKeys(h.bucketDocs())
	if err := h.client.DeleteTag(ctx, repo, arts[0].Version); err != nil {
		t.Fatal(err)
	}
	h.counter.failTags.Store(true)
	if err := h.ix.Reconcile(ctx, repo); err == nil {
		t.Fatal("reconcile succeeded while the tag listing failed")
	}
	if after := sortedKeys(h.bucketDocs()); strings.Join(after, ",") != strings.Join(before, ",") {
		t.Fatalf("bucket changed after a failed listing: %v → %v", before, after)
	}
	if got := testutil.ToFloat64(h.metrics.ReconcileError); got != 1 {
		t.Fatalf("reconcile errors = %v, want 1", got)
	}
	h.counter.failTags.Store(false)
	if err := h.ix.Reconcile(ctx, repo); err != nil {
		t.Fatal(err)
	}
	if n := len(h.bucketDocs()); n != len(before)-1 {
		t.Fatalf("after recovery bucket holds %d, want %d", n, len(before)-1)
	}
}

func TestRestartDownloadsNothing(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	for _, a := range packagetest.Many(8) {
		h.push("packages/"+a.Name, a.Version, a.Zip)
	}
	if err := h.ix.SyncAll(ctx); err != nil {
		t.Fatal(err)
	}
	want := sortedKeys(h.bucketDocs())
	h.stop()
	h.start()
	h.counter.reset()
	if err := h.ix.SyncAll(ctx); err != nil {
		t.Fatal(err)
	}
	got := h.counter.reset()
	if got["GET manifest"] != 0 || got["GET blob"] != 0 {
		t.Fatalf("restarted indexer downloaded: %v", got)
	}
	if keys := sortedKeys(h.bucketDocs()); strings.Join(keys, ",") != strings.Join(want, ",") {
		t.Fatalf("bucket after restart %v, want %v", keys, want)
	}
}

// A bucket that lost records (NATS store reset) is repaired by the next sync, without downloads.
func TestSyncRepublishesWhatTheBucketLost(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	for _, a := range packagetest.Many(6) {
		h.push("packages/"+a.Name, a.Version, a.Zip)
	}
	if err := h.ix.SyncAll(ctx); err != nil {
		t.Fatal(err)
	}
	want := sortedKeys(h.bucketDocs())
	for _, k := range want[:3] {
		if err := h.bucket.Delete(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	h.counter.reset()
	if err := h.ix.SyncAll(ctx); err != nil {
		t.Fatal(err)
	}
	if got := sortedKeys(h.bucketDocs()); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("after sync bucket holds %v, want %v", got, want)
	}
	if got := h.counter.reset(); got["GET manifest"] != 0 || got["GET blob"] != 0 {
		t.Fatalf("repair downloaded: %v", got)
	}
}

// Signatures attached as OCI referrers are found at first indexing, and a signature attached
// later is picked up from its push notification, without downloading the zip again.
func TestSignatureReferrers(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	sig := []byte("-----BEGIN PGP SIGNATURE-----\nsig\n-----END PGP SIGNATURE-----\n")

	early := packagetest.Spec{Name: "signed_early", Version: "1.0.0"}
	subject, err := h.client.PushPackage(ctx, "packages/signed_early", "1.0.0", packagetest.Build(early), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.client.PushSignature(ctx, "packages/signed_early", subject, sig); err != nil {
		t.Fatal(err)
	}
	late := packagetest.Spec{Name: "signed_late", Version: "1.0.0"}
	subject, err = h.client.PushPackage(ctx, "packages/signed_late", "1.0.0", packagetest.Build(late), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.ix.SyncAll(ctx); err != nil {
		t.Fatal(err)
	}
	docs := h.bucketDocs()
	if r := docs["signed_early/1.0.0"]; r == nil || r.Signature == nil || !strings.Contains(string(r.Document), "signature_path") {
		t.Fatalf("signature referrer pushed before indexing not found: %+v", r)
	}
	if r := docs["signed_late/1.0.0"]; r == nil || r.Signature != nil {
		t.Fatalf("unsigned package indexed with a signature: %+v", r)
	}

	ref, err := h.client.PushSignature(ctx, "packages/signed_late", subject, sig)
	if err != nil {
		t.Fatal(err)
	}
	h.counter.reset()
	ev := events.Event{ID: "sig", Repository: "packages/signed_late", Digest: ref.Digest.String(), MediaType: ref.MediaType, Action: events.ActionPush}
	if err := h.ix.HandleEvent(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if got := h.counter.reset(); got["GET blob"] != 0 {
		t.Fatalf("picking up a signature downloaded blobs: %v", got)
	}
	r := h.bucketDocs()["signed_late/1.0.0"]
	if r == nil || r.Signature == nil || !strings.Contains(string(r.Document), `"signature_path": "/epr/signed_late/signed_late-1.0.0.zip.sig"`) &&
		!strings.Contains(string(r.Document), `"signature_path":"/epr/signed_late/signed_late-1.0.0.zip.sig"`) {
		t.Fatalf("signature attached later not picked up: %+v", r)
	}
}

func TestMalformedArtifactIsSkippedOnce(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	good := packagetest.Build(packagetest.Spec{Name: "mixed", Version: "1.0.0"})
	h.push("packages/mixed", "1.0.0", good)
	// Valid zip, but under a tag that claims another version.
	h.push("packages/mixed", "1.1.0", good)
	noReadme := packagetest.Spec{Name: "mixed", Version: "1.2.0", NoReadme: true}
	h.push("packages/mixed", "1.2.0", packagetest.Build(noReadme))
	for range 2 {
		if err := h.ix.Reconcile(ctx, "packages/mixed"); err != nil {
			t.Fatal(err)
		}
	}
	docs := h.bucketDocs()
	if len(docs) != 1 || docs["mixed/1.0.0"] == nil {
		t.Fatalf("bucket holds %v, want only mixed/1.0.0", sortedKeys(docs))
	}
	if n := strings.Count(h.logs.String(), "artifact rejected"); n != 2 {
		t.Fatalf("logged %d rejections over two reconciles, want 2 (once per artifact):\n%s", n, h.logs)
	}
	for _, want := range []string{"tag=1.1.0", "tag=1.2.0", "repository=packages/mixed", "digest=sha256:"} {
		if !strings.Contains(h.logs.String(), want) {
			t.Errorf("rejection log lacks %q", want)
		}
	}
	total := testutil.ToFloat64(h.metrics.Rejected.WithLabelValues(string(packages.RuleExpectMismatch))) +
		testutil.ToFloat64(h.metrics.Rejected.WithLabelValues(string(packages.RuleMissingReadme)))
	if total != 2 {
		t.Fatalf("rejection metric = %v, want 2", total)
	}
}

func TestRequestsForOneRepositoryAreCoalesced(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	h.push("packages/burst", "1.0.0", packagetest.Build(packagetest.Spec{Name: "burst", Version: "1.0.0"}))
	h.ix.cfg.Debounce = 50 * time.Millisecond
	h.counter.reset()
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start // all at once, as a burst of notifications arrives
			if err := h.ix.Request(ctx, "packages/burst", "1.0.0"); err != nil {
				t.Error(err)
			}
		}()
	}
	close(start)
	wg.Wait()
	got := h.counter.reset()
	if got["tags"] > 2 {
		t.Fatalf("20 concurrent requests caused %d tag listings, want at most 2", got["tags"])
	}
	if len(h.bucketDocs()) != 1 {
		t.Fatal("package not indexed")
	}
}

func TestLayoutCandidates(t *testing.T) {
	l := Layout{Base: "packages"}
	tests := []struct {
		repo, tag, name, version string
		ok                       bool
	}{
		{"packages/nginx", "1.20.0", "nginx", "1.20.0", true},
		{"packages/nginx", "1.20.0-rc1_build.1", "nginx", "1.20.0-rc1+build.1", true},
		{"packages", "nginx-1.20.0", "nginx", "1.20.0", true},
		{"packages", "acme_logs-1.2.0-rc1", "acme_logs", "1.2.0-rc1", true},
		{"packages/nginx", "latest", "", "", false},
		{"packages/nginx", "sha256-" + strings.Repeat("a", 64), "", "", false},
		{"packages/nginx", "1.0.0.sig", "", "", false},
		{"packages/nginx", "v1.0.0", "", "", false},
		{"packages", "nginx", "", "", false},
		{"packages", "Nginx-1.0.0", "", "", false},
		{"other/nginx", "1.0.0", "", "", false},
		{"packages/a/b", "1.0.0", "", "", false},
		{"packages/Bad", "1.0.0", "", "", false},
	}
	for _, tt := range tests {
		name, version, ok := l.Candidate(tt.repo, tt.tag)
		if ok != tt.ok || name != tt.name || version != tt.version {
			t.Errorf("Candidate(%q, %q) = %q %q %v, want %q %q %v", tt.repo, tt.tag, name, version, ok, tt.name, tt.version, tt.ok)
		}
	}
}

var _ = context.Background
