package webhook_test

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/oci-epr/package-registry/internal/events"
	"github.com/oci-epr/package-registry/internal/testkit"
	"github.com/oci-epr/package-registry/internal/webhook"
)

const testToken = "tok-7f3c2a91-do-not-log"

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// zotRequest loads a captured Zot request's headers and body.
func zotRequest(t *testing.T, name string) (http.Header, []byte) {
	t.Helper()
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(readTestdata(t, name))))
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		t.Fatal(err)
	}
	return req.Header, body
}

type handlerRig struct {
	nats *natsStack
	pub  *countingPublisher
	echo *echo.Echo
	reg  *prometheus.Registry
	logs *testkit.SyncBuffer
}

const testGitHubSecret = "gh-9c1e-do-not-log"

func newHandlerRig(t *testing.T) *handlerRig {
	t.Helper()
	r := &handlerRig{nats: newNATSStack(t), echo: echo.New(), reg: prometheus.NewRegistry(), logs: &testkit.SyncBuffer{}}
	r.pub = &countingPublisher{next: r.nats.pub}
	metrics, err := webhook.NewMetrics(r.reg)
	if err != nil {
		t.Fatal(err)
	}
	if err := webhook.Register(r.echo, webhook.Config{
		Publisher:    r.pub,
		Token:        testToken,
		GitHubSecret: testGitHubSecret,
		Logger:       debugLogger(r.logs),
		Metrics:      metrics,
	}); err != nil {
		t.Fatal(err)
	}
	return r
}

type request struct {
	method  string // POST when empty
	path    string
	header  http.Header
	body    []byte
	chunked bool // no Content-Length, so only reading tells the size
}

func (r *handlerRig) do(t *testing.T, rq request) *httptest.ResponseRecorder {
	t.Helper()
	method := rq.method
	if method == "" {
		method = http.MethodPost
	}
	req := httptest.NewRequest(method, rq.path, bytes.NewReader(rq.body))
	for k, v := range rq.header {
		req.Header[k] = v
	}
	if rq.chunked {
		req.ContentLength = -1
	}
	rec := httptest.NewRecorder()
	r.echo.ServeHTTP(rec, req)
	return rec
}

func withAuth(h http.Header, value string) http.Header {
	h = h.Clone()
	if value != "" {
		h.Set("Authorization", value)
	}
	return h
}

