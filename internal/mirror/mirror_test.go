package mirror

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

func TestSelectionQuery(t *testing.T) {
	tests := []struct {
		sel  Selection
		want string
	}{
		{Selection{}, ""},
		{Selection{AllVersions: true, Prerelease: true}, "all=true&prerelease=true"},
		{Selection{Packages: []string{"nginx"}, KibanaVersion: "8.15.0"}, "kibana.version=8.15.0&package=nginx"},
		{Selection{Packages: []string{"a", "b"}, SpecMin: "2.3", SpecMax: "3.0", Capabilities: []string{"apm", "security"}},
			"capabilities=apm%2Csecurity&spec.max=3.0&spec.min=2.3"},
	}
	for _, tt := range tests {
		if got := tt.sel.Query().Encode(); got != tt.want {
			t.Errorf("%+v: %q, want %q", tt.sel, got, tt.want)
		}
	}
}

func TestRetries(t *testing.T) {
	tests := []struct {
		name     string
		statuses []int // answered in turn, then 200
		retries  int
		requests int64
		perm     bool
		fails    bool
	}{
		{name: "5xx retried", statuses: []int{500, 502, 503}, retries: 3, requests: 4},
		{name: "4xx not retried", statuses: []int{404}, retries: 3, requests: 1, perm: true, fails: true},
		{name: "429 not retried either", statuses: []int{429}, retries: 3, requests: 1, perm: true, fails: true},
		{name: "retries run out", statuses: []int{500, 500, 500, 500, 500, 500}, retries: 2, requests: 3, fails: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				i := n.Add(1) - 1
				if int(i) < len(tt.statuses) {
					w.WriteHeader(tt.statuses[i])
					return
				}
				w.Write([]byte("[]"))
			}))
			defer srv.Close()
			s, err := Run(context.Background(), Options{From: srv.URL, Retries: tt.retries, RetryDelay: time.Millisecond})
			if got := n.Load(); got != tt.requests {
				t.Errorf("%d requests, want %d", got, tt.requests)
			}
			if (err != nil) != tt.fails {
				t.Fatalf("err = %v, want failure %t", err, tt.fails)
			}
			var perm *PermanentError
			if errors.As(err, &perm) != tt.perm {
				t.Errorf("err = %v, permanent want %t", err, tt.perm)
			}
			if err == nil && len(s.Results) != 0 {
				t.Errorf("empty search gave %d results", len(s.Results))
			}
		})
	}
}
