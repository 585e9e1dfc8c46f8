package main

import (
	"reflect"
	"testing"
	"time"

	"github.com/oci-epr/package-registry/internal/events"
	"github.com/oci-epr/package-registry/internal/indexer"
	"github.com/oci-epr/package-registry/internal/oci"
	"github.com/oci-epr/package-registry/internal/service"
	"github.com/oci-epr/package-registry/internal/testkit"
)

func TestParseFlags(t *testing.T) {
	defaults := func(registry string) service.IndexerOptions {
		return service.IndexerOptions{
			Registry:   oci.Config{Registry: registry, DockerConfig: oci.DefaultDockerConfig(), RequestTimeout: oci.DefaultRequestTimeout},
			Repository: "packages", DataDir: "data/indexer", ResyncInterval: 10 * time.Minute, Parallelism: 4,
			ReconcileTimeout: indexer.DefaultReconcileTimeout,
			MaxZipBytes:      512 << 20, Stream: events.StreamOptions{Replicas: 1},
		}
	}
	custom := defaults("https://r.example")
	custom.Registry.Username, custom.Registry.Password, custom.Registry.Insecure = "u", "s3cret", true
	custom.Repository, custom.Repositories = "epr", []string{"epr/a", "epr/b"}
	custom.ResyncInterval, custom.Parallelism, custom.Stream.Replicas = time.Minute, 8, 3
	custom.DisablePackageValidation, custom.RequirePackageSignatures = true, true
	custom.ReconcileTimeout, custom.Registry.RequestTimeout = 90*time.Second, 20*time.Second
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want options
		err  string
	}{
		{name: "defaults", args: []string{"-oci-registry", "r:5000"}, want: options{address: "localhost:8082", natsURL: "nats://localhost:4222",
			indexer: defaults("r:5000"), logLevel: "info", logType: "ecs"}},
		{name: "environment, flags win",
			args: []string{"-oci-registry", "https://r.example", "-parallelism", "8", "-oci-repositories", "epr/a, ,epr/b"},
			env: map[string]string{"EPR_OCI_REGISTRY": "ignored:1", "EPR_OCI_USERNAME": "u", "EPR_OCI_PASSWORD": "s3cret",
				"EPR_OCI_INSECURE": "true", "EPR_OCI_REPOSITORY": "epr", "EPR_RESYNC_INTERVAL": "1m", "EPR_PARALLELISM": "2",
				"EPR_NATS_REPLICAS": "3", "EPR_LOG_LEVEL": "debug", "EPR_DISABLE_PACKAGE_VALIDATION": "true",
				"EPR_REQUIRE_PACKAGE_SIGNATURES": "true", "EPR_RECONCILE_TIMEOUT": "90s", "EPR_OCI_REQUEST_TIMEOUT": "20s"},
			want: options{address: "localhost:8082", natsURL: "nats://localhost:4222", indexer: custom, logLevel: "debug", logType: "ecs"}},
		{name: "password on the command line", args: []string{"-oci-registry=r", "-oci-username=u", "-oci-password=p"},
			want: func() options {
				o := options{address: "localhost:8082", natsURL: "nats://localhost:4222", indexer: defaults("r"), logLevel: "info", logType: "ecs", passwordInArgs: true}
				o.indexer.Registry.Username, o.indexer.Registry.Password = "u", "p"
				return o
			}()},
		{name: "no registry", err: "-oci-registry is required"},
		{name: "bad env value", args: []string{"-oci-registry=r"}, env: map[string]string{"EPR_RESYNC_INTERVAL": "often"}, err: "-resync-interval"},
		{name: "stray argument", args: []string{"-oci-registry=r", "run"}, err: "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseFlags(tt.args, testkit.Env(tt.env))
			if testkit.WantErr(t, err, tt.err) {
				return
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}
