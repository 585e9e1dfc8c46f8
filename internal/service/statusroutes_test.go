package service

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/oci-epr/package-registry/internal/api"
	"github.com/oci-epr/package-registry/internal/process"
	"github.com/oci-epr/package-registry/internal/status"
	"github.com/oci-epr/package-registry/internal/testkit"
)

// TestStatusIsServedWhereTheOperatorChooses: on the metrics listener always, on the public
// address only with -status-public and then behind the token, without changing an EPR route.
func TestStatusIsServedWhereTheOperatorChooses(t *testing.T) {
	const token = "status-secret-token"
	store := status.NewMemory()
	tag := status.Tag{Repository: "packages/nginx", Tag: "1.0.0", Name: "nginx", Version: "1.0.0", State: status.Rejected, Rule: "manifest", Message: "bad"}
	b, _ := json.Marshal(tag)
	if err := store.Put(context.Background(), status.TagKey(tag), b); err != nil {
		t.Fatal(err)
	}
	reader := status.Reader{Store: store}

	get := func(h http.Handler, target string, hdr ...string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, target, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
	newServer := func() *api.Server {
		s, err := api.New(api.DefaultConfig(), nil, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	plain := newServer() // EPR routes only: the answers the others must keep

	// Default: the metrics listener only; the public address answers /status as EPR does.
	var logs testkit.SyncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	admin, err := process.MetricsListener("127.0.0.1:0", process.NewMetricsRegistry())
	if err != nil {
		t.Fatal(err)
	}
	private := newServer()
	if err := ServeStatus(reader, status.Exposure{Token: token}, admin, private, log); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- process.Serve(ctx, slog.New(slog.DiscardHandler), admin) }()
	defer func() { cancel(); <-done }()
	for _, path := range []string{"/status", "/status/packages/nginx", "/status/repositories/packages/nginx"} {
		resp, err := http.Get("http://" + admin.Addr() + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), `"rule":"manifest"`) {
			t.Errorf("metrics listener %s: %d %s", path, resp.StatusCode, body)
		}
	}
	for _, path := range []string{"/status", "/status/packages/nginx"} {
		if w, want := get(private, path), get(plain, path); w.Code != 404 || w.Body.String() != want.Body.String() {
			t.Errorf("public %s without -status-public: %d %q, want EPR's %d %q", path, w.Code, w.Body, want.Code, want.Body)
		}
	}

	// -status-public: behind the token, and the EPR routes answer as before.
	public := newServer()
	if err := ServeStatus(reader, status.Exposure{Public: true, Token: token}, nil, public, log); err != nil {
		t.Fatal(err)
	}
	if w := get(public, "/status"); w.Code != 401 || w.Header().Get("WWW-Authenticate") == "" {
		t.Errorf("public /status without a token: %d %v", w.Code, w.Header())
	}
	if w := get(public, "/status/packages/nginx", "Authorization", "Bearer "+token); w.Code != 200 || !strings.Contains(w.Body.String(), `"state":"rejected"`) {
		t.Errorf("public /status/packages/nginx with the token: %d %s", w.Code, w.Body)
	}
	if w := get(public, "/status/repositories/packages/nginx?format=html", "Authorization", "Bearer "+token); w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
		t.Errorf("public repository page with the token: %d %v", w.Code, w.Header())
	}
	for _, path := range []string{"/", "/search?package=nginx", "/categories", "/package/nginx/1.0.0/", "/statusx", "/health"} {
		w, want := get(public, path), get(plain, path)
		if w.Code != want.Code || w.Body.String() != want.Body.String() || w.Header().Get("Content-Type") != want.Header().Get("Content-Type") {
			t.Errorf("%s changed with the status routes mounted: %d %q, was %d %q", path, w.Code, w.Body, want.Code, want.Body)
		}
	}

	if err := ServeStatus(reader, status.Exposure{Public: true}, nil, newServer(), log); err == nil || !strings.Contains(err.Error(), "-status-token") {
		t.Errorf("-status-public without a token: %v", err)
	}
	if strings.Contains(logs.String(), token) {
		t.Errorf("the token was logged:\n%s", logs.String())
	}
}
