package mirror_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oci-epr/package-registry/internal/mirror"
	"github.com/oci-epr/package-registry/internal/packages/packagetest"
)

// standIn is a small EPR-compatible source: /search, /package/<n>/<v>/ and the zips, with the
// headers an EPR that builds zips from directories sends (neither ETag nor Content-Length)
// unless told otherwise. It is a stand-in because EPR itself is not available here.
type standIn struct {
	srv *httptest.Server
	// user and pass, when set, are required as basic auth on every request.
	user, pass string

	mu       sync.Mutex
	versions []standInVersion
	// zipGets and docGets count downloads.
	zipGets, docGets atomic.Int64
	// fail503 makes the next n requests answer 503.
	fail503 atomic.Int64
}

type standInVersion struct {
	name, version string
	zip           []byte
	// download is the document's download path; empty: "/epr/<n>/<n>-<v>.zip".
	download string
	// redirect, when set, answers the zip's requests with a 302 there.
	redirect string
}

func (v standInVersion) path() string {
	return fmt.Sprintf("/epr/%s/%s-%s.zip", v.name, v.name, v.version)
}

func newStandIn(t *testing.T, versions ...standInVersion) *standIn {
	s := &standIn{versions: versions}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func standInZip(name, version, description string) []byte {
	spec := packagetest.Integration()
	spec.Name, spec.Version, spec.Title, spec.Description = name, version, "Package "+name, description
	spec.ExtraFiles = nil
	return packagetest.Build(spec)
}

func (s *standIn) serve(w http.ResponseWriter, r *http.Request) {
	if s.fail503.Load() > 0 && s.fail503.Add(-1) >= 0 {
		http.Error(w, "induced", http.StatusServiceUnavailable)
		return
	}
	if s.user != "" {
		if u, p, ok := r.BasicAuth(); !ok || u != s.user || p != s.pass {
			http.Error(w, "credentials, please", http.StatusUnauthorized)
			return
		}
	}
	s.mu.Lock()
	versions := append([]standInVersion(nil), s.versions...)
	s.mu.Unlock()
	if r.URL.Path == "/search" {
		var items []map[string]string
		for _, v := range versions {
			items = append(items, map[string]string{"name": v.name, "version": v.version, "download": v.path()})
		}
		_ = json.NewEncoder(w).Encode(items)
		return
	}
	for _, v := range versions {
		switch r.URL.Path {
		case "/package/" + v.name + "/" + v.version + "/":
			s.docGets.Add(1)
			download := v.download
			if download == "" {
				download = v.path()
			}
			// The document changes with the zip, as EPR's does (it is read from the package).
			_ = json.NewEncoder(w).Encode(map[string]any{"name": v.name, "version": v.version, "download": download,
				"description": fmt.Sprintf("%x", len(v.zip))})
			return
		case v.path():
			if v.redirect != "" {
				http.Redirect(w, r, v.redirect, http.StatusFound)
				return
			}
			w.Header().Set("Content-Type", "application/zip")
			w.WriteHeader(http.StatusOK)
			if r.Method == http.MethodGet {
				s.zipGets.Add(1)
				// Flushed before the body: chunked, so no Content-Length, as EPR streams a zip
				// it builds from a directory.
				w.(http.Flusher).Flush()
				_, _ = w.Write(v.zip)
			}
			return
		}
	}
	http.NotFound(w, r)
}

// Mirroring from a source that sends neither ETag nor Content-Length is idempotent: the second
// run pushes nothing and downloads only the package documents; a version whose package changed
// is copied again; a version mirrored before the document was recorded is checked by its bytes
// and not pushed again.
func TestMirrorIsIdempotentWithoutETagOrLength(t *testing.T) {
	var versions []standInVersion
	for i := range 6 {
		name, version := fmt.Sprintf("dir_pkg_%d", i/2), fmt.Sprintf("1.%d.0", i%2)
		versions = append(versions, standInVersion{name: name, version: version, zip: standInZip(name, version, "first")})
	}
	src := newStandIn(t, versions...)
	resp, err := http.Head(src.srv.URL + versions[0].path())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("ETag") != "" || resp.Header.Get("Content-Length") != "" {
		t.Fatalf("the stand-in sends ETag %q, Content-Length %q; it must send neither", resp.Header.Get("ETag"), resp.Header.Get("Content-Length"))
	}
	dest, err := mirror.Layout(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	opts := mirror.Options{From: src.srv.URL, To: dest, Selection: mirror.Selection{AllVersions: true}}

	first := run(t, opts)
	if err := first.Err(); err != nil || first.Count(mirror.Copied) != 6 {
		t.Fatalf("first run: %+v (%v)", first.Results, err)
	}
	src.zipGets.Store(0)
	src.docGets.Store(0)
	second := run(t, opts)
	figures(t, "second run", second)
	if second.Count(mirror.Present) != 6 || second.Count(mirror.Copied) != 0 || second.Bytes != 0 {
		t.Fatalf("second run: %+v, %d bytes", second.Results, second.Bytes)
	}
	if src.zipGets.Load() != 0 || src.docGets.Load() != 6 {
		t.Fatalf("second run downloaded %d zips and %d documents; want 0 and 6", src.zipGets.Load(), src.docGets.Load())
	}
	// What -wait waits for: the manifest digest held, pushed by the first run, found by the second.
	for i, r := range second.Results {
		if r.Digest == "" || r.Digest != first.Results[i].Digest {
			t.Fatalf("%s-%s: digest %q after the second run, %q pushed by the first", r.Name, r.Version, r.Digest, first.Results[i].Digest)
		}
	}

	// The source's package changes under the same version: copied again.
	src.mu.Lock()
	src.versions[0].zip = standInZip(versions[0].name, versions[0].version, "second, and longer")
	src.mu.Unlock()
	third := run(t, opts)
	if third.Count(mirror.Copied) != 1 || third.Count(mirror.Present) != 5 {
		t.Fatalf("after a change at the source: %+v", third.Results)
	}

	// A version mirrored without the document's digest (by an older mirror): its bytes decide,
	// and the same bytes are not pushed again.
	v := versions[1]
	if _, err := dest.Push(context.Background(), v.name, v.version, v.zip, nil,
		map[string]string{mirror.AnnotationSource: src.srv.URL + v.path()}); err != nil {
		t.Fatal(err)
	}
	before, _, err := dest.Manifest(context.Background(), v.name, v.version)
	if err != nil {
		t.Fatal(err)
	}
	src.zipGets.Store(0)
	fourth := run(t, opts)
	after, _, err := dest.Manifest(context.Background(), v.name, v.version)
	if err != nil {
		t.Fatal(err)
	}
	if fourth.Count(mirror.Present) != 6 || src.zipGets.Load() != 1 || !reflect.DeepEqual(before, after) {
		t.Fatalf("older mirror: %+v, %d zips downloaded, manifest changed %t", fourth.Results, src.zipGets.Load(), !reflect.DeepEqual(before, after))
	}
}

// -from's credentials go to the source's host and nowhere else: not into logs, errors, the
// summary or annotations, and not to another host a document names; a redirect by the source
// itself is followed without them.
func TestMirrorKeepsSourceCredentialsOnTheSource(t *testing.T) {
	const password = "PASSWORD-5ecret"
	// elsewhere is another host (127.0.0.2) that records what reaches it.
	var elsewhereMu sync.Mutex
	var elsewhereGot []string
	zipE := standInZip("redirected", "1.0.0", "via another host")
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("no second loopback address: %v", err)
	}
	elsewhere := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhereMu.Lock()
		elsewhereGot = append(elsewhereGot, r.Method+" "+r.URL.Path+" auth="+r.Header.Get("Authorization"))
		elsewhereMu.Unlock()
		if r.URL.Path == "/redirected.zip" {
			w.Write(zipE)
			return
		}
		http.NotFound(w, r)
	}))
	elsewhere.Listener.Close()
	elsewhere.Listener = ln
	elsewhere.Start()
	t.Cleanup(elsewhere.Close)
	other := strings.TrimPrefix(elsewhere.URL, "http://")

	src := newStandIn(t,
		standInVersion{name: "plain", version: "1.0.0", zip: standInZip("plain", "1.0.0", "x")},
		standInVersion{name: "userinfo_trick", version: "1.0.0", zip: standInZip("userinfo_trick", "1.0.0", "x"), download: "@" + other + "/x.zip"},
		standInVersion{name: "absolute", version: "1.0.0", zip: standInZip("absolute", "1.0.0", "x"), download: "http://" + other + "/x.zip"},
		standInVersion{name: "network_path", version: "1.0.0", zip: standInZip("network_path", "1.0.0", "x"), download: "//" + other + "/x.zip"},
		standInVersion{name: "redirected", version: "1.0.0", zip: zipE, redirect: elsewhere.URL + "/redirected.zip"},
	)
	src.user, src.pass = "user", password
	src.fail503.Store(2) // retries log the URLs they retry

	dest, err := mirror.Layout(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	var logMu sync.Mutex
	log := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		logMu.Lock()
		defer logMu.Unlock()
		return logs.Write(p)
	}), &slog.HandlerOptions{Level: slog.LevelDebug}))
	from := strings.Replace(src.srv.URL, "http://", "http://user:"+password+"@", 1)
	s, err := mirror.Run(context.Background(), mirror.Options{From: from, To: dest, Selection: mirror.Selection{AllVersions: true},
		Log: log, Progress: mirror.Lines{Log: log}, RetryDelay: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var summary bytes.Buffer
	mirror.WriteSummary(&summary, s)

	outcomes := map[string]mirror.Outcome{}
	for _, r := range s.Results {
		outcomes[r.Name] = r.Outcome
	}
	want := map[string]mirror.Outcome{"plain": mirror.Copied, "redirected": mirror.Copied,
		"userinfo_trick": mirror.Failed, "absolute": mirror.Failed, "network_path": mirror.Failed}
	if !reflect.DeepEqual(outcomes, want) {
		t.Fatalf("outcomes %v, want %v\n%s", outcomes, want, summary.String())
	}
	elsewhereMu.Lock()
	if len(elsewhereGot) == 0 {
		t.Error("the source's redirect was not followed")
	}
	for _, got := range elsewhereGot {
		if !strings.HasSuffix(got, "/redirected.zip auth=") {
			t.Errorf("another host got %q: only the redirected zip, without credentials, may go there", got)
		}
	}
	elsewhereMu.Unlock()

	var annotations []string
	for _, name := range []string{"plain", "redirected"} {
		man, _, err := dest.Manifest(context.Background(), name, "1.0.0")
		if err != nil || man == nil {
			t.Fatalf("%s: %v", name, err)
		}
		annotations = append(annotations, fmt.Sprint(man.Annotations))
		if got, want := man.Annotations[mirror.AnnotationSource], src.srv.URL+"/epr/"+name+"/"+name+"-1.0.0.zip"; got != want {
			t.Errorf("%s: source annotation %q, want %q", name, got, want)
		}
	}
	logMu.Lock()
	defer logMu.Unlock()
	for what, text := range map[string]string{"logs": logs.String(), "summary": summary.String(), "error": fmt.Sprint(s.Err()), "annotations": strings.Join(annotations, "\n")} {
		if strings.Contains(text, password) {
			t.Errorf("the password is in the %s:\n%s", what, text)
		}
	}
	if !strings.Contains(logs.String(), "retrying") {
		t.Errorf("no retry logged, so the retry log was not checked:\n%s", logs.String())
	}
	for _, name := range []string{"userinfo_trick", "absolute", "network_path"} {
		if !strings.Contains(summary.String(), "failed "+name+"-1.0.0: download path") {
			t.Errorf("the summary does not say why %s failed:\n%s", name, summary.String())
		}
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
