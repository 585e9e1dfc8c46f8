// Command indexer consumes registry events from NATS JetStream, reconciles the named repositories
// against the OCI registry and publishes the package index to the JetStream key-value bucket
// that API replicas follow. It only reads flags and wires internal/service together.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/oci-epr/package-registry/internal/events"
	"github.com/oci-epr/package-registry/internal/flagenv"
	"github.com/oci-epr/package-registry/internal/process"
	"github.com/oci-epr/package-registry/internal/service"
	"github.com/oci-epr/package-registry/internal/status"
)

func main() { flagenv.Main("indexer", run) }

type options struct {
	// address serves /health.
	address        string
	metricsAddress string
	natsURL        string
	indexer        service.IndexerOptions
	logLevel       string
	logType        string
	passwordInArgs bool
}

func parseFlags(args []string, lookup func(string) (string, bool)) (options, error) {
	var o options
	fs := flag.NewFlagSet("indexer", flag.ContinueOnError)
	fs.StringVar(&o.address, "address", "localhost:8082", "address of /health")
	fs.StringVar(&o.natsURL, "nats-url", "nats://localhost:4222", "NATS server URL")
	o.indexer.RegisterFlags(fs)
	fs.StringVar(&o.indexer.DataDir, "data-dir", "data/indexer", "directory for the indexer's bbolt state and blob cache")
	fs.StringVar(&o.metricsAddress, "metrics-address", "", "address of /metrics (empty: off)")
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&o.logType, "log-type", "ecs", "ecs (JSON) or dev (text)")
	if err := flagenv.Parse(fs, args, lookup); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	switch {
	case o.indexer.Registry.Registry == "" && o.indexer.Layout == "":
		return options{}, errors.New("-oci-registry is required (or -oci-layout)")
	case o.indexer.Registry.Registry != "" && o.indexer.Layout != "":
		return options{}, errors.New("-oci-registry and -oci-layout exclude each other")
	}
	o.passwordInArgs = flagenv.InArgs(args, "oci-password")
	return o, nil
}

func run(ctx context.Context, args []string, lookup func(string) (string, bool)) error {
	o, err := parseFlags(args, lookup)
	if err != nil {
		return err
	}
	log, err := flagenv.Logger(o.logLevel, o.logType)
	if err != nil {
		return err
	}
	if o.passwordInArgs {
		log.Warn("password given as a flag, visible in the process list; prefer " + flagenv.EnvName("oci-password"))
	}

	nc, err := events.Connect(o.natsURL, "epr-indexer", log)
	if err != nil {
		return err
	}
	defer nc.Close()
	reg := process.NewMetricsRegistry()
	o.indexer.Log = log
	o.indexer.Metrics = reg
	ix, err := service.StartIndexer(ctx, nc, o.indexer)
	if err != nil {
		return err
	}
	defer ix.Close()
	health, err := process.Listen("health", o.address, process.HealthHandler(func() bool { return nc.IsConnected() && ix.Ready() }))
	if err != nil {
		return err
	}
	metrics, err := process.MetricsListener(o.metricsAddress, reg)
	if err != nil {
		return err
	}
	// The indexer's /status is on its metrics listener only: its -address is for probes.
	statusOf := ix.StatusReader()
	if err := service.ServeStatus(statusOf, status.Exposure{}, metrics, nil, log); err != nil {
		return err
	}
	return process.Serve(ctx, log, health, metrics)
}
