package webhook_test

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/oci-epr/package-registry/internal/webhook"
)

// The token may come as ?token= on every route, for registries that cannot send a header; it is
// taken out of the request before anything could log it.
func TestWebhookQueryToken(t *testing.T) {
	r := newHandlerRig(t)
	// What an access log middleware would see once the handler returned.
	var mu sync.Mutex
	var seenURIs []string
	r.echo.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			err := next(c)
			mu.Lock()
			seenURIs = append(seenURIs, c.Request().URL.String(), c.Request().RequestURI)
			mu.Unlock()
			return err
		}
	})
	jsonH := http.Header{"Content-Type": {"application/json"}}
	quay := readTestdata(t, "quay-repo-push.json")
	hub := readTestdata(t, "dockerhub-push.json")
	dist := readTestdata(t, "distribution-push-manifest-retag.json")
	q := url.QueryEscape(testToken)

	tests := []struct {
		name          string
		req           request
		code          int
		wantPublished int
	}{
		{name: "quay without token", req: request{path: webhook.QuayPath, header: jsonH, body: quay}, code: 401},
		{name: "quay wrong token", req: request{path: webhook.QuayPath + "?token=wrong-token-123", header: jsonH, body: quay}, code: 401},
		{name: "quay empty token", req: request{path: webhook.QuayPath + "?token=", header: jsonH, body: quay}, code: 401},
		{name: "quay token prefix", req: request{path: webhook.QuayPath + "?token=" + q[:len(q)-1], header: jsonH, body: quay}, code: 401},
		{name: "quay bad query", req: request{path: webhook.QuayPath + "?token=%zz" + q, header: jsonH, body: quay}, code: 401},
		{name: "wrong bearer, wrong query", req: request{path: webhook.QuayPath + "?token=wrong-token-123", header: withAuth(jsonH, "Bearer wrong-token-123"), body: quay}, code: 401},
		{name: "dockerhub without token", req: request{path: webhook.DockerHubPath, header: jsonH, body: hub}, code: 401},
		{name: "acr without token", req: request{path: webhook.ACRPath, header: jsonH, body: readTestdata(t, "acr-push.json")}, code: 401},
		{name: "gar without token", req: request{path: webhook.GARPath, header: jsonH, body: readTestdata(t, "gar-insert-tag.json")}, code: 401},
		{name: "gar wrong token", req: request{path: webhook.GARPath + "?token=wrong-token-123", header: jsonH, body: readTestdata(t, "gar-insert-tag.json")}, code: 401},
		{name: "gar query token", req: request{path: webhook.GARPath + "?token=" + q, header: jsonH, body: readTestdata(t, "gar-insert-tag.json")}, code: 200, wantPublished: 1},
		{name: "gar ignored action", req: request{path: webhook.GARPath + "?token=" + q, header: jsonH,
			body: []byte(`{"message":{"messageId":"9","data":"eyJhY3Rpb24iOiJVUERBVEUifQ=="}}`)}, code: 200},
		{name: "quay query token", req: request{path: webhook.QuayPath + "?token=" + q, header: jsonH, body: quay}, code: 200, wantPublished: 2},
		{name: "dockerhub query token among others", req: request{path: webhook.DockerHubPath + "?a=1&token=" + q + "&b=2", header: jsonH, body: hub}, code: 200, wantPublished: 1},
		{name: "dockerhub bearer", req: request{path: webhook.DockerHubPath, header: withAuth(jsonH, "Bearer "+testToken), body: hub}, code: 200, wantPublished: 1},
		{name: "foreign bearer, right query", req: request{path: webhook.QuayPath + "?token=" + q, header: withAuth(jsonH, "Bearer eyJhbGciOi.foreign.jwt"), body: quay}, code: 200, wantPublished: 2},
		{name: "distribution query token", req: request{path: webhook.DistributionPath + "?token=" + q,
			header: http.Header{"Content-Type": {webhook.DistributionMediaType}}, body: dist}, code: 200, wantPublished: 1},
		{name: "quay malformed with token", req: request{path: webhook.QuayPath + "?token=" + q, header: jsonH, body: []byte(`{"repository":"A","updated_tags":["1"]}`)}, code: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, before := r.pub.counts()
			rec := r.do(t, tt.req)
			if rec.Code != tt.code {
				t.Fatalf("status %d (%q), want %d", rec.Code, rec.Body.String(), tt.code)
			}
			if strings.Contains(rec.Body.String(), testToken) {
				t.Errorf("response shows the token: %q", rec.Body.String())
			}
			if _, after := r.pub.counts(); after-before != tt.wantPublished {
				t.Errorf("published %d events, want %d", after-before, tt.wantPublished)
			}
		})
	}
	mu.Lock()
	defer mu.Unlock()
	for _, uri := range seenURIs {
		if strings.Contains(uri, "token") || strings.Contains(uri, testToken) {
			t.Errorf("request URL after the handler still holds the token: %q", uri)
		}
	}
	if !strings.Contains(strings.Join(seenURIs, " "), "a=1&b=2") {
		t.Errorf("other query parameters were not kept: %q", seenURIs)
	}
	logs := r.logs.String()
	for _, secret := range []string{testToken, "wrong-token-123"} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain %q:\n%s", secret, logs)
		}
	}
}

