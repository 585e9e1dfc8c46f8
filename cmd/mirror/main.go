// Command mirror copies packages from an EPR-compatible registry (epr.elastic.co or one of ours)
// into an OCI registry in the layout the indexer serves. It only reads flags and wires
// internal/mirror, where the behaviour lives.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/oci-epr/package-registry/internal/flagenv"
	"github.com/oci-epr/package-registry/internal/mirror"
	"github.com/oci-epr/package-registry/internal/oci"
	"github.com/oci-epr/package-registry/internal/status"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	flagenv.Exit("mirror", run(ctx, os.Args[1:], os.LookupEnv, os.Stderr))
}

type options struct {
	from          string
	fromDir       string
	fromLayout    string
	to            oci.Config
	repository    string
	toLayout      string
	packages      string
	kibanaVersion string
	specMin       string
	specMax       string
	prerelease    bool
	allVersions   bool
	capabilities  string
	parallelism   int
	verifyKey     string
	allowUnsigned bool
	dryRun        bool
	maxZipBytes   int64
	wait          bool
	waitTimeout   time.Duration
	statusAddress string
	statusToken   string
	logLevel      string
	logType       string
}

func parseFlags(args []string, lookup func(string) (string, bool)) (options, error) {
	var o options
	fs := flag.NewFlagSet("mirror", flag.ContinueOnError)
	fs.StringVar(&o.from, "from", "https://epr.elastic.co", "EPR-compatible registry to copy from; user:password@ in it is sent as basic auth to that host only, and never logged (prefer EPR_FROM then)")
	fs.StringVar(&o.fromDir, "from-dir", "", "copy the package zips (and <zip>.sig) of this directory instead, each validated first; only -packages applies")
	fs.StringVar(&o.fromLayout, "from-oci-layout", "", "copy the packages of this OCI image layout directory (as -to-oci-layout writes it) instead; only -packages applies")
	// The destination's connection flags are oci.Config's, prefixed "to-" so that a source
	// registry can get flags of its own later without a clash.
	fs.StringVar(&o.to.Registry, "to-registry", "", "destination OCI registry: host[:port], optionally with http:// or https://")
	fs.StringVar(&o.to.Username, "to-username", "", "destination registry username")
	fs.StringVar(&o.to.Password, "to-password", "", "destination registry password or token (prefer EPR_TO_PASSWORD)")
	fs.StringVar(&o.to.DockerConfig, "to-docker-config", oci.DefaultDockerConfig(), "Docker config.json to take destination credentials from when -to-username is empty; empty: none")
	fs.BoolVar(&o.to.Insecure, "to-insecure", false, "skip TLS verification and allow plain HTTP to the destination")
	fs.StringVar(&o.repository, "to-repository", "packages", "destination base repository; versions go to <base>/<name>:<version>")
	fs.StringVar(&o.toLayout, "to-oci-layout", "", "write into this OCI image layout directory instead of a registry (tags <name>-<version>)")
	fs.StringVar(&o.packages, "packages", "", "comma-separated package names to copy; empty: all")
	fs.StringVar(&o.kibanaVersion, "kibana-version", "", "only versions compatible with this Kibana version")
	fs.StringVar(&o.specMin, "spec-min", "", "only versions whose format version is at least this")
	fs.StringVar(&o.specMax, "spec-max", "", "only versions whose format version is at most this")
	fs.BoolVar(&o.prerelease, "prerelease", false, "include prerelease versions")
	fs.BoolVar(&o.allVersions, "all-versions", false, "copy every version, not only the latest")
	fs.StringVar(&o.capabilities, "capabilities", "", "comma-separated capabilities the packages may require")
	fs.IntVar(&o.parallelism, "parallelism", 4, "versions copied at once")
	fs.StringVar(&o.verifyKey, "verify-key", "", "OpenPGP public key file; zips whose signature does not verify are not copied")
	fs.BoolVar(&o.allowUnsigned, "allow-unsigned", false, "with -verify-key, copy versions that have no signature instead of skipping them")
	fs.BoolVar(&o.dryRun, "dry-run", false, "list what would be copied, download and push nothing")
	fs.Int64Var(&o.maxZipBytes, "max-zip-bytes", 512<<20, "largest zip downloaded")
	fs.BoolVar(&o.wait, "wait", false, "after copying into -to-registry, wait until every version copied or present is served (asking -status-address); a version refused (with its rule and message) or not served within -wait-timeout fails the run")
	fs.DurationVar(&o.waitTimeout, "wait-timeout", 5*time.Minute, "with -wait, how long to wait for every version to be served")
	fs.StringVar(&o.statusAddress, "status-address", status.DefaultAddress, "with -wait, the base URL of the status routes (the metrics listener of the API or indexer, or the public address with -status-token)")
	fs.StringVar(&o.statusToken, "status-token", "", "with -wait, the bearer token of the status routes (prefer EPR_STATUS_TOKEN)")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&o.logType, "log-type", "dev", "log format: ecs (JSON lines) or dev (text)")
	if err := flagenv.Parse(fs, args, lookup); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if (o.to.Registry == "") == (o.toLayout == "") {
		return options{}, errors.New("give one of -to-registry and -to-oci-layout")
	}
	if o.fromDir != "" && o.fromLayout != "" {
		return options{}, errors.New("give at most one of -from-dir and -from-oci-layout")
	}
	if o.parallelism < 1 {
		return options{}, errors.New("-parallelism must be at least 1")
	}
	if o.wait && (o.toLayout != "" || o.dryRun) {
		return options{}, errors.New("-wait needs versions pushed to -to-registry: not with -to-oci-layout or -dry-run")
	}
	if o.wait && o.waitTimeout <= 0 {
		return options{}, errors.New("-wait-timeout must be positive")
	}
	return o, nil
}