func TestHandler(t *testing.T) {
	r := newHandlerRig(t)
	ctx := t.Context()
	bearer := "Bearer " + testToken
	distHeader := http.Header{"Content-Type": {webhook.DistributionMediaType}}
	push := readTestdata(t, "distribution-push-manifest-tag.json")
	zotHeader, zotBody := zotRequest(t, "zot-http-image-updated.http")
	zotHeader.Del("Authorization") // the capture's token is not this test's
	createdHeader, _ := zotRequest(t, "zot-http-repository-created.http")
	createdHeader.Del("Authorization")
	tooBig := append(bytes.Repeat([]byte(" "), webhook.DefaultMaxBodyBytes), push...)

	tests := []struct {
		name          string
		req           request
		code          int
		body          string
		wantPublished int
	}{
		{name: "no token", req: request{path: webhook.DistributionPath, header: distHeader, body: push}, code: 401, body: "unauthorized"},
		{name: "wrong token", req: request{path: webhook.DistributionPath, header: withAuth(distHeader, "Bearer wrong-token-123"), body: push}, code: 401},
		{name: "token prefix", req: request{path: webhook.DistributionPath, header: withAuth(distHeader, bearer[:len(bearer)-1]), body: push}, code: 401},
		{name: "token with suffix", req: request{path: webhook.DistributionPath, header: withAuth(distHeader, bearer+"x"), body: push}, code: 401},
		{name: "basic scheme", req: request{path: webhook.DistributionPath, header: withAuth(distHeader, "Basic "+testToken), body: push}, code: 401},
		{name: "bare token", req: request{path: webhook.ZotPath, header: withAuth(zotHeader, testToken), body: zotBody}, code: 401},
		{name: "too large by length", req: request{path: webhook.DistributionPath, header: withAuth(distHeader, bearer), body: tooBig}, code: 413},
		{name: "too large by reading", req: request{path: webhook.DistributionPath, header: withAuth(distHeader, bearer), body: tooBig, chunked: true}, code: 413},
		{name: "malformed JSON", req: request{path: webhook.DistributionPath, header: withAuth(distHeader, bearer), body: push[:len(push)/2]}, code: 400, body: "malformed notification: invalid JSON"},
		{name: "unknown content type", req: request{path: webhook.DistributionPath, header: withAuth(http.Header{"Content-Type": {"text/plain"}}, bearer), body: push}, code: 400, body: "unsupported content type"},
		{name: "zot unknown content type", req: request{path: webhook.ZotPath, header: withAuth(http.Header{"Content-Type": {"application/xml"}}, bearer), body: zotBody}, code: 400, body: "unsupported content type"},
		{name: "zot JSON without CloudEvents headers", req: request{path: webhook.ZotPath, header: withAuth(http.Header{"Content-Type": {"application/json"}}, bearer), body: zotBody}, code: 400, body: "not a CloudEvent"},
		{name: "GET is not allowed", req: request{method: http.MethodGet, path: webhook.DistributionPath, header: withAuth(distHeader, bearer)}, code: 405},
		{name: "ignored pull", req: request{path: webhook.DistributionPath, header: withAuth(distHeader, bearer), body: readTestdata(t, "distribution-pull.json")}, code: 200, body: "ignored"},
		{name: "ignored blob push", req: request{path: webhook.DistributionPath, header: withAuth(distHeader, bearer), body: readTestdata(t, "distribution-push-blob.json")}, code: 200, body: "ignored"},
		{name: "ignored zot repository created", req: request{path: webhook.ZotPath, header: withAuth(createdHeader, bearer), body: []byte(`{"name":"demo/thing"}`)}, code: 200, body: "ignored"},
		{name: "distribution push", req: request{path: webhook.DistributionPath, header: withAuth(distHeader, bearer), body: push}, code: 200, body: "ok", wantPublished: 1},
		{name: "distribution push redelivered", req: request{path: webhook.DistributionPath, header: withAuth(distHeader, bearer), body: push}, code: 200, body: "ok", wantPublished: 1},
		{name: "zot push, lower-case scheme", req: request{path: webhook.ZotPath, header: withAuth(zotHeader, "bearer "+testToken), body: zotBody}, code: 200, body: "ok", wantPublished: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, before := r.pub.counts()
			rec := r.do(t, tt.req)
			if rec.Code != tt.code {
				t.Fatalf("status %d (%q), want %d", rec.Code, rec.Body.String(), tt.code)
			}
			if !strings.Contains(rec.Body.String(), tt.body) {
				t.Errorf("body %q, want it to contain %q", rec.Body.String(), tt.body)
			}
			if strings.Count(strings.TrimSpace(rec.Body.String()), "\n") > 0 {
				t.Errorf("body is not one line: %q", rec.Body.String())
			}
			if tt.code == 401 && rec.Header().Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			if _, after := r.pub.counts(); after-before != tt.wantPublished {
				t.Errorf("published %d events, want %d", after-before, tt.wantPublished)
			}
		})
	}

	// The redelivery was acknowledged again but stored once, through its message id.
	got := streamContents(t, ctx, r.nats.js)
	if len(got) != 2 {
		t.Fatalf("stream holds %d messages, want 2: %+v", len(got), got)
	}
	if got[0].MsgID != "01a21bba-64bc-7259-80e9-026315748601" || got[1].MsgID != "zotregistry.dev/066aee84-eb64-40a8-bbbe-3b89712c765a" {
		t.Errorf("message ids %q, %q", got[0].MsgID, got[1].MsgID)
	}
	if got[0].Subject != events.Subject("demo/thing") {
		t.Errorf("subject %q", got[0].Subject)
	}

	t.Run("publish fails while NATS is down", func(t *testing.T) {
		r.nats.stop(t)
		attemptsBefore, before := r.pub.counts()
		rec := r.do(t, request{path: webhook.DistributionPath, header: withAuth(distHeader, bearer),
			body: readTestdata(t, "distribution-push-manifest-retag.json")})
		if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "unavailable") {
			t.Fatalf("status %d %q, want 503", rec.Code, rec.Body.String())
		}
		attempts, after := r.pub.counts()
		if attempts != attemptsBefore+1 || after != before {
			t.Fatalf("attempts %d→%d, published %d→%d; want one failed attempt", attemptsBefore, attempts, before, after)
		}
		// Ignored events need no stream, so they are still answered 200.
		rec = r.do(t, request{path: webhook.DistributionPath, header: withAuth(distHeader, bearer), body: readTestdata(t, "distribution-pull.json")})
		if rec.Code != http.StatusOK {
			t.Fatalf("ignored event while NATS is down: status %d", rec.Code)
		}
	})

	t.Run("metrics", func(t *testing.T) {
		for _, c := range []struct {
			name   string
			labels map[string]string
			want   float64
		}{
			{"epr_webhook_requests_total", map[string]string{"format": "distribution", "outcome": webhook.OutcomeUnauthorized}, 5},
			{"epr_webhook_requests_total", map[string]string{"format": "zot", "outcome": webhook.OutcomeUnauthorized}, 1},
			{"epr_webhook_requests_total", map[string]string{"format": "distribution", "outcome": webhook.OutcomeTooLarge}, 2},
			{"epr_webhook_requests_total", map[string]string{"format": "distribution", "outcome": webhook.OutcomeBadRequest}, 2},
			{"epr_webhook_requests_total", map[string]string{"format": "zot", "outcome": webhook.OutcomeBadRequest}, 2},
			{"epr_webhook_requests_total", map[string]string{"format": "distribution", "outcome": webhook.OutcomeIgnored}, 3},
			{"epr_webhook_requests_total", map[string]string{"format": "distribution", "outcome": webhook.OutcomePublished}, 2},
			{"epr_webhook_requests_total", map[string]string{"format": "distribution", "outcome": webhook.OutcomeUnavailable}, 1},
			{"epr_webhook_events_total", map[string]string{"format": "distribution", "result": webhook.ResultPublished}, 2},
			{"epr_webhook_events_total", map[string]string{"format": "distribution", "result": webhook.ResultIgnored}, 3},
			{"epr_webhook_events_total", map[string]string{"format": "distribution", "result": webhook.ResultRejected}, 2},
			{"epr_webhook_events_total", map[string]string{"format": "distribution", "result": webhook.ResultFailed}, 1},
			{"epr_webhook_events_total", map[string]string{"format": "zot", "result": webhook.ResultPublished}, 1},
			{"epr_webhook_events_total", map[string]string{"format": "zot", "result": webhook.ResultIgnored}, 1},
		} {
			if got := counterValue(t, r.reg, c.name, c.labels); got != c.want {
				t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
			}
		}
	})

	logs := r.logs.String()
	if !strings.Contains(logs, "webhook request rejected") || !strings.Contains(logs, "event published") {
		t.Fatalf("logs were not captured:\n%s", logs)
	}
	for _, secret := range []string{testToken, "wrong-token-123", "Authorization", "Bearer"} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain %q:\n%s", secret, logs)
		}
	}
}

// The API server mounts the same handlers under its own router in all-in-one mode.
func TestRegisterOnGroup(t *testing.T) {
	stack := newNATSStack(t)
	e := echo.New()
	if err := webhook.Register(e.Group("/internal"), webhook.Config{Publisher: stack.pub}); err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, "/internal"+webhook.DistributionPath,
		bytes.NewReader(readTestdata(t, "distribution-delete-tag.json")))
	req.Header.Set("Content-Type", webhook.DistributionMediaType)
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d %q", rec.Code, rec.Body.String())
	}
	if n := streamLen(t.Context(), stack.js); n != 1 {
		t.Fatalf("stream holds %d messages, want 1", n)
	}
	if err := webhook.Register(e, webhook.Config{}); err == nil {
		t.Fatal("Register without a publisher succeeded")
	}
}
