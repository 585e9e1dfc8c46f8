package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oci-epr/package-registry/internal/status"
	"github.com/oci-epr/package-registry/internal/status/statustest"
	"github.com/oci-epr/package-registry/internal/testkit"
)

// These tests ask the status routes (status.NewHandler, through statustest) over a status.Memory
// filled as the indexer fills the status bucket; allinone_test.go asks a running all-in-one.

const secret = "ctl-s3cret"

var since = time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)

func tag(version string, st status.State) status.Tag {
	return status.Tag{Repository: "packages/nginx", Tag: version, Name: "nginx", Version: version, State: st,
		Digest: "sha256:" + strings.Repeat("a", 64), Since: since}
}

// fixture is a status with nginx 1.19.0 served and 1.20.0 rejected, behind a token.
func fixture(t *testing.T) (url string, store *status.Memory) {
	store = status.NewMemory()
	statustest.Put(t, store, tag("1.19.0", status.Served))
	rej := tag("1.20.0", status.Rejected)
	rej.Rule, rej.Message = "expect_mismatch", "manifest.yml names version 1.0.0, the tag 1.20.0"
	statustest.Put(t, store, rej)
	repo, _ := json.Marshal(status.Repository{Repository: "packages/nginx", TagsListed: 2, Counts: map[status.State]int{status.Served: 1, status.Rejected: 1},
		LastReconcile: &status.Reconcile{At: since, TookMS: 5, Outcome: status.OutcomeOK}})
	if err := store.Put(t.Context(), status.RepositoryKey("packages/nginx"), repo); err != nil {
		t.Fatal(err)
	}
	return statustest.Server(t, store, secret), store
}

type result struct {
	code           int
	stdout, stderr string
}

func ctl(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var out, errOut strings.Builder
	var code int
	testkit.Returns(t, testkit.Patience, "package-registry-ctl "+strings.Join(args, " "), func() {
		code = run(t.Context(), args, testkit.Env(env), &out, &errOut)
	})
	r := result{code, out.String(), errOut.String()}
	t.Logf("exit %d\n%s%s", code, r.stdout, r.stderr)
	if strings.Contains(r.stdout+r.stderr, secret) {
		t.Errorf("the token appears in the output:\n%s%s", r.stdout, r.stderr)
	}
	return r
}

func (r result) want(t *testing.T, code int, stdout, stderr []string) {
	t.Helper()
	if r.code != code {
		t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, code, r.stdout, r.stderr)
	}
	for _, s := range stdout {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("stdout lacks %q:\n%s", s, r.stdout)
		}
	}
	for _, s := range stderr {
		if !strings.Contains(r.stderr, s) {
			t.Errorf("stderr lacks %q:\n%s", s, r.stderr)
		}
	}
}

