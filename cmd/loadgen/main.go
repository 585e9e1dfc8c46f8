// Command loadgen fills an OCI registry with N synthetic package versions of realistic size and
// shape (internal/loadgen), pushed in parallel, to measure the pipeline and the API at the size of
// Elastic's public registry. It only reads flags and calls loadgen.Push.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/oci-epr/package-registry/internal/flagenv"
	"github.com/oci-epr/package-registry/internal/loadgen"
	"github.com/oci-epr/package-registry/internal/oci"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	flagenv.Exit("loadgen", run(ctx, os.Args[1:], os.LookupEnv))
}

type options struct {
	registry    oci.Config
	repository  string
	versions    int
	parallelism int
	gen         loadgen.Options
	logLevel    string
	logType     string
}

func parseFlags(args []string, lookup func(string) (string, bool)) (options, error) {
	o := options{gen: loadgen.Defaults()}
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	o.registry.RegisterFlags(fs)
	fs.StringVar(&o.repository, "oci-repository", "packages", "base repository: versions go to <base>/<name>:<version>")
	fs.IntVar(&o.versions, "versions", 1000, "number of package versions to push (4 per name)")
	fs.IntVar(&o.parallelism, "parallelism", 8, "concurrent pushes")
	fs.Uint64Var(&o.gen.Seed, "seed", o.gen.Seed, "generator seed; equal seeds push equal digests")
	fs.Float64Var(&o.gen.SizeScale, "size-scale", o.gen.SizeScale, "multiplier of the dashboard bytes (1: zips of a few hundred KB, a few MB for the large ones)")
	fs.IntVar(&o.gen.LargeEvery, "large-every", o.gen.LargeEvery, "every n-th version is very large; 0: none")
	fs.IntVar(&o.gen.Offset, "offset", 0, "index of the first version, to add versions after an earlier run")
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&o.logType, "log-type", "dev", "ecs (JSON) or dev (text)")
	if err := flagenv.Parse(fs, args, lookup); err != nil {
		return o, err
	}
	switch {
	case o.registry.Registry == "":
		return o, errors.New("-oci-registry is required")
	case o.versions < 1:
		return o, fmt.Errorf("-versions must be at least 1, not %d", o.versions)
	case o.parallelism < 1:
		return o, fmt.Errorf("-parallelism must be at least 1, not %d", o.parallelism)
	case o.gen.SizeScale < 0:
		return o, fmt.Errorf("-size-scale must not be negative, not %g", o.gen.SizeScale)
	case o.gen.LargeEvery < 0 || o.gen.Offset < 0:
		return o, errors.New("-large-every and -offset must not be negative")
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
	client, err := oci.New(o.registry)
	if err != nil {
		return err
	}
	start := time.Now()
	step := max(o.versions/10, 1)
	pushed, err := loadgen.Push(ctx, client, o.repository, o.versions, o.parallelism, o.gen, func(done int) {
		if done%step == 0 {
			log.Info("pushing", "done", done, "of", o.versions, "elapsed", time.Since(start).Round(time.Millisecond))
		}
	})
	if err != nil {
		return err
	}
	var bytes int64
	for _, p := range pushed {
		bytes += int64(p.ZipBytes)
	}
	took := time.Since(start)
	log.Info("pushed", slog.Int("versions", len(pushed)), slog.Int64("zip_bytes", bytes),
		slog.Duration("took", took.Round(time.Millisecond)),
		slog.Float64("versions_per_second", float64(len(pushed))/took.Seconds()))
	return nil
}
