package mirror_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/oci-epr/package-registry/internal/api"
	"github.com/oci-epr/package-registry/internal/devregistry"
	"github.com/oci-epr/package-registry/internal/mirror"
	"github.com/oci-epr/package-registry/internal/oci"
	"github.com/oci-epr/package-registry/internal/packages/packagetest"
	"github.com/oci-epr/package-registry/internal/process"
	"github.com/oci-epr/package-registry/internal/service"
	"github.com/oci-epr/package-registry/internal/testkit"
)

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return slog.New(slog.DiscardHandler)
}

// startRegistry runs an in-memory distribution registry and a client for it.
func startRegistry(t *testing.T) (*devregistry.Registry, *oci.Client) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	reg, err := devregistry.Start(ctx, devregistry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	c, err := oci.New(oci.Config{Registry: "http://" + reg.Host()})
	if err != nil {
		t.Fatal(err)
	}
	return reg, c
}

// instance is an all-in-one API over one registry, whose zip downloads are counted.
type instance struct {
	base    string
	zipGets atomic.Int64
	// fail5xx makes the next n requests of any kind answer 503.
	fail5xx atomic.Int64
}

// startInstance serves reg's packages; it returns once /search?all=true&prerelease=true lists
// want versions.
func startInstance(t *testing.T, reg *devregistry.Registry, want int) *instance {
	t.Helper()
	regCfg := oci.Config{Registry: "http://" + reg.Host()}
	return startInstanceWith(t, service.IndexerOptions{Registry: regCfg, Repository: "packages", ResyncInterval: time.Hour}, want)
}

// startInstanceWith is startInstance with an indexer of these options.
func startInstanceWith(t *testing.T, ix service.IndexerOptions, want int) *instance {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	log := testLogger(t)
	all, err := service.StartAllInOne(ctx, service.AllInOneOptions{
		API:     service.APIOptions{Config: api.DefaultConfig(), Registry: ix.Registry},
		Indexer: ix,
		DataDir: t.TempDir(),
		Webhook: service.WebhookOptions{Token: "mirror-e2e"},
		Log:     log,
	})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	in := &instance{}
	h := all.API.Server
	ln, err := process.Listen("api", "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if in.fail5xx.Load() > 0 && in.fail5xx.Add(-1) >= 0 {
			http.Error(w, "induced", http.StatusServiceUnavailable)
			return
		}
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, ".zip") {
			in.zipGets.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() { defer close(served); _ = process.Serve(ctx, log, ln) }()
	t.Cleanup(func() { cancel(); <-served; all.Close() })
	in.base = "http://" + ln.Addr()
	testkit.Eventually(t, 30*time.Second, "instance indexed", func() bool {
		if !all.Ready() {
			return false
		}
		// Until something is indexed the API serves its mock packages.
		resp, err := http.Get(in.base + "/search?all=true&prerelease=true")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.Header.Get("X-Package-Source") != "mock" && len(in.search(t, "all=true&prerelease=true")) == want
	})
	return in
}

type searchItem struct{ Name, Version string }

func (in *instance) search(t *testing.T, query string) []searchItem {
	t.Helper()
	code, body := getBody(t, in.base+"/search?"+query)
	if code != http.StatusOK {
		return nil
	}
	var items []searchItem
	if err := json.Unmarshal(body, &items); err != nil {
		t.Fatal(err)
	}
	sort.Slice(items, func(i, j int) bool {
		return items[i].Name+" "+items[i].Version < items[j].Name+" "+items[j].Version
	})
	return items
}

func getBody(t *testing.T, u string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

// fixture is what registry 1 holds.
type fixture struct {
	name, version string
	// signer signs the zip; nil leaves it unsigned.
	signer *openpgp.Entity
}

func newKey(t *testing.T, name string) *openpgp.Entity {
	t.Helper()
	e, err := openpgp.NewEntity(name, "", name+"@example.com", nil)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func sign(t *testing.T, e *openpgp.Entity, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := openpgp.ArmoredDetachSign(&b, e, bytes.NewReader(data), nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func pushFixtures(t *testing.T, c *oci.Client, fx []fixture) {
	t.Helper()
	for _, f := range fx {
		s := packagetest.Integration()
		s.Name, s.Version, s.Title = f.name, f.version, "Package "+f.name
		s.ExtraFiles = nil
		zipData := packagetest.Build(s)
		var sig []byte
		if f.signer != nil {
			sig = sign(t, f.signer, zipData)
		}
		if _, err := c.PushPackage(context.Background(), "packages/"+f.name, strings.ReplaceAll(f.version, "+", "_"), zipData, sig, nil); err != nil {
			t.Fatal(err)
		}
	}
}

// counter is a Progress that calls after when n versions are done.
type counter struct {
	mu    sync.Mutex
	n     int
	at    int
	after func()
}

func (c *counter) Start(int) {}
func (c *counter) Done(mirror.Result) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	if c.n == c.at && c.after != nil {
		c.after()
	}
}

func run(t *testing.T, o mirror.Options) mirror.Summary {
	t.Helper()
	if o.Log == nil {
		o.Log = testLogger(t)
	}
	if o.RetryDelay == 0 {
		o.RetryDelay = 10 * time.Millisecond
	}
	s, err := mirror.Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func figures(t *testing.T, what string, s mirror.Summary) {
	t.Helper()
	secs := s.Duration.Seconds()
	t.Logf("%s: %d versions (%d copied, %d present), %s in %s: %.1f versions/s, %.2f MB/s",
		what, len(s.Results), s.Count(mirror.Copied), s.Count(mirror.Present), mirror.HumanBytes(s.Bytes), s.Duration.Round(time.Millisecond),
		float64(len(s.Results))/secs, float64(s.Bytes)/1e6/secs)
}

func TestMirrorEndToEnd(t *testing.T) {
	key := newKey(t, "signer")
	fx := []fixture{
		{"nginx", "1.0.0", key}, {"nginx", "1.1.0", key}, {"nginx", "1.2.0-beta1", key},
		{"apache", "2.0.0", nil}, {"apache", "2.1.0+build.7", key},
		{"mysql", "1.0.0", key}, {"redis", "0.3.0", nil},
	}
	reg1, c1 := startRegistry(t)
	pushFixtures(t, c1, fx)
	a := startInstance(t, reg1, len(fx))

	reg2, c2 := startRegistry(t)
	sel := mirror.Selection{Packages: []string{"nginx", "apache"}, AllVersions: true}
	opts := mirror.Options{From: a.base, To: mirror.Registry(c2, ""), Selection: sel, Parallelism: 3}
	a.fail5xx.Store(2) // the first requests fail and are retried
	first := run(t, opts)
	if err := first.Err(); err != nil {
		t.Fatal(err)
	}
	figures(t, "first run", first)
	if got := first.Count(mirror.Copied); got != 4 {
		t.Fatalf("first run copied %d, want 4 (prerelease left out): %+v", got, first.Results)
	}
	if got := a.zipGets.Load(); got != 4 {
		t.Fatalf("first run downloaded %d zips, want 4", got)
	}

	a.zipGets.Store(0)
	second := run(t, opts)
	figures(t, "second run", second)
	if second.Count(mirror.Present) != 4 || second.Count(mirror.Copied) != 0 {
		t.Fatalf("second run: %+v", second.Results)
	}
	if got := a.zipGets.Load(); got != 0 || second.Bytes != 0 {
		t.Fatalf("second run downloaded %d zips, %d bytes; want none", got, second.Bytes)
	}

	b := startInstance(t, reg2, 4)
	want := []searchItem{{"apache", "2.0.0"}, {"apache", "2.1.0+build.7"}, {"nginx", "1.0.0"}, {"nginx", "1.1.0"}}
	if got := b.search(t, "all=true"); !slices.Equal(got, want) {
		t.Fatalf("B /search?all=true = %v, want %v", got, want)
	}
	for _, it := range want {
		for _, p := range []string{
			"/package/" + it.Name + "/" + it.Version + "/",
			"/epr/" + it.Name + "/" + it.Name + "-" + it.Version + ".zip",
			"/epr/" + it.Name + "/" + it.Name + "-" + it.Version + ".zip.sig",
		} {
			ca, ba := getBody(t, a.base+p)
			cb, bb := getBody(t, b.base+p)
			if ca != cb || !bytes.Equal(ba, bb) {
				t.Errorf("%s: A %d (%d bytes), B %d (%d bytes)", p, ca, len(ba), cb, len(bb))
			}
		}
	}
	if code, _ := getBody(t, b.base+"/epr/apache/apache-2.0.0.zip.sig"); code != http.StatusNotFound {
		t.Errorf("unsigned version has a signature at B: %d", code)
	}

	dry := run(t, mirror.Options{From: a.base, To: mirror.Registry(c2, ""), Selection: mirror.Selection{AllVersions: true, Prerelease: true}, DryRun: true})
	var would []string
	for _, r := range dry.Results {
		if r.Outcome == mirror.WouldCopy {
			would = append(would, r.Name+"-"+r.Version)
		}
	}
	sort.Strings(would)
	if w := []string{"mysql-1.0.0", "nginx-1.2.0-beta1", "redis-0.3.0"}; !slices.Equal(would, w) {
		t.Errorf("dry run would copy %v, want %v", would, w)
	}
	if tags, _ := c2.Tags(context.Background(), "packages/mysql"); len(tags) != 0 {
		t.Errorf("dry run pushed mysql: %v", tags)
	}
}

func TestMirrorResumesAfterInterrupt(t *testing.T) {
	var fx []fixture
	for i := range 12 {
		fx = append(fx, fixture{name: fmt.Sprintf("pkg_%02d", i/3), version: fmt.Sprintf("1.%d.0", i%3)})
	}
	reg1, c1 := startRegistry(t)
	pushFixtures(t, c1, fx)
	a := startInstance(t, reg1, len(fx))
	_, c2 := startRegistry(t)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const k = 5
	prog := &counter{at: k, after: cancel}
	sel := mirror.Selection{AllVersions: true}
	part, err := mirror.Run(ctx, mirror.Options{From: a.base, To: mirror.Registry(c2, ""), Selection: sel, Parallelism: 2, Progress: prog, Log: testLogger(t)})
	if err == nil {
		t.Fatal("interrupted run returned no error")
	}
	copied := part.Count(mirror.Copied)
	if copied < k || copied >= len(fx) {
		t.Fatalf("interrupted run copied %d, want between %d and %d", copied, k, len(fx)-1)
	}
	a.zipGets.Store(0)
	rest := run(t, mirror.Options{From: a.base, To: mirror.Registry(c2, ""), Selection: sel, Parallelism: 2})
	figures(t, "resumed run", rest)
	if rest.Count(mirror.Copied)+rest.Count(mirror.Present) != len(fx) || rest.Err() != nil {
		t.Fatalf("resumed run: %+v", rest.Results)
	}
	if rest.Count(mirror.Present) < copied {
		t.Errorf("resumed run found %d present, the interrupted one had copied %d", rest.Count(mirror.Present), copied)
	}
	if got := a.zipGets.Load(); got != int64(rest.Count(mirror.Copied)) {
		t.Errorf("resumed run downloaded %d zips, copied %d", got, rest.Count(mirror.Copied))
	}
	for i := 0; i < len(fx); i += 3 {
		tags, err := c2.Tags(context.Background(), "packages/"+fx[i].name)
		if err != nil {
			t.Fatal(err)
		}
		sort.Strings(tags)
		if want := []string{"1.0.0", "1.1.0", "1.2.0"}; !slices.Equal(tags, want) {
			t.Errorf("%s tags %v, want %v", fx[i].name, tags, want)
		}
	}
}

func TestMirrorVerifiesSignatures(t *testing.T) {
	good, other := newKey(t, "good"), newKey(t, "other")
	reg1, c1 := startRegistry(t)
	pushFixtures(t, c1, []fixture{{"signed", "1.0.0", good}, {"forged", "1.0.0", other}, {"plain", "1.0.0", nil}})
	a := startInstance(t, reg1, 3)

	var pub bytes.Buffer
	if err := good.Serialize(&pub); err != nil {
		t.Fatal(err)
	}
	kr, err := mirror.ReadKeyring(pub.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name          string
		allowUnsigned bool
		want          map[string]mirror.Outcome
	}{
		{"unsigned skipped", false, map[string]mirror.Outcome{"signed": mirror.Copied, "forged": mirror.Failed, "plain": mirror.Unsigned}},
		{"unsigned allowed", true, map[string]mirror.Outcome{"signed": mirror.Copied, "forged": mirror.Failed, "plain": mirror.Copied}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, c2 := startRegistry(t)
			s := run(t, mirror.Options{From: a.base, To: mirror.Registry(c2, ""), Keyring: kr, AllowUnsigned: tt.allowUnsigned})
			got := map[string]mirror.Outcome{}
			for _, r := range s.Results {
				got[r.Name] = r.Outcome
				if r.Outcome == mirror.Failed && !strings.Contains(r.Err.Error(), "signature does not verify") {
					t.Errorf("%s failed for another reason: %v", r.Name, r.Err)
				}
			}
			for name, o := range tt.want {
				if got[name] != o {
					t.Errorf("%s: %s, want %s", name, got[name], o)
				}
			}
			if tags, _ := c2.Tags(context.Background(), "packages/forged"); len(tags) != 0 {
				t.Errorf("badly signed package pushed: %v", tags)
			}
		})
	}
}
