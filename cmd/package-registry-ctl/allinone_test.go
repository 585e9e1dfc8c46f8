package main

import (
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/oci-epr/package-registry/internal/api"
	"github.com/oci-epr/package-registry/internal/devregistry"
	"github.com/oci-epr/package-registry/internal/oci"
	"github.com/oci-epr/package-registry/internal/packages/packagetest"
	"github.com/oci-epr/package-registry/internal/service"
	"github.com/oci-epr/package-registry/internal/status"
)

// TestWaitAgainstARunningAllInOne asks a real all-in-one (in-process distribution registry,
// embedded NATS, indexer, API replica) through the status routes it serves: a valid push is
// served (0), a zip pushed under a version its manifest does not name is refused with its rule
// (1), and a version nobody pushed is not served by the deadline (2).
func TestWaitAgainstARunningAllInOne(t *testing.T) {
	t.Setenv("OTEL_TRACES_EXPORTER", "none")
	ctx := t.Context()
	reg, err := devregistry.Start(ctx, devregistry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	registry := oci.Config{Registry: "http://" + reg.Host()}
	client, err := oci.New(registry)
	if err != nil {
		t.Fatal(err)
	}
	spec := packagetest.ContentPackage() // acme_content 0.1.0
	zip := packagetest.Build(spec)
	for _, tag := range []string{spec.Version, "0.2.0"} { // 0.2.0 holds 0.1.0's manifest
		if _, err := client.PushPackage(ctx, "packages/"+spec.Name, tag, zip, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	all, err := service.StartAllInOne(ctx, service.AllInOneOptions{
		API:     service.APIOptions{Config: api.DefaultConfig(), Registry: registry},
		Indexer: service.IndexerOptions{Registry: registry, Repository: "packages"},
		DataDir: t.TempDir(),
		Webhook: service.WebhookOptions{Token: "change-me"},
		Log:     slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { all.Close() })
	srv := httptest.NewServer(status.NewHandler(all.StatusReader(), status.HandlerOptions{}))
	t.Cleanup(srv.Close)

	for _, c := range []struct {
		want, timeout string
		code          int
		says          []string
	}{
		{want: spec.Name + "@" + spec.Version, timeout: "3m", code: 0},
		{want: spec.Name + "@0.2.0", timeout: "3m", code: 1, says: []string{"expect_mismatch"}},
		{want: spec.Name + "@9.9.9", timeout: "2s", code: 2, says: []string{"9.9.9"}},
	} {
		t.Run(c.want, func(t *testing.T) {
			r := ctl(t, nil, "wait", c.want, "-timeout", c.timeout, "-address", srv.URL)
			if r.code != c.code {
				t.Fatalf("exit %d, want %d", r.code, c.code)
			}
			for _, s := range c.says {
				if !strings.Contains(r.stderr+r.stdout, s) {
					t.Errorf("output lacks %q", s)
				}
			}
		})
	}
}
