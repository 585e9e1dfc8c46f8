package service

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oci-epr/package-registry/internal/api"
	"github.com/oci-epr/package-registry/internal/devregistry"
	"github.com/oci-epr/package-registry/internal/events"
	"github.com/oci-epr/package-registry/internal/oci"
	"github.com/oci-epr/package-registry/internal/packages/packagetest"
	"github.com/oci-epr/package-registry/internal/process"
	"github.com/oci-epr/package-registry/internal/testkit"
)

const testToken = "e2e-secret-token"

// forwarder lets a listener exist (and have an address) before the handler it serves.
// It counts the webhook deliveries it answered with a 5xx (the registry retries those).
type forwarder struct {
	h               atomic.Pointer[http.Handler]
	webhookFailures atomic.Int64
	// tap, if set, sees every webhook delivery first; true means it answered it.
	tap func(w http.ResponseWriter, r *http.Request, next http.Handler) bool
}

func (f *forwarder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f.tap != nil && strings.HasPrefix(r.URL.Path, "/webhooks/") {
		next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { f.forward(w, r) })
		if f.tap(w, r, next) {
			return
		}
	}
	f.forward(w, r)
}

func (f *forwarder) forward(w http.ResponseWriter, r *http.Request) {
	h := f.h.Load()
	if h == nil {
		http.Error(w, "starting", http.StatusServiceUnavailable)
		return
	}
	if strings.HasPrefix(r.URL.Path, "/webhooks/") {
		sw := &statusWriter{ResponseWriter: w}
		(*h).ServeHTTP(sw, r)
		if sw.status >= 500 {
			f.webhookFailures.Add(1)
		}
		return
	}
	(*h).ServeHTTP(w, r)
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

type stack struct {
	t       *testing.T
	reg     *devregistry.Registry
	client  *oci.Client
	all     *AllInOne
	base    string
	ctx     context.Context
	dataDir string
	// blobGets counts GET requests the registry served per blob path.
	blobGets *sync.Map
	// webhookFailures counts the notifications answered with a 5xx.
	webhookFailures *atomic.Int64
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.DiscardHandler)
}

// startStack runs a registry whose notifications go to an all-in-one server, as a user would set
// them up.
func startStack(t *testing.T) *stack {
	t.Helper()
	return startStackWith(t, stackOptions{hooks: WebhookOptions{Token: testToken}})
}

// stackOptions vary a test stack: the API listener's timeouts, the webhook options, and an
// external NATS (a cluster) with the replica count its resources get.
type stackOptions struct {
	timeouts process.Timeouts
	hooks    WebhookOptions
	natsURL  string
	replicas int
	// requireSignatures is the indexer's -require-package-signatures.
	requireSignatures bool
	// noNotifications leaves the registry without a notification endpoint, so that only what a
	// test posts to the webhooks (or a resync) makes the indexer look.
	noNotifications bool
	// webhookTap sees every webhook delivery before the pipeline; true means it answered it.
	webhookTap func(w http.ResponseWriter, r *http.Request, next http.Handler) bool
	// registryProxy, when set, puts a proxy in front of the registry for the pipeline (the
	// test's own client pushes to the registry itself): a registry that misbehaves.
	registryProxy func(next http.Handler) http.Handler
	// resync is the indexer's -resync-interval (0: the start-up resync only).
	resync time.Duration
}

