// Command webhook receives registry push notifications (CNCF distribution, Zot) and stores them
// in the NATS JetStream event stream for the indexer. It only reads flags and wires
// internal/service together; the behaviour lives there and in internal/webhook.
package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/oci-epr/package-registry/internal/events"
	"github.com/oci-epr/package-registry/internal/flagenv"
	"github.com/oci-epr/package-registry/internal/process"
	"github.com/oci-epr/package-registry/internal/service"
)

func main() { flagenv.Main("webhook", run) }

type options struct {
	// address serves the webhooks and /health.
	address string
	// metricsAddress, when set, serves /metrics on a listener of its own, so that the metrics
	// are not exposed wherever the registries can reach the webhooks.
	metricsAddress string
	natsURL        string
	webhook        service.WebhookOptions
	logLevel       string
	logType        string
	tokenInArgs    bool
	// githubSecretInArgs: -webhook-github-secret was on the command line, to warn about.
	githubSecretInArgs bool
}

func parseFlags(args []string, lookup func(string) (string, bool)) (options, error) {
	var o options
	fs := flag.NewFlagSet("webhook", flag.ContinueOnError)
	fs.StringVar(&o.address, "address", "localhost:8081", "address to serve the webhooks and /health on")
	fs.StringVar(&o.natsURL, "nats-url", "nats://localhost:4222", "NATS server URL")
	o.webhook.RegisterFlags(fs)
	fs.IntVar(&o.webhook.Stream.Replicas, "nats-replicas", 1, "replicas of the event stream when this process creates it (3 on a NATS cluster); an existing stream keeps its own, and a difference is logged")
	fs.StringVar(&o.metricsAddress, "metrics-address", "", "address to serve Prometheus /metrics on; empty disables it")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&o.logType, "log-type", "ecs", "log format: ecs (JSON lines) or dev (text)")
	if err := flagenv.Parse(fs, args, lookup); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	o.tokenInArgs = flagenv.InArgs(args, "webhook-token")
	o.githubSecretInArgs = flagenv.InArgs(args, "webhook-github-secret")
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
	if o.tokenInArgs {
		log.Warn("webhook token given as a flag, visible in the process list; prefer " + flagenv.EnvName("webhook-token"))
	}
	if o.githubSecretInArgs {
		log.Warn("GitHub webhook secret given as a flag, visible in the process list; prefer " + flagenv.EnvName("webhook-github-secret"))
	}

	nc, err := events.Connect(o.natsURL, "epr-webhook", log)
	if err != nil {
		return err
	}
	// Deferred first, so it runs last: requests in flight finish their publish before it closes.
	defer nc.Close()
	reg := process.NewMetricsRegistry()
	o.webhook.Log = log
	o.webhook.Metrics = reg
	w, err := service.StartWebhook(ctx, nc, o.webhook)
	if err != nil {
		return err
	}
	defer w.Close()
	hooks, err := process.Listen("webhook", o.address, w.Handler())
	if err != nil {
		return err
	}
	metrics, err := process.MetricsListener(o.metricsAddress, reg)
	if err != nil {
		return err
	}
	return process.Serve(ctx, log, hooks, metrics)
}
