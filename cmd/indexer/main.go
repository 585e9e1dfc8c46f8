// Command indexer consumes registry events from NATS JetStream, reconciles the named repositories
// against the OCI registry and publishes the package index to the JetStream key-value bucket
// that API replicas follow.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/oci-epr/package-registry/internal/events"
	"github.com/oci-epr/package-registry/internal/flagenv"
	"github.com/oci-epr/package-registry/internal/oci"
	"github.com/oci-epr/package-registry/internal/process"
	"github.com/oci-epr/package-registry/internal/service"
)

func main() {
	flagenv.Exit("indexer", run(os.Args[1:]))
}

func run(args []string) error {
	fs := flag.NewFlagSet("indexer", flag.ContinueOnError)
	address := fs.String("address", "localhost:8082", "address of /health")
	natsURL := fs.String("nats-url", "nats://localhost:4222", "NATS server URL")
	registry := fs.String("oci-registry", "", "OCI registry address: host[:port], optionally with http:// or https://")
	repository := fs.String("oci-repository", "packages", "base repository of the packages")
	repositories := fs.String("oci-repositories", "", "comma-separated repositories to reconcile on every sync, besides those discovered")
	username := fs.String("oci-username", "", "registry username")
	password := fs.String("oci-password", "", "registry password or token (prefer EPR_OCI_PASSWORD)")
	dockerConfig := fs.String("oci-docker-config", oci.DefaultDockerConfig(), "Docker config.json to take registry credentials from when -oci-username is empty (auths, credHelpers, credsStore); empty: none")
	insecure := fs.Bool("oci-insecure", false, "skip TLS verification and allow plain HTTP")
	dataDir := fs.String("data-dir", "data/indexer", "directory for the indexer's bbolt state and blob cache")
	resync := fs.Duration("resync-interval", 10*time.Minute, "full resync period (0 disables)")
	parallelism := fs.Int("parallelism", 4, "repositories reconciled at once")
	maxZip := fs.Int64("max-zip-bytes", 512<<20, "largest package zip read")
	replicas := fs.Int("nats-replicas", 1, "replicas of the stream, consumer and bucket (3 on a NATS cluster)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	logType := fs.String("log-type", "ecs", "ecs (JSON) or dev (text)")
	metricsAddress := fs.String("metrics-address", "", "address of /metrics (empty: off)")
	if err := flagenv.Parse(fs, args, nil); err != nil {
		return err
	}
	log, err := flagenv.Logger(*logLevel, *logType)
	if err != nil {
		return err
	}
	if *registry == "" {
		return fmt.Errorf("-oci-registry is required")
	}
	if flagenv.InArgs(args, "oci-password") {
		log.Warn("password given as a flag; prefer " + flagenv.EnvName("oci-password"))
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	nc, err := events.Connect(*natsURL, "epr-indexer", log)
	if err != nil {
		return err
	}
	defer nc.Close()
	reg := process.NewMetricsRegistry()
	stream := events.DefaultStreamOptions()
	stream.Replicas = *replicas
	ix, err := service.StartIndexer(ctx, nc, service.IndexerOptions{
		Registry:       oci.Config{Registry: *registry, Username: *username, Password: *password, DockerConfig: *dockerConfig, Insecure: *insecure},
		Repository:     *repository,
		Repositories:   flagenv.List(*repositories),
		DataDir:        *dataDir,
		ResyncInterval: *resync,
		Parallelism:    *parallelism,
		MaxZipBytes:    *maxZip,
		Stream:         stream,
		Log:            log,
		Metrics:        reg,
	})
	if err != nil {
		return err
	}
	defer ix.Close()
	health, err := process.Listen("health", *address, process.HealthHandler(func() bool { return nc.IsConnected() && ix.Ready() }))
	if err != nil {
		return err
	}
	metrics, err := process.MetricsListener(*metricsAddress, reg)
	if err != nil {
		return err
	}
	return process.Serve(ctx, log, health, metrics)
}
