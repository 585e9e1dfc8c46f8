package status_test

import (
	"context"
	"errors"
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

const token = "s3cret-token"

var since = time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)

func rejected() status.Tag {
	return status.Tag{Repository: "packages/nginx", Tag: "1.20.0", Name: "nginx", Version: "1.20.0", Digest: "sha256:aa",
		State: status.Rejected, Rule: "expect_mismatch", Message: "manifest.yml says version 1.0.0", Since: since}
}

func served() status.Tag {
	return status.Tag{Repository: "packages/nginx", Tag: "1.19.0", Name: "nginx", Version: "1.19.0", Digest: "sha256:bb",
		State: status.Served, Since: since}
}

// The client reads each route's JSON, as built by a status.Reader, with the token sent.
func TestClientReadsTheRoutes(t *testing.T) {
	store := status.NewMemory()
	statustest.Put(t, store, rejected())
	statustest.Put(t, store, served())
	base := statustest.Server(t, store, token)
	c := &status.Client{BaseURL: base, Token: token}
	ctx := t.Context()

	o, err := c.Overall(ctx, status.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Problems) != 1 || o.Problems[0].Rule != "expect_mismatch" {
		t.Fatalf("overall problems %+v", o.Problems)
	}
	ps, err := c.Package(ctx, "nginx", status.Filter{Version: "1.19.0"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ps.Tags) != 1 || ps.Tags[0].State != status.Served {
		t.Fatalf("package nginx@1.19.0: %+v", ps)
	}
	ps, err = c.Package(ctx, "nginx", status.Filter{State: status.Rejected})
	if err != nil || len(ps.Tags) != 1 || ps.Tags[0].Version != "1.20.0" {
		t.Fatalf("package nginx state=rejected: %+v %v", ps, err)
	}
	rs, err := c.Repository(ctx, "packages/nginx", status.Filter{})
	if err != nil || len(rs.Tags) != 2 || rs.Tags[0].State != status.Rejected {
		t.Fatalf("repository packages/nginx: %+v %v", rs, err)
	}
}

// Each kind of failure is an error naming the URL (never the token), and says whether asking
// again may help.
func TestClientErrors(t *testing.T) {
	store := status.NewMemory()
	statustest.Put(t, store, rejected())
	base := statustest.Server(t, store, token)
	var hits atomic.Int64
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	odd := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		switch r.URL.Path {
		case "/status/packages/broken":
			http.Error(w, "boom\x1b[31m", http.StatusInternalServerError)
		case "/status/packages/busy":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = io.WriteString(w, `{"message":"slow down"}`)
		case "/status/packages/html":
			w.Header().Set("Content-Type", "text/html")
			_, _ = io.WriteString(w, "<html>")
		case "/status/packages/huge":
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"name":"`+strings.Repeat("x", 4<<10)+`"}`)
		case "/status/packages/gone":
			http.NotFound(w, r)
		case "/status/packages/slow":
			select { // answers only when the test ends: the call's deadline must end it
			case <-release:
			case <-r.Context().Done():
			}
		}
	}))
	t.Cleanup(odd.Close)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()

	tests := []struct {
		name      string
		c         *status.Client
		pkg       string
		f         status.Filter
		temporary bool
		contains  []string
		notFound  bool
	}{
		{name: "no token: 401", c: &status.Client{BaseURL: base}, pkg: "nginx", contains: []string{"401", "a token is required"}},
		{name: "wrong token: 401, the token sent is not repeated", c: &status.Client{BaseURL: base, Token: "wrong-" + token}, pkg: "nginx", contains: []string{"401"}},
		{name: "bad filter: 400 with the server's message", c: &status.Client{BaseURL: base, Token: token}, pkg: "nginx",
			f: status.Filter{State: "lost"}, contains: []string{"400", `unknown state "lost"`}},
		{name: "server error: 500, worth another try, control characters dropped", c: &status.Client{BaseURL: odd.URL}, pkg: "broken",
			temporary: true, contains: []string{"500", "boom [31m"}},
		{name: "429: worth another try", c: &status.Client{BaseURL: odd.URL}, pkg: "busy", temporary: true, contains: []string{"429", "slow down"}},
		{name: "not JSON: the wrong address", c: &status.Client{BaseURL: odd.URL}, pkg: "html", contains: []string{"not JSON", "status address"}},
		{name: "answer beyond the bound", c: &status.Client{BaseURL: odd.URL, MaxBytes: 1 << 10}, pkg: "huge", contains: []string{"over 1024 bytes"}},
		{name: "no status routes there", c: &status.Client{BaseURL: odd.URL}, pkg: "gone", contains: []string{"404", "no status routes at this address"}},
		{name: "unreachable", c: &status.Client{BaseURL: closed.URL, Token: token}, pkg: "nginx", temporary: true, contains: []string{closed.URL + "/status/packages/nginx"}},
		{name: "slow server: the call's deadline ends it", c: &status.Client{BaseURL: odd.URL, Token: token, Timeout: 100 * time.Millisecond},
			pkg: "slow", temporary: true, contains: []string{odd.URL + "/status/packages/slow", "deadline exceeded"}},
		{name: "password in the address is not repeated", c: &status.Client{BaseURL: strings.Replace(closed.URL, "://", "://user:"+token+"@", 1)},
			pkg: "nginx", temporary: true, contains: []string{"user:xxxxx@"}},
		{name: "not an address", c: &status.Client{BaseURL: "ftp://host"}, pkg: "nginx", contains: []string{"not an http(s) URL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			testkit.Returns(t, testkit.Patience, "the call", func() { _, err = tt.c.Package(t.Context(), tt.pkg, tt.f) })
			if err == nil {
				t.Fatal("no error")
			}
			for _, c := range tt.contains {
				if !strings.Contains(err.Error(), c) {
					t.Errorf("error %q lacks %q", err, c)
				}
			}
			if strings.Contains(err.Error(), token) {
				t.Errorf("error %q holds the token", err)
			}
			if got := status.Temporary(err); got != tt.temporary {
				t.Errorf("Temporary(%v) = %v, want %v", err, got, tt.temporary)
			}
		})
	}

	_, err := (&status.Client{BaseURL: base, Token: token}).Repository(t.Context(), "packages/apache", status.Filter{})
	if !errors.Is(err, status.ErrNotFound) || !strings.Contains(err.Error(), "/status/repositories/packages/apache") {
		t.Errorf("unknown repository: %v, want ErrNotFound naming the URL", err)
	}
	if hits.Load() == 0 {
		t.Error("the odd server was never asked")
	}
}

// A wait ends when the version is served or refused, keeps going while it is pending, stops at
// once on an error asking again cannot change, and at its deadline otherwise.
func TestWaiter(t *testing.T) {
	quick := status.Waiter{Pauses: status.DefaultPauses}
	nginx := status.Want{Name: "nginx", Version: "1.20.0"}

	t.Run("pending, then served", func(t *testing.T) {
		store := status.NewMemory()
		var asked atomic.Int64
		srv := httptest.NewServer(counting(&asked, statustest.Handler(status.Reader{Store: store}, "")))
		t.Cleanup(srv.Close)
		w := quick
		w.Asker = &status.Client{BaseURL: srv.URL}
		done := make(chan status.WaitResult, 1)
		go func() { done <- w.Wait(t.Context(), nginx) }()
		testkit.Eventually(t, time.Second, "the first ask", func() bool { return asked.Load() > 0 })
		failing := rejected()
		failing.State, failing.Rule, failing.Message, failing.Error = status.Failing, "", "", "registry: 502"
		statustest.Put(t, store, failing)
		testkit.Eventually(t, time.Second, "an ask after the failing state", func() bool { return asked.Load() > 2 })
		ok := rejected()
		ok.State, ok.Rule, ok.Message = status.Served, "", ""
		statustest.Move(t, store, status.Failing, ok)
		var r status.WaitResult
		testkit.Returns(t, testkit.Patience, "the wait", func() { r = <-done })
		if r.Verdict != status.Done || !r.Answered || r.Err != nil {
			t.Fatalf("%+v", r)
		}
	})
	t.Run("rejected", func(t *testing.T) {
		store := status.NewMemory()
		statustest.Put(t, store, rejected())
		w := quick
		w.Asker = &status.Client{BaseURL: statustest.Server(t, store, "")}
		r := w.Wait(t.Context(), nginx)
		if r.Verdict != status.Refused || !strings.Contains(r.Message, "rule expect_mismatch") {
			t.Fatalf("%+v", r)
		}
	})
	t.Run("timeout says the last state", func(t *testing.T) {
		store := status.NewMemory()
		sig := rejected()
		sig.State, sig.Rule, sig.Message = status.AwaitingSignature, "", ""
		statustest.Put(t, store, sig)
		w := quick
		w.Asker = &status.Client{BaseURL: statustest.Server(t, store, "")}
		ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
		defer cancel()
		r := w.Wait(ctx, nginx)
		if r.Verdict != status.Pending || !r.Answered || r.Unreachable() || !strings.Contains(r.Timeout(time.Second), "awaits its signature") {
			t.Fatalf("%+v", r)
		}
	})
	t.Run("refused token: no point waiting", func(t *testing.T) {
		w := quick
		w.Asker = &status.Client{BaseURL: statustest.Server(t, status.NewMemory(), token)}
		ctx, cancel := context.WithTimeout(t.Context(), testkit.Patience)
		defer cancel()
		r := w.Wait(ctx, nginx)
		if ctx.Err() != nil || r.Verdict != status.Pending || !r.Unreachable() || !strings.Contains(r.Why(), "401") {
			t.Fatalf("%+v (context %v)", r, ctx.Err())
		}
	})
	t.Run("unreachable all along", func(t *testing.T) {
		closed := httptest.NewServer(http.NotFoundHandler())
		closed.Close()
		w := quick
		w.Asker = &status.Client{BaseURL: closed.URL}
		ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
		defer cancel()
		r := w.Wait(ctx, nginx)
		if r.Verdict != status.Pending || r.Answered || !r.Unreachable() || !strings.Contains(r.Why(), closed.URL) {
			t.Fatalf("%+v", r)
		}
	})
	t.Run("several versions, each its own end", func(t *testing.T) {
		store := status.NewMemory()
		statustest.Put(t, store, rejected())
		statustest.Put(t, store, served())
		w := quick
		w.Asker = &status.Client{BaseURL: statustest.Server(t, store, "")}
		ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
		defer cancel()
		rs := w.WaitAll(ctx, []status.Want{nginx, {Name: "nginx", Version: "1.19.0"}, {Name: "apache", Version: "1.0.0"}})
		if rs[0].Verdict != status.Refused || rs[1].Verdict != status.Done || rs[2].Verdict != status.Pending || !rs[2].Answered {
			t.Fatalf("%+v", rs)
		}
	})
}

func counting(n *atomic.Int64, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		h.ServeHTTP(w, r)
	})
}
