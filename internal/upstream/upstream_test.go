package upstream

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oci-epr/package-registry/internal/testkit"
)

func TestNewRefusesBadURLs(t *testing.T) {
	for _, tt := range []struct{ url, err string }{
		{"ftp://epr.example", "http or https"},
		{"epr.example", "http or https"},
		{"https://epr.example/?x=1", "without query"},
		{"https://user:s3cret@epr.example/", "credentials"},
	} {
		_, err := New(Config{URL: tt.url}, nil)
		if err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("%q: err %v, want it to mention %q", tt.url, err, tt.err)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%q: the error shows the password: %v", tt.url, err)
		}
	}
	c, err := New(Config{URL: "https://epr.example/base/"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Location("/package/a/1.0.0/", "x=%2F"); got != "https://epr.example/base/package/a/1.0.0/?x=%2F" {
		t.Errorf("Location = %q", got)
	}
}

// upstreamServer counts requests per path and answers with handle.
func upstreamServer(t *testing.T, handle func(w http.ResponseWriter, r *http.Request)) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		handle(w, r)
	}))
	t.Cleanup(s.Close)
	return s, &n
}

func TestQueryOutcomes(t *testing.T) {
	tests := []struct {
		name     string
		handle   func(w http.ResponseWriter, r *http.Request)
		state    State
		requests int64 // how many the upstream saw: retried or not
	}{
		{"answer", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`[{"name":"a"}]`)) }, Fresh, 1},
		{"5xx is retried", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(502) }, Missing, 3},
		{"4xx is final", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(400) }, Missing, 1},
		{"not a JSON array", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"a":1}`)) }, Missing, 1},
		{"truncated JSON", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`[{"a":`)) }, Missing, 1},
		{"too large", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("[" + strings.Repeat(" ", 2000) + "]")) }, Missing, 1},
		{"redirect is not followed", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "http://elsewhere.example/", 302) }, Missing, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, n := upstreamServer(t, tt.handle)
			c, err := New(Config{URL: srv.URL, MaxBodyBytes: 1000}, nil)
			if err != nil {
				t.Fatal(err)
			}
			a := c.Query(t.Context(), "/search", "all=true", "k")
			if a.State != tt.state || (a.State == Fresh) != (a.Body != nil) {
				t.Fatalf("state %s, body %q; want %s", a.State, a.Body, tt.state)
			}
			if n.Load() != tt.requests {
				t.Fatalf("upstream saw %d requests, want %d", n.Load(), tt.requests)
			}
			// Within the cache time the outcome, good or bad, is reused.
			if b := c.Query(t.Context(), "/search", "all=true", "k"); b.State != tt.state || n.Load() != tt.requests {
				t.Fatalf("second query: state %s, %d requests", b.State, n.Load())
			}
		})
	}
}

// Concurrent queries with the same normalised key wait for one upstream request.
func TestQueriesAreCoalesced(t *testing.T) {
	release := make(chan struct{})
	srv, n := upstreamServer(t, func(w http.ResponseWriter, r *http.Request) {
		<-release
		w.Write([]byte(`[]`))
	})
	c, err := New(Config{URL: srv.URL, CacheTime: time.Hour}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	states := make([]State, 20)
	for i := range states {
		wg.Go(func() {
			// Spelled differently, normalised alike.
			states[i] = c.Query(context.Background(), "/search", strings.Repeat("&", i)+"all=true", "all").State
		})
	}
	testkit.Eventually(t, 10*time.Second, "the upstream request", func() bool { return n.Load() > 0 })
	close(release)
	wg.Wait()
	for i, s := range states {
		if s != Fresh {
			t.Fatalf("query %d: %s", i, s)
		}
	}
	if n.Load() != 1 {
		t.Fatalf("upstream saw %d requests, want 1", n.Load())
	}
}

// The remembered queries stay within MaxEntries however many distinct queries arrive.
func TestEntriesAreBounded(t *testing.T) {
	srv, _ := upstreamServer(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`[]`)) })
	c, err := New(Config{URL: srv.URL, MaxEntries: 5}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		c.Query(t.Context(), "/search", "", strings.Repeat("x", i))
	}
	if n := c.entries.len(); n > 5 {
		t.Fatalf("%d entries kept, bound 5", n)
	}
}
