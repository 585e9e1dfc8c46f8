package service

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/oci-epr/package-registry/internal/events"
	"github.com/oci-epr/package-registry/internal/process"
	"github.com/oci-epr/package-registry/internal/testkit"
	"github.com/oci-epr/package-registry/internal/webhook"
)

const webhookToken = "tok-5d1e88b0-do-not-log"

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

func startEmbeddedNATS(t *testing.T, dir, addr string) *events.Embedded {
	t.Helper()
	srv, err := events.StartEmbedded(events.EmbeddedOptions{StoreDir: dir, Address: addr})
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

// webhookProcess runs what cmd/webhook runs: a reconnecting connection, the receiver, and its
// webhook and metrics listeners.
type webhookProcess struct {
	w        *Webhook
	base     string
	metrics  string
	logs     *testkit.SyncBuffer
	cancel   context.CancelFunc
	served   chan error
	natsAddr string
}

func startWebhookProcess(t *testing.T, natsAddr string) *webhookProcess {
	t.Helper()
	p := &webhookProcess{logs: &testkit.SyncBuffer{}, served: make(chan error, 1), natsAddr: natsAddr}
	log := slog.New(slog.NewTextHandler(p.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	nc, err := events.Connect("nats://"+natsAddr, "epr-webhook", log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	reg := process.NewMetricsRegistry()
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	p.cancel = cancel
	p.w, err = StartWebhook(ctx, nc, WebhookOptions{
		Token: webhookToken,
		// Bounds a hung ack only (a publish while disconnected fails at once); a second could
		// turn a slow ack on a busy machine into a 503.
		PublishTimeout: time.Minute,
		Log:            log,
		Metrics:        reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.w.Close() })
	hooks, err := process.Listen("webhook", "127.0.0.1:0", p.w.Handler())
	if err != nil {
		t.Fatal(err)
	}
	metrics, err := process.MetricsListener("127.0.0.1:0", reg)
	if err != nil {
		t.Fatal(err)
	}
	p.base, p.metrics = "http://"+hooks.Addr(), "http://"+metrics.Addr()
	go func() { p.served <- process.Serve(ctx, log, hooks, metrics) }()
	return p
}

func (p *webhookProcess) ready(t *testing.T) bool {
	code, _ := httpDo(t, http.MethodGet, p.base+"/health?ready=true", nil, nil)
	return code == http.StatusOK
}

func pushNotification(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "webhook", "testdata", "distribution-push-manifest-tag.json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var hookHeader = http.Header{"Content-Type": {webhook.DistributionMediaType}, "Authorization": {"Bearer " + webhookToken}}

// The receiver starts before NATS does: it is live at once, ready only once NATS is up and the
// stream exists, keeps its metrics off the webhook listener, and shuts down cleanly.
func TestWebhookLifecycle(t *testing.T) {
	p := startWebhookProcess(t, testkit.FreeAddr(t))
	push := pushNotification(t)

	if code, body := httpDo(t, http.MethodGet, p.base+"/health", nil, nil); code != http.StatusOK || body != "" {
		t.Fatalf("liveness without NATS: %d %q, want 200 and no body", code, body)
	}
	if code, body := httpDo(t, http.MethodGet, p.base+"/health?ready=true", nil, nil); code != http.StatusServiceUnavailable || body == "" {
		t.Fatalf("readiness without NATS: %d %q, want 503 with a reason", code, body)
	}
	if code, _ := httpDo(t, http.MethodPost, p.base+webhook.DistributionPath, hookHeader, push); code != http.StatusServiceUnavailable {
		t.Fatalf("webhook without NATS: %d, want 503", code)
	}

	nats := startEmbeddedNATS(t, t.TempDir(), p.natsAddr)
	defer nats.Shutdown()
	testkit.Eventually(t, 15*time.Second, "readiness", func() bool { return p.ready(t) })
	if !p.w.Ready() {
		t.Error("Ready() is false while /health?ready=true answers 200")
	}
	if code, body := httpDo(t, http.MethodPost, p.base+webhook.DistributionPath, hookHeader, push); code != http.StatusOK {
		t.Fatalf("webhook with NATS: %d %q, want 200", code, body)
	}

	code, metrics := httpDo(t, http.MethodGet, p.metrics+"/metrics", nil, nil)
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
	if code, _ := httpDo(t, http.MethodGet, p.base+"/metrics", nil, nil); code != http.StatusNotFound {
		t.Errorf("/metrics on the webhook listener: %d, want 404", code)
	}

	p.cancel()
	select {
	case err := <-p.served:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(testkit.Patience):
		t.Fatal("Serve did not return after cancel")
	}
	if err := p.w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := http.Get(p.base + "/health"); err == nil {
		t.Error("still serving after shutdown")
	}
	if strings.Contains(p.logs.String(), webhookToken) {
		t.Error("logs contain the token")
	}
}

// A NATS that comes back on an empty store has lost the stream: the receiver notices on
// reconnect, well before its periodic check, and sets the stream up again.
func TestWebhookRecreatesStreamAfterRestart(t *testing.T) {
	addr := testkit.FreeAddr(t)
	nats := startEmbeddedNATS(t, t.TempDir(), addr)
	defer func() { nats.Shutdown() }()
	p := startWebhookProcess(t, addr)
	if p.w.checkEvery < 10*time.Second {
		t.Fatalf("periodic check every %v; this test needs it slower than the reconnect", p.w.checkEvery)
	}
	testkit.Eventually(t, 15*time.Second, "readiness", func() bool { return p.ready(t) })

	nats.Shutdown()
	testkit.Eventually(t, 10*time.Second, "readiness to drop while NATS is down", func() bool { return !p.ready(t) })
	nats = startEmbeddedNATS(t, t.TempDir(), addr)
	testkit.Eventually(t, 10*time.Second, "readiness after the restart", func() bool { return p.ready(t) })
	if code, body := httpDo(t, http.MethodPost, p.base+webhook.DistributionPath, hookHeader, pushNotification(t)); code != http.StatusOK {
		t.Fatalf("webhook after the restart: %d %q, want 200", code, body)
	}
	if !strings.Contains(p.logs.String(), "event stream unavailable") {
		t.Error("the lost stream was not logged")
	}
}

// A stream deleted while connected is noticed by the periodic check: readiness drops until the
// stream is set up again.
func TestWebhookRecreatesDeletedStream(t *testing.T) {
	interval := streamCheckInterval
	streamCheckInterval = 200 * time.Millisecond
	t.Cleanup(func() { streamCheckInterval = interval })

	nats := startEmbeddedNATS(t, t.TempDir(), "")
	defer nats.Shutdown()
	p := startWebhookProcess(t, nats.Address())
	testkit.Eventually(t, 15*time.Second, "readiness", func() bool { return p.ready(t) })

	admin, err := events.Connect(nats.ClientURL(), "admin", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	js, err := jetstream.New(admin)
	if err != nil {
		t.Fatal(err)
	}
	if err := js.DeleteStream(t.Context(), events.StreamName); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 15*time.Second, "the stream to be set up again", func() bool {
		_, err := js.Stream(t.Context(), events.StreamName)
		return err == nil && p.ready(t)
	})
	if code, body := httpDo(t, http.MethodPost, p.base+webhook.DistributionPath, hookHeader, pushNotification(t)); code != http.StatusOK {
		t.Fatalf("webhook after the stream was set up again: %d %q, want 200", code, body)
	}
	if !strings.Contains(p.logs.String(), "event stream unavailable") {
		t.Error("the lost stream was not logged")
	}
}