func run(ctx context.Context, args []string, lookup func(string) (string, bool), stderr *os.File) error {
	o, err := parseFlags(args, lookup)
	if err != nil {
		return err
	}
	log, err := flagenv.Logger(o.logLevel, o.logType)
	if err != nil {
		return err
	}
	if u, err := url.Parse(o.from); err == nil && u.User != nil && flagenv.InArgs(args, "from") {
		log.Warn("-from carries credentials on the command line, visible in the process list; prefer " + flagenv.EnvName("from"))
	}
	if flagenv.InArgs(args, "status-token") {
		log.Warn("-status-token is on the command line, visible in the process list; prefer " + flagenv.EnvName("status-token"))
	}
	var dest mirror.Destination
	if o.toLayout != "" {
		dest, err = mirror.Layout(o.toLayout)
	} else {
		var c *oci.Client
		if c, err = oci.New(o.to); err == nil {
			dest = mirror.Registry(c, o.repository)
		}
	}
	if err != nil {
		return err
	}
	mo := mirror.Options{
		From: o.from, To: dest,
		Selection: mirror.Selection{
			Packages: flagenv.List(o.packages), KibanaVersion: o.kibanaVersion, SpecMin: o.specMin, SpecMax: o.specMax,
			Prerelease: o.prerelease, AllVersions: o.allVersions, Capabilities: flagenv.List(o.capabilities),
		},
		Parallelism: o.parallelism, AllowUnsigned: o.allowUnsigned, DryRun: o.dryRun, MaxZipBytes: o.maxZipBytes, Log: log,
	}
	if o.verifyKey != "" {
		raw, err := os.ReadFile(o.verifyKey)
		if err != nil {
			return err
		}
		if mo.Keyring, err = mirror.ReadKeyring(raw); err != nil {
			return err
		}
	}
	if term.IsTerminal(int(stderr.Fd())) {
		mo.Progress = mirror.NewBar(stderr)
	} else {
		mo.Progress = mirror.Lines{Log: log}
	}
	var s mirror.Summary
	switch {
	case o.fromDir != "":
		s, err = mirror.RunDir(ctx, o.fromDir, mo)
	case o.fromLayout != "":
		s, err = mirror.RunLayout(ctx, o.fromLayout, mo)
	default:
		s, err = mirror.Run(ctx, mo)
	}
	if err == nil && o.wait {
		wctx, cancel := context.WithTimeout(ctx, o.waitTimeout)
		mirror.WaitServed(wctx, &s, status.Waiter{Asker: &status.Client{BaseURL: o.statusAddress, Token: o.statusToken}, Log: log})
		cancel()
	}
	mirror.WriteSummary(stderr, s)
	if err != nil {
		return err
	}
	return s.Err()
}
