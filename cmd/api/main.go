// Command api serves the Elastic Package Registry API from the replicated package index. With
// -feature-oci-indexer it runs the whole pipeline in one process: an embedded NATS server (unless
// -nats-url is given), the indexer, and the webhook routes on the API's own address. It only
// reads flags and wires internal/service together.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"

	"github.com/oci-epr/package-registry/internal/api"
	"github.com/oci-epr/package-registry/internal/events"
	"github.com/oci-epr/package-registry/internal/flagenv"
	"github.com/oci-epr/package-registry/internal/process"
	"github.com/oci-epr/package-registry/internal/service"
	"github.com/oci-epr/package-registry/internal/status"
	"github.com/oci-epr/package-registry/internal/version"
)

func main() { flagenv.Main("package-registry", run) }

type options struct {
	address        string
	metricsAddress string
	profileAddress string
	// natsURL is empty in all-in-one mode unless an external server is wanted.
	natsURL       string
	dataDir       string
	tlsCert       string
	tlsKey        string
	tlsMinVersion uint16
	logLevel      string
	logType       string
	// allInOne runs the indexer and the webhook routes in this process too.
	allInOne     bool
	embeddedNATS string
	api          service.APIOptions
	// indexer and webhook are used in all-in-one mode only; indexer's registry connection, zip
	// limit and replicas are the API's too.
	indexer service.IndexerOptions
	webhook service.WebhookOptions
	// secretsInArgs are the secret flags given on the command line, to warn about.
	secretsInArgs []string
	// status says whether /status is served on the public address too (with its token).
	status status.Exposure
	// memoryLimit is -memory-limit in bytes: 0 the default (GOMEMLIMIT, else from the container), -1 off.
	memoryLimit int64
}

