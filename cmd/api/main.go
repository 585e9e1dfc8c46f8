// Command api serves the Elastic Package Registry API from the replicated package index. With
// -feature-oci-indexer it runs the whole pipeline in one process: an embedded NATS server (unless
// -nats-url is given), the indexer, and the webhook routes on the API's own address.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/oci-epr/package-registry/internal/api"
	"github.com/oci-epr/package-registry/internal/events"
	"github.com/oci-epr/package-registry/internal/flagenv"
	"github.com/oci-epr/package-registry/internal/oci"
	"github.com/oci-epr/package-registry/internal/process"
	"github.com/oci-epr/package-registry/internal/service"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	flagenv.Exit("package-registry", run(os.Args[1:]))
}

func run(args []string) error {
	defaults := api.DefaultConfig()
	fs := flag.NewFlagSet("package-registry", flag.ContinueOnError)
	address := fs.String("address", "localhost:8080", "listen address")
	natsURL := fs.String("nats-url", "", "NATS server URL (default nats://localhost:4222; with -feature-oci-indexer, empty starts an embedded server)")
	dataDir := fs.String("data-dir", "data", "directory for the replica's bbolt store and blob cache (and, all-in-one, the indexer's and NATS's files)")
	metricsAddress := fs.String("metrics-address", "", "address of /metrics (empty: off)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	logType := fs.String("log-type", "ecs", "ecs (JSON) or dev (text)")
	mockFallback := fs.Bool("mock-fallback", true, "serve built-in mock packages while the index is empty")
	allowUnknown := fs.Bool("allow-unknown-query-parameters", true, "false makes unknown query parameters a 400")
	cacheIndex := fs.Duration("cache-time-index", defaults.CacheTimeIndex, "Cache-Control max-age of / and /package/<n>/<v>/")
	cacheSearch := fs.Duration("cache-time-search", defaults.CacheTimeSearch, "Cache-Control max-age of /search")
	cacheCategories := fs.Duration("cache-time-categories", defaults.CacheTimeCategories, "Cache-Control max-age of /categories")
	cacheCatchAll := fs.Duration("cache-time-catch-all", defaults.CacheTimeCatchAll, "Cache-Control max-age of zips, signatures and files")
	tlsCert := fs.String("tls-cert", "", "TLS certificate file (with -tls-key: serve HTTPS)")
	tlsKey := fs.String("tls-key", "", "TLS key file")
	tlsMin := fs.String("tls-min-version", "1.2", "minimum TLS version: 1.1, 1.2 or 1.3")
	printVersion := fs.Bool("version", false, "print the version and exit")
	featureIndexer := fs.Bool("feature-oci-indexer", false, "run the whole pipeline in this process: embedded NATS, indexer and webhook routes")
	registry := fs.String("oci-registry", "", "OCI registry address: host[:port], optionally with http:// or https://")
	repository := fs.String("oci-repository", "packages", "base repository of the packages")
	repositories := fs.String("oci-repositories", "", "all-in-one: comma-separated repositories to reconcile on every sync, besides those discovered")
	username := fs.String("oci-username", "", "registry username")
	password := fs.String("oci-password", "", "registry password or token (prefer EPR_OCI_PASSWORD)")
	dockerConfig := fs.String("oci-docker-config", oci.DefaultDockerConfig(), "Docker config.json to take registry credentials from when -oci-username is empty (auths, credHelpers, credsStore); empty: none")
	insecure := fs.Bool("oci-insecure", false, "skip TLS verification and allow plain HTTP")
	maxZip := fs.Int64("max-zip-bytes", 512<<20, "largest package zip read or served")
	replicas := fs.Int("nats-replicas", 1, "replicas of the stream, consumer and bucket (3 on a NATS cluster)")
	resync := fs.Duration("resync-interval", 10*time.Minute, "all-in-one: full resync period (0 disables)")
	var webhookOpts service.WebhookOptions
	webhookOpts.RegisterFlags(fs) // all-in-one: the webhook routes, configured as cmd/webhook's
	embeddedNATS := fs.String("embedded-nats-address", "127.0.0.1:-1", "all-in-one: listen address of the embedded NATS server (port -1: random)")
	if err := flagenv.Parse(fs, args, nil); err != nil {
		return err
	}
	if *printVersion {
		fmt.Println(version)
		return nil
	}
	log, err := flagenv.Logger(*logLevel, *logType)
	if err != nil {
		return err
	}
	for name, d := range map[string]time.Duration{"cache-time-index": *cacheIndex, "cache-time-search": *cacheSearch,
		"cache-time-categories": *cacheCategories, "cache-time-catch-all": *cacheCatchAll} {
		if d < time.Second {
			return fmt.Errorf("failed to set -%s: must be at least 1s", name)
		}
	}
	if err := process.CheckTLSMinVersion(*tlsMin); err != nil {
		return fmt.Errorf("failed to set -tls-min-version: %w", err)
	}
	for _, secret := range []string{"oci-password", "webhook-token"} {
		if flagenv.InArgs(args, secret) {
			log.Warn("secret given as a flag, visible in the process list; prefer " + flagenv.EnvName(secret))
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	cfg := defaults
	cfg.ServiceVersion = version
	cfg.MockFallback = *mockFallback
	cfg.AllowUnknownQueryParameters = *allowUnknown
	cfg.CacheTimeIndex, cfg.CacheTimeSearch = *cacheIndex, *cacheSearch
	cfg.CacheTimeCategories, cfg.CacheTimeCatchAll = *cacheCategories, *cacheCatchAll
	reg := process.NewMetricsRegistry()
	webhookOpts.Metrics = reg
	stream := events.DefaultStreamOptions()
	stream.Replicas = *replicas
	apiOpts := service.APIOptions{
		Config:      cfg,
		DataDir:     *dataDir,
		MaxZipBytes: *maxZip,
		Replicas:    *replicas,
		Log:         log,
		Metrics:     reg,
	}
	if *registry != "" {
		apiOpts.Registry = oci.Config{Registry: *registry, Username: *username, Password: *password, DockerConfig: *dockerConfig, Insecure: *insecure}
	}

	main, err := process.Listen("api", *address, nil)
	if err != nil {
		return err
	}
	if *tlsCert != "" || *tlsKey != "" {
		if err := main.UseTLS(*tlsCert, *tlsKey, *tlsMin); err != nil {
			return err
		}
	}
	main.SetTimeouts(process.APITimeouts())
	metrics, err := process.MetricsListener(*metricsAddress, reg)
	if err != nil {
		return err
	}
	var server *api.Server
	if *featureIndexer {
		if *registry == "" {
			return fmt.Errorf("-feature-oci-indexer needs -oci-registry")
		}
		all, err := service.StartAllInOne(ctx, service.AllInOneOptions{
			API: apiOpts,
			Indexer: service.IndexerOptions{
				Registry: apiOpts.Registry, Repository: *repository, Repositories: flagenv.List(*repositories), ResyncInterval: *resync,
				MaxZipBytes: *maxZip, Stream: stream, Metrics: reg,
			},
			DataDir:             *dataDir,
			NATSURL:             *natsURL,
			EmbeddedNATSAddress: *embeddedNATS,
			Webhook:             webhookOpts,
			Log:                 log,
		})
		if err != nil {
			return err
		}
		defer all.Close()
		server = all.API.Server
	} else {
		if *registry == "" {
			log.Warn("no -oci-registry: package zips, signatures and files cannot be downloaded (mock packages still can)")
		}
		url := *natsURL
		if url == "" {
			url = "nats://localhost:4222"
		}
		nc, err := events.Connect(url, "epr-api", log)
		if err != nil {
			return err
		}
		defer nc.Close()
		a, err := service.StartAPI(ctx, nc, apiOpts)
		if err != nil {
			return err
		}
		defer a.Close()
		server = a.Server
	}
	main.Handle(server)
	log.Info("package registry starting", slog.String("version", version), slog.Bool("all_in_one", *featureIndexer),
		slog.String("registry", *registry), slog.String("repository", *repository))
	return process.Serve(ctx, log, main, metrics)
}