func TestWaitExitCodes(t *testing.T) {
	url, _ := fixture(t)
	tokenEnv := map[string]string{"EPR_TOKEN": secret}
	var asked atomic.Int64
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	odd := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		switch r.URL.Query().Get("version") {
		case "4.0.0":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"message":"version: not a version"}`)
		case "5.0.0":
			http.Error(w, "indexer store closed", http.StatusInternalServerError)
		case "6.0.0":
			select { // never answers while the test runs: the wait's deadline must end it
			case <-release:
			case <-r.Context().Done():
			}
		}
	}))
	t.Cleanup(odd.Close)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()

	tests := []struct {
		name           string
		env            map[string]string
		args           []string
		code           int
		stdout, stderr []string
	}{
		{name: "served: 0", env: tokenEnv, args: []string{"-address", url, "wait", "nginx@1.19.0", "-timeout", "1m"},
			code: 0, stdout: []string{"nginx@1.19.0 is served from packages/nginx:1.19.0"}},
		{name: "rejected: 1 with the rule and message", env: tokenEnv, args: []string{"-address", url, "wait", "nginx@1.20.0", "--timeout", "1m"},
			code: 1, stderr: []string{"rule expect_mismatch: manifest.yml names version 1.0.0, the tag 1.20.0"}},
		{name: "never pushed: 2 naming the last state", env: tokenEnv, args: []string{"wait", "nginx@1.21.0", "-timeout=500ms", "-address", url},
			code: 2, stderr: []string{"not served within 500ms", "no tag claims it yet"}},
		{name: "the digest pushed is not the one indexed: 2", env: tokenEnv,
			args: []string{"-address", url, "wait", "nginx@1.19.0", "-timeout", "500ms", "-digest", "sha256:" + strings.Repeat("b", 64)},
			code: 2, stderr: []string{"the indexer has not read the push yet"}},
		{name: "the server's token variable serves too", env: map[string]string{"EPR_STATUS_TOKEN": secret, "EPR_ADDRESS": url},
			args: []string{"wait", "nginx@1.19.0"}, code: 0},
		{name: "no token: 3 at once", args: []string{"-address", url, "wait", "nginx@1.19.0", "-timeout", "10m"},
			code: 3, stderr: []string{"the status could not be read", "401"}},
		{name: "wrong token: 3", env: map[string]string{"EPR_TOKEN": "not-" + secret + "-either"}, args: []string{"-address", url, "wait", "nginx@1.19.0", "-timeout", "10m"},
			code: 3, stderr: []string{"401"}},
		{name: "400: 3 at once with the server's message", args: []string{"-address", odd.URL, "wait", "nginx@4.0.0", "-timeout", "10m"},
			code: 3, stderr: []string{"400 Bad Request: version: not a version"}},
		{name: "500 all along: 3 once the time is up", args: []string{"-address", odd.URL, "wait", "nginx@5.0.0", "-timeout", "500ms"},
			code: 3, stderr: []string{"500", "indexer store closed"}},
		{name: "unreachable: 3 naming the address", args: []string{"-address", closed.URL, "wait", "nginx@1.19.0", "-timeout", "500ms"},
			code: 3, stderr: []string{closed.URL + "/status/packages/nginx?version=1.19.0"}},
		{name: "a server slower than the wait: 3", args: []string{"-address", odd.URL, "wait", "nginx@6.0.0", "-timeout", "500ms"},
			code: 3, stderr: []string{"deadline exceeded"}},
		{name: "the token given on the command line: a warning, never the token", args: []string{"-address", url, "-token", secret, "wait", "nginx@1.19.0"},
			code: 0, stderr: []string{"prefer EPR_TOKEN"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctl(t, tt.env, tt.args...).want(t, tt.code, tt.stdout, tt.stderr)
		})
	}
	if asked.Load() == 0 {
		t.Error("the odd server was never asked")
	}
}

// A wait that starts before the indexer has read the push ends when it has.
func TestWaitFollowsTheIndexer(t *testing.T) {
	url, store := fixture(t)
	done := make(chan result, 1)
	go func() {
		var out, errOut strings.Builder
		code := run(context.Background(), []string{"-address", url, "wait", "nginx@1.21.0", "-timeout", "10m"}, testkit.Env(map[string]string{"EPR_TOKEN": secret}), &out, &errOut)
		done <- result{code, out.String(), errOut.String()}
	}()
	failing := tag("1.21.0", status.Failing)
	failing.Error = "registry: 503 Service Unavailable"
	statustest.Put(t, store, failing)
	statustest.Move(t, store, status.Failing, tag("1.21.0", status.Served))
	var r result
	testkit.Returns(t, testkit.Patience, "the wait", func() { r = <-done })
	r.want(t, 0, []string{"nginx@1.21.0 is served"}, nil)
}

func TestStatus(t *testing.T) {
	url, _ := fixture(t)
	env := map[string]string{"EPR_TOKEN": secret, "EPR_ADDRESS": url}
	t.Run("overview: problems first", func(t *testing.T) {
		r := ctl(t, env, "status")
		r.want(t, 0, []string{"rejected  nginx@1.20.0", "rule expect_mismatch", "packages/nginx  2026-12-08T00:00:00Z  5ms"}, nil)
		if strings.Contains(r.stdout, "nginx@1.19.0") {
			t.Errorf("the overview lists a served tag:\n%s", r.stdout)
		}
	})
	t.Run("one package, every state, problems first", func(t *testing.T) {
		r := ctl(t, env, "status", "nginx")
		r.want(t, 0, []string{"nginx@1.19.0", "nginx@1.20.0"}, nil)
		if strings.Index(r.stdout, "nginx@1.20.0") > strings.Index(r.stdout, "nginx@1.19.0") {
			t.Errorf("served before rejected:\n%s", r.stdout)
		}
	})
	t.Run("by state, flags after the name", func(t *testing.T) {
		r := ctl(t, env, "status", "nginx", "-state", "served")
		r.want(t, 0, []string{"nginx@1.19.0"}, nil)
		if strings.Contains(r.stdout, "1.20.0") {
			t.Errorf("-state served lists the rejected tag:\n%s", r.stdout)
		}
	})
	t.Run("repository", func(t *testing.T) {
		ctl(t, env, "status", "-repository", "packages/nginx").want(t, 0, []string{"packages/nginx  2026-12-08T00:00:00Z", "nginx@1.20.0", "nginx@1.19.0"}, nil)
	})
	t.Run("unknown repository: 3", func(t *testing.T) {
		ctl(t, env, "status", "-repository", "packages/apache").want(t, 3, nil, []string{"404", "/status/repositories/packages/apache"})
	})
	t.Run("json", func(t *testing.T) {
		r := ctl(t, env, "status", "-json", "nginx")
		var ps status.PackageStatus
		if err := json.Unmarshal([]byte(r.stdout), &ps); err != nil || len(ps.Tags) != 2 {
			t.Fatalf("%v: %s", err, r.stdout)
		}
	})
	t.Run("a global flag before the command wins over the environment", func(t *testing.T) {
		closed := httptest.NewServer(http.NotFoundHandler())
		closed.Close()
		ctl(t, map[string]string{"EPR_TOKEN": secret, "EPR_ADDRESS": closed.URL}, "-address", url, "status").want(t, 0, []string{"rejected"}, nil)
		ctl(t, map[string]string{"EPR_TOKEN": secret, "EPR_ADDRESS": url}, "status", "-address", closed.URL).want(t, 3, nil, []string{closed.URL})
	})
}

func TestUsage(t *testing.T) {
	for _, tt := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{nil, 4, "no command given"},
		{[]string{"push"}, 4, `unknown command "push"`},
		{[]string{"wait"}, 4, "one name@version"},
		{[]string{"wait", "nginx@1.0.0", "apache@1.0.0"}, 4, "one name@version"},
		{[]string{"wait", "nginx:1.0.0"}, 4, "not name@version"},
		{[]string{"wait", "nginx@1.0"}, 4, "not a semantic version"},
		{[]string{"wait", "nginx@1.0.0", "-timeout", "0s"}, 4, "-timeout must be positive"},
		{[]string{"wait", "nginx@1.0.0", "-digest", "abc"}, 4, "not a digest"},
		{[]string{"wait", "nginx@1.0.0", "-nope"}, 4, "flag provided but not defined: -nope"},
		{[]string{"status", "-state", "lost"}, 4, `-state "lost" is not one of failing, rejected`},
		{[]string{"status", "nginx", "-repository", "packages/nginx"}, 4, "not both"},
		{[]string{"status", "a", "b"}, 4, "at most one package name"},
		{[]string{"-log-level", "loud", "status"}, 4, "-log-level"},
		{[]string{"wait", "-h"}, 0, "-timeout"},
		{[]string{"-h"}, 0, "Exit codes"},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			ctl(t, nil, tt.args...).want(t, tt.code, nil, []string{tt.stderr})
		})
	}
	r := ctl(t, nil, "-version")
	if r.code != 0 || strings.TrimSpace(r.stdout) == "" {
		t.Errorf("-version: %+v", r)
	}
}