func parseFlags(args []string, lookup func(string) (string, bool)) (options, error) {
	var o options
	var tlsMin string
	fs := flag.NewFlagSet("package-registry", flag.ContinueOnError)
	fs.StringVar(&o.address, "address", "localhost:8080", "listen address")
	fs.StringVar(&o.natsURL, "nats-url", "", "NATS server URL (default nats://localhost:4222; with -feature-oci-indexer, empty starts an embedded server)")
	fs.StringVar(&o.dataDir, "data-dir", "data", "directory for the replica's bbolt store and blob cache (and, all-in-one, the indexer's and NATS's files)")
	fs.StringVar(&o.metricsAddress, "metrics-address", "", "address of /metrics (empty: off)")
	fs.StringVar(&o.profileAddress, "httpprof", "", "address of the Go runtime's profiles, /debug/pprof/ (empty: off)")
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&o.logType, "log-type", "ecs", "ecs (JSON) or dev (text)")
	o.api.Config = api.DefaultConfig()
	o.api.Config.RegisterFlags(fs)
	o.api.Proxy.RegisterFlags(fs)
	fs.StringVar(&o.tlsCert, "tls-cert", "", "TLS certificate file (with -tls-key: serve HTTPS)")
	fs.StringVar(&o.tlsKey, "tls-key", "", "TLS key file")
	fs.StringVar(&tlsMin, "tls-min-version", "1.2", "minimum TLS version: 1.1, 1.2 or 1.3")
	fs.BoolVar(&o.allInOne, "feature-oci-indexer", false, "run the whole pipeline in this process: embedded NATS, indexer and webhook routes")
	// The standalone API needs only the registry connection, the zip limit and the replicas of
	// the indexer role's flags; the rest are all-in-one's.
	o.indexer.RegisterFlags(fs)
	o.webhook.RegisterFlags(fs)
	fs.Func("memory-limit", "soft memory limit of the Go runtime, e.g. 400MiB; default GOMEMLIMIT, else 90% of the container's memory limit; off for none",
		func(v string) (err error) { o.memoryLimit, err = process.ParseBytes(v); return err })
	o.status.RegisterFlags(fs)
	fs.StringVar(&o.embeddedNATS, "embedded-nats-address", "127.0.0.1:-1", "all-in-one: listen address of the embedded NATS server (port -1: random)")
	if err := flagenv.Parse(fs, args, lookup); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	var err error
	if o.tlsMinVersion, err = process.TLSVersion(tlsMin); err != nil {
		return options{}, fmt.Errorf("failed to set -tls-min-version: %w", err)
	}
	if err := o.api.Config.Validate(); err != nil {
		return options{}, err
	}
	if err := o.status.Validate(); err != nil {
		return options{}, err
	}
	if o.api.Proxy.Enabled {
		if err := o.api.Proxy.Validate(); err != nil {
			return options{}, err
		}
	}
	switch {
	case o.allInOne && o.indexer.Registry.Registry == "" && o.indexer.Layout == "":
		return options{}, errors.New("-feature-oci-indexer needs -oci-registry (or -oci-layout)")
	case o.indexer.Registry.Registry != "" && o.indexer.Layout != "":
		return options{}, errors.New("-oci-registry and -oci-layout exclude each other")
	case !o.allInOne && o.indexer.Layout != "":
		return options{}, errors.New("-oci-layout needs -feature-oci-indexer (a standalone replica downloads from a registry)")
	}
	if !o.allInOne { // a replica: its heap is its catalogue (the all-in-one's indexer churns more)
		o.api.GCPercent, _ = process.GCPercent(func(k string) string { v, _ := lookup(k); return v })
	}
	o.api.Config.ServiceVersion = version.String()
	o.api.DataDir = o.dataDir
	o.api.Registry = o.indexer.Registry
	o.api.MaxZipBytes = o.indexer.MaxZipBytes
	o.api.Replicas = o.indexer.Stream.Replicas
	for _, secret := range []string{"oci-password", "webhook-token", "webhook-github-secret", "status-token"} {
		if flagenv.InArgs(args, secret) {
			o.secretsInArgs = append(o.secretsInArgs, secret)
		}
	}
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
	for _, secret := range o.secretsInArgs {
		log.Warn("secret given as a flag, visible in the process list; prefer " + flagenv.EnvName(secret))
	}

	if limit, from := process.ApplyMemoryLimit(o.memoryLimit); limit > 0 {
		log.Info("soft memory limit", slog.Int64("bytes", limit), slog.String("from", from))
	}
	reg := process.NewMetricsRegistry()
	o.api.Log, o.api.Metrics = log, reg
	o.indexer.Metrics, o.webhook.Metrics = reg, reg
	main, err := process.Listen("api", o.address, nil)
	if err != nil {
		return err
	}
	if o.tlsCert != "" || o.tlsKey != "" {
		if err := main.UseTLS(o.tlsCert, o.tlsKey, o.tlsMinVersion); err != nil {
			return err
		}
	}
	main.SetTimeouts(process.APITimeouts())
	metrics, err := process.MetricsListener(o.metricsAddress, reg)
	if err != nil {
		return err
	}
	profile, err := process.ProfileListener(o.profileAddress)
	if err != nil {
		return err
	}
	var server *api.Server
	// statusOf answers /status from the status the indexer publishes.
	var statusOf status.Queries
	if o.allInOne {
		all, err := service.StartAllInOne(ctx, service.AllInOneOptions{
			API:                 o.api,
			Indexer:             o.indexer,
			DataDir:             o.dataDir,
			NATSURL:             o.natsURL,
			EmbeddedNATSAddress: o.embeddedNATS,
			Webhook:             o.webhook,
			Log:                 log,
		})
		if err != nil {
			return err
		}
		defer all.Close()
		server = all.API.Server
		statusOf = all.StatusReader()
	} else {
		if o.api.Registry.Registry == "" {
			log.Warn("no -oci-registry: package zips, signatures and files cannot be downloaded (mock packages still can)")
		}
		url := o.natsURL
		if url == "" {
			url = "nats://localhost:4222"
		}
		nc, err := events.Connect(url, "epr-api", log)
		if err != nil {
			return err
		}
		defer nc.Close()
		a, err := service.StartAPI(ctx, nc, o.api)
		if err != nil {
			return err
		}
		defer a.Close()
		server = a.Server
		statusOf = a.StatusReader()
	}
	if err := service.ServeStatus(statusOf, o.status, metrics, server, log); err != nil {
		return err
	}
	main.Handle(server)
	log.Info("package registry starting", slog.String("version", version.String()), slog.Bool("all_in_one", o.allInOne),
		slog.String("registry", o.api.Registry.Registry), slog.String("repository", o.indexer.Repository))
	return process.Serve(ctx, log, main, metrics, profile)
}