// startStackWith is startStack with the options given.
func startStackWith(t *testing.T, o stackOptions) *stack {
	t.Helper()
	timeouts, hooks := o.timeouts, o.hooks
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	fwd := &forwarder{tap: o.webhookTap}
	ln, err := process.Listen("api", "127.0.0.1:0", fwd)
	if err != nil {
		t.Fatal(err)
	}
	ln.SetTimeouts(timeouts)
	blobGets := &sync.Map{}
	countBlobs := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/sha256:") {
				n, _ := blobGets.LoadOrStore(r.URL.Path, new(atomic.Int64))
				n.(*atomic.Int64).Add(1)
			}
			next.ServeHTTP(w, r)
		})
	}
	notifications := []devregistry.Notification{{
		URL:       "http://" + ln.Addr() + "/webhooks/distribution",
		Headers:   http.Header{"Authorization": {"Bearer " + testToken}},
		Timeout:   5 * time.Second,
		Threshold: 3,
		Backoff:   100 * time.Millisecond,
		// What the deploy config ignores, as the docs advise.
		IgnoreActions: []string{"pull", "mount"},
	}}
	if o.noNotifications {
		notifications = nil
	}
	reg, err := devregistry.Start(ctx, devregistry.Options{Handler: countBlobs, Notifications: notifications})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	regCfg := oci.Config{Registry: "http://" + reg.Host()}
	client, err := oci.New(regCfg)
	if err != nil {
		t.Fatal(err)
	}
	if o.registryProxy != nil {
		target, err := url.Parse(reg.URL())
		if err != nil {
			t.Fatal(err)
		}
		px := httptest.NewServer(o.registryProxy(httputil.NewSingleHostReverseProxy(target)))
		t.Cleanup(px.Close)
		regCfg = oci.Config{Registry: px.URL}
	}
	log := testLogger(t)
	cfg := api.DefaultConfig()
	dataDir := t.TempDir()
	all, err := StartAllInOne(ctx, AllInOneOptions{
		API: APIOptions{Config: cfg, Registry: regCfg, Replicas: o.replicas},
		Indexer: IndexerOptions{Registry: regCfg, Repository: "packages", Stream: events.StreamOptions{Replicas: o.replicas},
			RequirePackageSignatures: o.requireSignatures, ResyncInterval: o.resync},
		DataDir: dataDir,
		NATSURL: o.natsURL,
		Webhook: hooks,
		Log:     log,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { all.Close() })
	var h http.Handler = all.API.Server
	fwd.h.Store(&h)
	served := make(chan struct{})
	go func() { defer close(served); _ = process.Serve(ctx, log, ln) }()
	t.Cleanup(func() { cancel(); <-served })
	s := &stack{t: t, reg: reg, client: client, all: all, base: "http://" + ln.Addr(), ctx: ctx, dataDir: dataDir, blobGets: blobGets,
		webhookFailures: &fwd.webhookFailures}
	s.eventually("all-in-one ready", 15*time.Second, func() bool { return all.Ready() })
	return s
}

func (s *stack) eventually(what string, within time.Duration, cond func() bool) time.Duration {
	s.t.Helper()
	return testkit.Eventually(s.t, within, what, cond)
}

func get(t *testing.T, url string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

type searchItem struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

func search(t *testing.T, base, query string) ([]searchItem, *http.Response, []byte) {
	t.Helper()
	resp, body := get(t, base+"/search?"+query)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/search: %d %s", resp.StatusCode, body)
	}
	var items []searchItem
	if err := json.Unmarshal(body, &items); err != nil {
		t.Fatalf("/search body: %v\n%s", err, body)
	}
	return items, resp, body
}

func has(items []searchItem, name, version string) bool {
	for _, it := range items {
		if it.Name == name && it.Version == version {
			return true
		}
	}
	return false
}

