// Command devstack runs everything on one machine with nothing installed but Go: a CNCF
// distribution registry, the all-in-one package registry wired to its notifications, and a set of
// sample packages pushed through it.
package main

import (
	"context"
	"flag"
	"os"
	"os/signal"
	"syscall"

	"github.com/oci-epr/package-registry/internal/devstack"
	"github.com/oci-epr/package-registry/internal/flagenv"
)

func main() {
	flagenv.Exit("devstack", run(os.Args[1:]))
}

func run(args []string) error {
	fs := flag.NewFlagSet("devstack", flag.ContinueOnError)
	address := fs.String("address", "localhost:8080", "listen address of the package registry API")
	registryAddress := fs.String("registry-address", "localhost:5000", "listen address of the OCI registry")
	dataDir := fs.String("data-dir", "data/devstack", "directory for the registry's storage and the pipeline's state")
	repository := fs.String("oci-repository", "packages", "base repository of the packages")
	token := fs.String("webhook-token", "", "bearer token between the registry and the webhook route (empty: a random one, printed at start)")
	samples := fs.Bool("samples", true, "push the generated sample packages at start")
	logLevel := fs.String("log-level", "error", "debug, info, warn or error")
	logType := fs.String("log-type", "dev", "ecs (JSON) or dev (text)")
	noValidation := fs.Bool("disable-package-validation", false, "index packages EPR's content validation refuses (as the indexer's flag)")
	metricsAddress := fs.String("metrics-address", "localhost:8090", "address of the pipeline's Prometheus /metrics (empty: off)")
	signed := fs.Bool("require-package-signatures", false, "serve only signed versions (as the indexer's flag); the samples are signed with a key generated in -data-dir")
	if err := flagenv.Parse(fs, args, nil); err != nil {
		return err
	}
	log, err := flagenv.Logger(*logLevel, *logType)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	stack, err := devstack.Start(ctx, devstack.Options{
		Address: *address, RegistryAddress: *registryAddress, DataDir: *dataDir,
		Repository: *repository, WebhookToken: *token, Log: log, DisablePackageValidation: *noValidation,
		RequirePackageSignatures: *signed, MetricsAddress: *metricsAddress,
	})
	if err != nil {
		return err
	}
	if _, err := stack.WriteExample(); err != nil {
		stop()
		stack.Wait()
		return err
	}
	var pushed []devstack.Sample
	if *samples {
		if pushed, err = stack.PushSamples(ctx); err != nil {
			stop()
			stack.Wait()
			return err
		}
	}
	stack.PrintWelcome(os.Stdout, pushed)
	return stack.Wait()
}
