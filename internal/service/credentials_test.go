package service

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/oci-epr/package-registry/internal/api"
	"github.com/oci-epr/package-registry/internal/devregistry"
	"github.com/oci-epr/package-registry/internal/events"
	"github.com/oci-epr/package-registry/internal/oci"
	"github.com/oci-epr/package-registry/internal/packages/packagetest"
	"github.com/oci-epr/package-registry/internal/process"
	"github.com/oci-epr/package-registry/internal/testkit"
)

// TestTokenAuthRegistryEndToEnd runs the pipeline against a registry with token auth (a real
// distribution that verifies the JWTs our test issuer signs). The indexer authenticates with
// an identity token from a docker config (as ACR and Harbor robot accounts do), a separate API
// replica with a user and password from another docker config; a pushed package is indexed
// from the registry's notification and its zip is served by the replica, which downloads it
// with its own token. No secret appears in the logs, errors or metrics.
func TestTokenAuthRegistryEndToEnd(t *testing.T) {
	const (
		writerPass = "e2e-writer-pa55-R4t"
		readerPass = "e2e-reader-pa55-H8p"
		identity   = "e2e-identity-t0ken-N5d"
	)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	dir := t.TempDir()
	issuer, err := devregistry.StartTokenIssuer(dir, map[string]devregistry.Account{
		"writer":  {Password: writerPass, Actions: []string{"pull", "push"}},
		"indexer": {RefreshToken: identity, Actions: []string{"pull"}},
		"api":     {Password: readerPass, Actions: []string{"pull"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { issuer.Close() })

	fwd := &forwarder{}
	ln, err := process.Listen("api", "127.0.0.1:0", fwd)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := devregistry.Start(ctx, devregistry.Options{Auth: issuer.Auth(), Notifications: []devregistry.Notification{{
		URL:           "http://" + ln.Addr() + "/webhooks/distribution",
		Headers:       http.Header{"Authorization": {"Bearer " + testToken}},
		Timeout:       5 * time.Second,
		Threshold:     3,
		Backoff:       100 * time.Millisecond,
		IgnoreActions: []string{"pull", "mount"},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })

	dockerConfig := func(name string, entry map[string]string) string {
		raw, _ := json.Marshal(map[string]any{"auths": map[string]any{reg.Host(): entry}})
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, raw, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	indexerCfg := oci.Config{Registry: "http://" + reg.Host(), DockerConfig: dockerConfig("indexer.json", map[string]string{"identitytoken": identity})}
	apiCfg := oci.Config{Registry: "http://" + reg.Host(), DockerConfig: dockerConfig("api.json",
		map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte("api:" + readerPass))})}

	var logs testkit.SyncBuffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	metrics := process.NewMetricsRegistry()
	all, err := StartAllInOne(ctx, AllInOneOptions{
		API:     APIOptions{Config: api.DefaultConfig(), Metrics: metrics},
		Indexer: IndexerOptions{Registry: indexerCfg, Repository: "packages", Metrics: metrics},
		DataDir: t.TempDir(),
		Webhook: WebhookOptions{Token: testToken, Metrics: metrics},
		Log:     log,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { all.Close() })
	var h http.Handler = all.API.Server
	fwd.h.Store(&h)
	served := make(chan struct{})
	go func() { defer close(served); _ = process.Serve(ctx, log, ln) }()
	t.Cleanup(func() { cancel(); <-served })
	testkit.Eventually(t, 15*time.Second, "all-in-one ready", all.Ready)

	writer, err := oci.New(oci.Config{Registry: "http://" + reg.Host(), Username: "writer", Password: writerPass})
	if err != nil {
		t.Fatal(err)
	}
	pkg := packagetest.Integration()
	zip := packagetest.Build(pkg)
	pushed := time.Now()
	if _, err := writer.PushPackage(ctx, "packages/"+pkg.Name, pkg.Version, zip, nil, nil); err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr()
	testkit.Eventually(t, 10*time.Second, "package in /search", func() bool {
		items, _, _ := search(t, base, "")
		return has(items, pkg.Name, pkg.Version)
	})
	t.Logf("push → visible in /search through a token-auth registry: %v", time.Since(pushed))

	// A separate replica, with its own credentials and blob cache, serves the zip.
	nc, err := events.Connect(all.Conn.ConnectedUrl(), "replica", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	rep, err := StartAPI(ctx, nc, APIOptions{Config: api.DefaultConfig(), DataDir: t.TempDir(), Registry: apiCfg, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	defer rep.Close()
	zipPath := fmt.Sprintf("/epr/%s/%s-%s.zip", pkg.Name, pkg.Name, pkg.Version)
	var rec *httptest.ResponseRecorder
	testkit.Eventually(t, 10*time.Second, "replica serves the zip", func() bool {
		rec = httptest.NewRecorder()
		rep.Server.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, zipPath, nil))
		return rec.Code == http.StatusOK
	})
	if !bytes.Equal(rec.Body.Bytes(), zip) {
		t.Fatalf("replica's zip differs: %d bytes, want %d", rec.Body.Len(), len(zip))
	}
	// The indexer and the replica each got a pull-only token for the package's repository
	// (the writer's grants include push).
	pullOnly := 0
	for _, s := range issuer.Scopes() {
		if s == "repository:packages/"+pkg.Name+":pull" {
			pullOnly++
		}
	}
	if pullOnly < 2 {
		t.Errorf("pull-only grants on packages/%s: %d, want one each for the indexer and the replica: %v", pkg.Name, pullOnly, issuer.Scopes())
	}

	// A reader with a wrong identity token fails, and says so without the token.
	bad, err := oci.New(oci.Config{Registry: "http://" + reg.Host(), DockerConfig: dockerConfig("bad.json", map[string]string{"identitytoken": "wrong-" + identity})})
	if err != nil {
		t.Fatal(err)
	}
	_, listErr := bad.Tags(ctx, "packages/"+pkg.Name)
	if listErr == nil {
		t.Fatal("a wrong identity token listed tags")
	}

	rec = httptest.NewRecorder()
	promhttp.HandlerFor(metrics, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	for _, secret := range []string{writerPass, readerPass, identity, base64.StdEncoding.EncodeToString([]byte("api:" + readerPass))} {
		for where, text := range map[string]string{"logs": logs.String(), "metrics": rec.Body.String(), "error": fmt.Sprintf("%v %+v", listErr, listErr)} {
			if strings.Contains(text, secret) {
				t.Errorf("%s contain a secret", where)
			}
		}
	}
	if !strings.Contains(logs.String(), "credentials from") {
		t.Errorf("the credential source is not logged:\n%s", logs.String())
	}
}