func TestAllInOneEndToEnd(t *testing.T) {
	s := startStack(t)
	ctx := s.ctx

	// Nothing indexed yet: mock packages, flagged.
	items, resp, _ := search(t, s.base, "")
	if resp.Header.Get("X-Package-Source") != "mock" || len(items) == 0 {
		t.Fatalf("empty store: X-Package-Source=%q, %d items; want mock packages", resp.Header.Get("X-Package-Source"), len(items))
	}

	integration := packagetest.Integration()
	zip := packagetest.Build(integration)
	sig := []byte("-----BEGIN PGP SIGNATURE-----\nnot a real signature\n-----END PGP SIGNATURE-----\n")
	pushed := time.Now()
	if _, err := s.client.PushPackage(ctx, "packages/"+integration.Name, integration.Version, zip, sig, nil); err != nil {
		t.Fatal(err)
	}
	pushTook := time.Since(pushed)
	s.eventually("pushed package in /search", 10*time.Second, func() bool {
		items, _, _ := search(t, s.base, "")
		return has(items, integration.Name, integration.Version)
	})
	t.Logf("push start → visible in /search: %v (the oras push itself took %v)", time.Since(pushed), pushTook)

	items, resp, _ = search(t, s.base, "")
	if resp.Header.Get("X-Package-Source") == "mock" || len(items) != 1 {
		t.Fatalf("after the first real package: X-Package-Source=%q, %d items; want the real package only", resp.Header.Get("X-Package-Source"), len(items))
	}

	// The zip downloads byte for byte; the signature and a static file are served.
	zipURL := fmt.Sprintf("%s/epr/%s/%s-%s.zip", s.base, integration.Name, integration.Name, integration.Version)
	resp, body := get(t, zipURL)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, zip) {
		t.Fatalf("zip download: %d, %d bytes, equal=%v", resp.StatusCode, len(body), bytes.Equal(body, zip))
	}
	if resp.Header.Get("Content-Length") != fmt.Sprint(len(zip)) {
		t.Fatalf("zip Content-Length = %q", resp.Header.Get("Content-Length"))
	}
	// All-in-one: the zip the indexer fetched to parse is served from the same cache.
	zipPath := "/v2/packages/" + integration.Name + "/blobs/sha256:" + fmt.Sprintf("%x", sha256.Sum256(zip))
	if n, ok := s.blobGets.Load(zipPath); !ok || n.(*atomic.Int64).Load() != 1 {
		t.Fatalf("zip fetched from the registry %v times, want once (by the indexer)", n)
	}
	resp, body = get(t, zipURL+".sig")
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, sig) {
		t.Fatalf("signature: %d %q", resp.StatusCode, body)
	}
	resp, body = get(t, fmt.Sprintf("%s/package/%s/%s/docs/README.md", s.base, integration.Name, integration.Version))
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("#")) || resp.Header.Get("Content-Type") != "text/markdown; charset=utf-8" {
		t.Fatalf("README: %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}

	// A second version, then deleting its tag removes it again.
	v2 := integration
	v2.Version = "9.9.9"
	if _, err := s.client.PushPackage(ctx, "packages/"+v2.Name, v2.Version, packagetest.Build(v2), nil, nil); err != nil {
		t.Fatal(err)
	}
	s.eventually("second version in /search", 10*time.Second, func() bool {
		items, _, _ := search(t, s.base, "all=true")
		return has(items, v2.Name, v2.Version)
	})
	if err := s.client.DeleteTag(ctx, "packages/"+v2.Name, v2.Version); err != nil {
		t.Fatal(err)
	}
	gone := s.eventually("deleted tag gone from /search", 10*time.Second, func() bool {
		items, _, _ := search(t, s.base, "all=true")
		return !has(items, v2.Name, v2.Version) && has(items, integration.Name, integration.Version)
	})
	t.Logf("tag delete → gone from /search: %v", gone)
}

func TestReplicasFollowAndSurviveNATSOutage(t *testing.T) {
	s := startStack(t)
	ctx := s.ctx
	for _, a := range packagetest.Many(12) {
		if _, err := s.client.PushPackage(ctx, "packages/"+a.Name, a.Version, a.Zip, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	var want []byte
	s.eventually("12 packages indexed", 15*time.Second, func() bool {
		items, _, body := search(t, s.base, "all=true&prerelease=true")
		want = body
		return len(items) == 12
	})

	// A replica started later against the same NATS serves the same bytes.
	replicaDir := t.TempDir()
	nc, err := events.Connect(s.all.Conn.ConnectedUrl(), "replica", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := StartAPI(ctx, nc, APIOptions{Config: api.DefaultConfig(), DataDir: replicaDir})
	if err != nil {
		t.Fatal(err)
	}
	replicaSearch := func(r *API) []byte {
		rec := &bodyRecorder{header: http.Header{}}
		req, _ := http.NewRequest(http.MethodGet, "/search?all=true&prerelease=true", nil)
		r.Server.ServeHTTP(rec, req)
		return rec.body.Bytes()
	}
	s.eventually("replica serves the same /search bytes", 15*time.Second, func() bool {
		return bytes.Equal(replicaSearch(rep), want)
	})
	rep.Close()
	nc.Close()

	// NATS goes away; a restarted replica serves its last index from bbolt.
	url := s.all.Conn.ConnectedUrl()
	s.all.NATS.Shutdown()
	nc, err = events.Connect(url, "replica", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	rep, err = StartAPI(ctx, nc, APIOptions{Config: api.DefaultConfig(), DataDir: replicaDir})
	if err != nil {
		t.Fatal(err)
	}
	defer rep.Close()
	if got := replicaSearch(rep); !bytes.Equal(got, want) {
		t.Fatalf("restarted replica with NATS down serves\n%s\nwant\n%s", got, want)
	}
}

// bodyRecorder is a minimal http.ResponseWriter.
type bodyRecorder struct {
	header http.Header
	body   bytes.Buffer
	code   int
}

func (r *bodyRecorder) Header() http.Header         { return r.header }
func (r *bodyRecorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *bodyRecorder) WriteHeader(code int)        { r.code = code }

// NATS restarts under a running pipeline: the webhook answers 503 meanwhile, the registry
// retries, and every part reconnects on its own — a package pushed during the outage appears.
func TestPipelineSurvivesNATSRestart(t *testing.T) {
	s := startStack(t)
	ctx := s.ctx
	first := packagetest.ContentPackage()
	if _, err := s.client.PushPackage(ctx, "packages/"+first.Name, first.Version, packagetest.Build(first), nil, nil); err != nil {
		t.Fatal(err)
	}
	s.eventually("first package", 10*time.Second, func() bool {
		items, _, _ := search(t, s.base, "")
		return has(items, first.Name, first.Version)
	})

	addr := s.all.NATS.Address()
	s.all.NATS.Shutdown()
	failedBefore := s.webhookFailures.Load()
	second := packagetest.InputPackage()
	if _, err := s.client.PushPackage(ctx, "packages/"+second.Name, second.Version, packagetest.Build(second), nil, nil); err != nil {
		t.Fatal(err)
	}
	// NATS comes back only after the push's notification was refused, so that what brings the
	// package in is the registry's retry.
	s.eventually("a notification refused while NATS is down", 10*time.Second, func() bool {
		return s.webhookFailures.Load() > failedBefore
	})
	restarted, err := events.StartEmbedded(events.EmbeddedOptions{StoreDir: filepath.Join(s.dataDir, "nats"), Address: addr})
	if err != nil {
		t.Fatal(err)
	}
	s.all.NATS = restarted
	took := s.eventually("package pushed during the outage", 30*time.Second, func() bool {
		items, _, _ := search(t, s.base, "")
		return has(items, second.Name, second.Version) && has(items, first.Name, first.Version)
	})
	t.Logf("NATS back → package pushed during the outage visible after %v", took)
}

// With -require-package-signatures, through the real registry and its notifications: an
// unsigned push is not served (not in /search, 404 on its document and zip); once its signature
// referrer is pushed, the referrer's notification gets it served, with signature_path.
func TestUnsignedVersionServedOnceSigned(t *testing.T) {
	s := startStackWith(t, stackOptions{hooks: WebhookOptions{Token: testToken}, requireSignatures: true})
	ctx := s.ctx
	sig := []byte("-----BEGIN PGP SIGNATURE-----\nnot a real signature\n-----END PGP SIGNATURE-----\n")
	signed := packagetest.Spec{Name: "acme_signed", Version: "1.0.0"}
	if _, err := s.client.PushPackage(ctx, "packages/"+signed.Name, signed.Version, packagetest.Build(signed), sig, nil); err != nil {
		t.Fatal(err)
	}
	unsigned := packagetest.Spec{Name: "acme_unsigned", Version: "1.0.0"}
	subject, err := s.client.PushPackage(ctx, "packages/"+unsigned.Name, unsigned.Version, packagetest.Build(unsigned), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.eventually("signed package in /search", 10*time.Second, func() bool {
		items, _, _ := search(t, s.base, "")
		return has(items, signed.Name, signed.Version)
	})
	// Both pushes notified at once; wait until the indexer has decided about the unsigned one.
	s.eventually("unsigned package seen by the indexer", 10*time.Second, func() bool {
		tags, err := s.all.Indexer.db.Tags("packages/" + unsigned.Name)
		return err == nil && tags[unsigned.Version].AwaitingSignature
	})
	items, _, _ := search(t, s.base, "all=true")
	if has(items, unsigned.Name, unsigned.Version) {
		t.Fatalf("unsigned version served: %v", items)
	}
	docURL := fmt.Sprintf("%s/package/%s/%s/", s.base, unsigned.Name, unsigned.Version)
	if resp, body := get(t, docURL); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unsigned version's document: %d %s", resp.StatusCode, body)
	}
	zipURL := fmt.Sprintf("%s/epr/%s/%s-%s.zip", s.base, unsigned.Name, unsigned.Name, unsigned.Version)
	if resp, _ := get(t, zipURL); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unsigned version's zip: %d", resp.StatusCode)
	}

	pushed := time.Now()
	if _, err := s.client.PushSignature(ctx, "packages/"+unsigned.Name, subject, sig); err != nil {
		t.Fatal(err)
	}
	s.eventually("version served once its signature is pushed", 10*time.Second, func() bool {
		items, _, _ := search(t, s.base, "")
		return has(items, unsigned.Name, unsigned.Version)
	})
	t.Logf("signature push → version visible in /search: %v", time.Since(pushed))
	resp, body := get(t, docURL)
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(`"signature_path": "/epr/acme_unsigned/acme_unsigned-1.0.0.zip.sig"`)) {
		t.Fatalf("document after signing: %d %s", resp.StatusCode, body)
	}
	if resp, body := get(t, zipURL+".sig"); resp.StatusCode != http.StatusOK || !bytes.Equal(body, sig) {
		t.Fatalf("signature download: %d %q", resp.StatusCode, body)
	}
}
