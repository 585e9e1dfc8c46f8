package service_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	"github.com/oci-epr/package-registry/internal/api"
	"github.com/oci-epr/package-registry/internal/devregistry"
	"github.com/oci-epr/package-registry/internal/oci"
	"github.com/oci-epr/package-registry/internal/packages/packagetest"
	"github.com/oci-epr/package-registry/internal/service"
)

// The whole pipeline in one process, as `cmd/api -feature-oci-indexer` runs it: an OCI registry
// (CNCF distribution, in memory), embedded NATS, the indexer and an API replica. The package is
// pushed before the pipeline starts, so the indexer's first sync finds it; a running pipeline
// learns of pushes from the registry's notifications on /webhooks/distribution.
func ExampleStartAllInOne() {
	os.Setenv("OTEL_TRACES_EXPORTER", "none")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reg, err := devregistry.Start(ctx, devregistry.Options{})
	if err != nil {
		panic(err)
	}
	defer reg.Close()
	registry := oci.Config{Registry: "http://" + reg.Host()}
	client, err := oci.New(registry)
	if err != nil {
		panic(err)
	}
	spec := packagetest.ContentPackage()
	if _, err := client.PushPackage(ctx, "packages/"+spec.Name, spec.Version, packagetest.Build(spec), nil, nil); err != nil {
		panic(err)
	}

	dataDir, err := os.MkdirTemp("", "epr-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dataDir)
	all, err := service.StartAllInOne(ctx, service.AllInOneOptions{
		API:     service.APIOptions{Config: api.DefaultConfig(), Registry: registry},
		Indexer: service.IndexerOptions{Registry: registry, Repository: "packages"},
		DataDir: dataDir,
		Webhook: service.WebhookOptions{Token: "change-me"}, // what the registry sends
		Log:     slog.New(slog.DiscardHandler),
	})
	if err != nil {
		panic(err)
	}
	defer all.Close()
	srv := httptest.NewServer(all.API.Server)
	defer srv.Close()

	for deadline := time.Now().Add(3 * time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get(srv.URL + "/search")
		if err != nil {
			panic(err)
		}
		var items []struct{ Name, Version string }
		err = json.NewDecoder(resp.Body).Decode(&items)
		resp.Body.Close()
		if err == nil && resp.Header.Get("X-Package-Source") != "mock" && len(items) > 0 {
			fmt.Println(items[0].Name, items[0].Version)
			return
		}
	}
	fmt.Println("not indexed")
	// Output: acme_content 0.1.0
}
