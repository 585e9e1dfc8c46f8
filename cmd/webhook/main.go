// Command webhook receives registry push notifications (CNCF distribution, Zot) and stores them
// in the NATS JetStream event stream for the indexer. It only reads flags and wires
// internal/webhook together; the behaviour lives there.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/oci-epr/package-registry/internal/flagenv"
	"github.com/oci-epr/package-registry/internal/webhook"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.LookupEnv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "webhook:", err)
		os.Exit(1)
	}
}

type options struct {
	server      webhook.ServerConfig
	logLevel    string
	logType     string
	tokenInArgs bool
}

func parseFlags(args []string, lookup func(string) (string, bool)) (options, error) {
	var o options
	fs := flag.NewFlagSet("webhook", flag.ContinueOnError)
	fs.StringVar(&o.server.Address, "address", "localhost:8081", "address to serve the webhooks and /health on")
	fs.StringVar(&o.server.NATSURL, "nats-url", "nats://localhost:4222", "NATS server URL")
	fs.StringVar(&o.server.Token, "webhook-token", "", "bearer token registries must send; empty disables authentication (prefer the env var "+flagenv.EnvName("webhook-token")+")")
	fs.Int64Var(&o.server.MaxBodyBytes, "max-body-bytes", webhook.DefaultMaxBodyBytes, "largest accepted notification body, in bytes")
	fs.DurationVar(&o.server.PublishTimeout, "publish-timeout", 5*time.Second, "how long to wait for JetStream to acknowledge an event")
	fs.IntVar(&o.server.Stream.Replicas, "nats-replicas", 1, "replicas of the event stream (3 on a NATS cluster); must match the indexer's")
	fs.StringVar(&o.server.MetricsAddress, "metrics-address", "", "address to serve Prometheus /metrics on; empty disables it")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&o.logType, "log-type", "ecs", "log format: ecs (JSON lines) or dev (text)")
	if err := flagenv.Parse(fs, args, lookup); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	o.tokenInArgs = flagenv.InArgs(args, "webhook-token")
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
	switch {
	case o.server.Token == "":
		log.Warn("no webhook token set: anyone who can reach the webhooks can post events")
	case o.tokenInArgs:
		log.Warn("webhook token given as a flag, visible in the process list; prefer " + flagenv.EnvName("webhook-token"))
	}
	o.server.Logger = log
	srv, err := webhook.NewServer(o.server)
	if err != nil {
		return err
	}
	return srv.Run(ctx)
}