// Event Grid's two handshakes: the validation event of the Event Grid schema is answered with its
// code, the OPTIONS request of the CloudEvents schema with the origin it asked for.
func TestWebhookEventGridHandshakes(t *testing.T) {
	r := newHandlerRig(t)
	q := "?token=" + url.QueryEscape(testToken)
	vh, vbody := zotRequest(t, "eventgrid-validation.http")

	t.Run("validation event", func(t *testing.T) {
		rec := r.do(t, request{path: webhook.EventGridPath + q, header: vh, body: vbody})
		if rec.Code != http.StatusOK || rec.Body.String() != `{"validationResponse":"512d38b6-c7b8-40c8-89fe-f46f9e9622b6"}`+"\n" {
			t.Fatalf("status %d %q", rec.Code, rec.Body.String())
		}
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("Content-Type %q", ct)
		}
	})
	t.Run("validation event without token", func(t *testing.T) {
		if rec := r.do(t, request{path: webhook.EventGridPath, header: vh, body: vbody}); rec.Code != http.StatusUnauthorized {
			t.Fatalf("status %d %q", rec.Code, rec.Body.String())
		}
	})
	for _, tt := range []struct {
		name   string
		path   string
		origin string
		code   int
	}{
		{"options", webhook.EventGridPath + q, "eventgrid.azure.net", 200},
		{"options without token", webhook.EventGridPath, "eventgrid.azure.net", 401},
		{"options without origin", webhook.EventGridPath + q, "", 400},
		{"options with a bad origin", webhook.EventGridPath + q, "evil.example\x00", 400},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.origin != "" {
				h.Set("WebHook-Request-Origin", tt.origin)
			}
			rec := r.do(t, request{method: http.MethodOptions, path: tt.path, header: h})
			if rec.Code != tt.code {
				t.Fatalf("status %d %q, want %d", rec.Code, rec.Body.String(), tt.code)
			}
			allowed := rec.Header().Get("WebHook-Allowed-Origin")
			if (tt.code == 200) != (allowed == tt.origin && allowed != "") {
				t.Errorf("WebHook-Allowed-Origin %q", allowed)
			}
			if tt.code == 200 && rec.Header().Get("WebHook-Allowed-Rate") == "" {
				t.Error("no WebHook-Allowed-Rate")
			}
		})
	}
	t.Run("push", func(t *testing.T) {
		h, body := zotRequest(t, "eventgrid-image-pushed.http")
		_, before := r.pub.counts()
		if rec := r.do(t, request{path: webhook.EventGridPath + q, header: h, body: body}); rec.Code != http.StatusOK || rec.Body.String() != "ok" {
			t.Fatalf("status %d %q", rec.Code, rec.Body.String())
		}
		if _, after := r.pub.counts(); after != before+1 {
			t.Errorf("published %d", after-before)
		}
	})
	t.Run("acr classic with its custom header", func(t *testing.T) {
		rec := r.do(t, request{path: webhook.ACRPath, header: http.Header{"Content-Type": {"application/json"},
			"Authorization": {"Bearer " + testToken}}, body: readTestdata(t, "acr-push.json")})
		if rec.Code != http.StatusOK || rec.Body.String() != "ok" {
			t.Fatalf("status %d %q", rec.Code, rec.Body.String())
		}
	})
	if got := counterValue(t, r.reg, "epr_webhook_requests_total", map[string]string{"format": "eventgrid", "outcome": webhook.OutcomeHandshake}); got != 2 {
		t.Errorf("%v handshakes counted, want 2", got)
	}
	if strings.Contains(r.logs.String(), testToken) {
		t.Error("logs contain the token")
	}
}
