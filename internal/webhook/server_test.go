package webhook_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/oci-epr/package-registry/internal/webhook"
)

func httpDo(t *testing.T, method, url string, header http.Header, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// The server starts before NATS does: it is live at once, ready only once NATS is up and the
// stream exists, and shuts down cleanly.
func TestServerLifecycle(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	natsAddr := ln.Addr().String()
	ln.Close()

	logs := &syncBuffer{}
	srv, err := webhook.NewServer(webhook.ServerConfig{
		Address:        "127.0.0.1:0",
		MetricsAddress: "127.0.0.1:0",
		NATSURL:        "nats://" + natsAddr,
		Token:          testToken,
		PublishTimeout: time.Second,
		Logger:         debugLogger(logs),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()

	base := "http://" + srv.Addr().String()
	push := readTestdata(t, "distribution-push-manifest-tag.json")
	hookHeader := http.Header{"Content-Type": {webhook.DistributionMediaType}, "Authorization": {"Bearer " + testToken}}

	if code, body := httpDo(t, http.MethodGet, base+"/health", nil, nil); code != http.StatusOK || body != "" {
		t.Fatalf("liveness without NATS: %d %q, want 200 and no body", code, body)
	}
	if code, _ := httpDo(t, http.MethodGet, base+"/health?ready=true", nil, nil); code != http.StatusServiceUnavailable {
		t.Fatalf("readiness without NATS: %d, want 503", code)
	}
	if code, _ := httpDo(t, http.MethodPost, base+webhook.DistributionPath, hookHeader, push); code != http.StatusServiceUnavailable {
		t.Fatalf("webhook without NATS: %d, want 503", code)
	}

	nats := startNATS(t, t.TempDir(), natsAddr)
	defer nats.Shutdown()
	waitFor(t, 15*time.Second, "readiness", func() bool {
		code, _ := httpDo(t, http.MethodGet, base+"/health?ready=true", nil, nil)
		return code == http.StatusOK
	})
	if code, body := httpDo(t, http.MethodPost, base+webhook.DistributionPath, hookHeader, push); code != http.StatusOK {
		t.Fatalf("webhook with NATS: %d %q, want 200", code, body)
	}

	code, metrics := httpDo(t, http.MethodGet, "http://"+srv.MetricsAddr().String()+"/metrics", nil, nil)
	if code != http.StatusOK {
		t.Fatalf("metrics: %d", code)
	}
	for _, line := range []string{
		`epr_webhook_requests_total{format="distribution",outcome="published"} 1`,
		`epr_webhook_requests_total{format="distribution",outcome="unavailable"} 1`,
		`epr_webhook_events_total{format="distribution",result="published"} 1`,
		`go_goroutines `,
	} {
		if !strings.Contains(metrics, line) {
			t.Errorf("metrics lack %q", line)
		}
	}
	if code, _ := httpDo(t, http.MethodGet, base+"/metrics", nil, nil); code != http.StatusNotFound {
		t.Errorf("/metrics on the webhook listener: %d, want 404", code)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if _, err := http.Get(base + "/health"); err == nil {
		t.Error("still serving after shutdown")
	}
	if strings.Contains(logs.String(), testToken) {
		t.Error("logs contain the token")
	}
}
