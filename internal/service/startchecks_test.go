package service

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oci-epr/package-registry/internal/api"
	"github.com/oci-epr/package-registry/internal/events"
	"github.com/oci-epr/package-registry/internal/oci"
	"github.com/oci-epr/package-registry/internal/testkit"
	"github.com/oci-epr/package-registry/internal/webhook"
)

// The webhook routes never open to anyone by default: without a token, the receiver and the
// all-in-one refuse to start unless the operator passes -webhook-allow-unauthenticated; a
// layout, which no registry notifies, serves no webhook routes and needs no token.
func TestWebhookRoutesNeedATokenOrConsent(t *testing.T) {
	srv, err := events.StartEmbedded(events.EmbeddedOptions{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	nc, err := events.Connect(srv.ClientURL(), "test", testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)

	if _, err := StartWebhook(t.Context(), nc, WebhookOptions{}); !errors.Is(err, ErrNoWebhookToken) {
		t.Errorf("webhook receiver without a token: %v, want ErrNoWebhookToken", err)
	}
	reg := oci.Config{Registry: "http://127.0.0.1:1"}
	_, err = StartAllInOne(t.Context(), AllInOneOptions{
		API: APIOptions{Config: api.DefaultConfig(), Registry: reg}, Indexer: IndexerOptions{Registry: reg, Repository: "packages"},
		DataDir: t.TempDir(), NATSURL: srv.ClientURL(), Log: testLogger(t),
	})
	if !errors.Is(err, ErrNoWebhookToken) || !strings.Contains(err.Error(), "-webhook-allow-unauthenticated") {
		t.Errorf("all-in-one without a token: %v, want ErrNoWebhookToken naming the flag", err)
	}

	logs := &testkit.SyncBuffer{}
	w, err := StartWebhook(t.Context(), nc, WebhookOptions{AllowUnauthenticated: true, Log: slogTo(logs)})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if !strings.Contains(logs.String(), "unauthenticated") {
		t.Errorf("no warning about the open routes:\n%s", logs)
	}
	hooks := httptest.NewServer(w.Handler())
	defer hooks.Close()
	testkit.Eventually(t, time.Minute, "the receiver ready", w.Ready)
	resp, err := http.Post(hooks.URL+webhook.DistributionPath, webhook.DistributionMediaType, strings.NewReader(`{"events":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("unauthenticated post with consent: %d, want 200", resp.StatusCode)
	}

	layout := t.TempDir()
	if err := os.WriteFile(filepath.Join(layout, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(layout, "index.json"), []byte(`{"schemaVersion":2,"manifests":[]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	all, err := StartAllInOne(t.Context(), AllInOneOptions{
		API: APIOptions{Config: api.DefaultConfig()}, Indexer: IndexerOptions{Layout: layout, Repository: "packages"},
		DataDir: t.TempDir(), NATSURL: srv.ClientURL(), Log: testLogger(t),
	})
	if err != nil {
		t.Fatalf("all-in-one on a layout without a token: %v", err)
	}
	defer all.Close()
	rec := httptest.NewRecorder()
	all.API.Server.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, webhook.DistributionPath, strings.NewReader(`{"events":[]}`)))
	if rec.Code != http.StatusNotFound {
		t.Errorf("layout all-in-one serves %s: %d, want 404", webhook.DistributionPath, rec.Code)
	}
}

// A data directory the process cannot use is named, with what is wrong, before anything else
// starts: not after the embedded NATS server's start-up timeout.
func TestUnusableDataDirectoryIsNamed(t *testing.T) {
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	readOnly := filepath.Join(t.TempDir(), "read-only")
	if err := os.Mkdir(readOnly, 0o500); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct{ dir, want string }{
		"a file":                  {file, "is not a directory"},
		"below a file":            {filepath.Join(file, "data"), "cannot be created"},
		"not writable (non-root)": {readOnly, "is not writable"},
	}
	reg := oci.Config{Registry: "http://127.0.0.1:1"}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if tc.dir == readOnly && os.Geteuid() == 0 {
				t.Skip("root writes into a 0500 directory; the cases above cover the check")
			}
			starts := map[string]func() error{
				"all-in-one": func() error {
					_, err := StartAllInOne(context.Background(), AllInOneOptions{
						API: APIOptions{Config: api.DefaultConfig(), Registry: reg}, Indexer: IndexerOptions{Registry: reg, Repository: "packages"},
						DataDir: tc.dir, Webhook: WebhookOptions{Token: testToken}, Log: testLogger(t),
					})
					return err
				},
				"indexer": func() error {
					_, err := StartIndexer(context.Background(), nil, IndexerOptions{Registry: reg, Repository: "packages", DataDir: tc.dir})
					return err
				},
				"api": func() error {
					_, err := StartAPI(context.Background(), nil, APIOptions{Config: api.DefaultConfig(), Registry: reg, DataDir: tc.dir})
					return err
				},
			}
			for role, start := range starts {
				var err error
				testkit.Returns(t, 2*time.Minute, role+" start", func() { err = start() })
				if err == nil || !strings.Contains(err.Error(), "data directory "+tc.dir) || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("%s: %v, want an error naming %s and saying %q", role, err, tc.dir, tc.want)
				}
			}
		})
	}
}

func slogTo(w *testkit.SyncBuffer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }
