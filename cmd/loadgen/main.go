// Command loadgen fills a registry with a synthetic catalog of realistic package versions
// (internal/loadgen), for measuring a running stack at scale. It only reads flags and wires
// internal/loadgen and internal/oci together.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/oci-epr/package-registry/internal/flagenv"
	"github.com/oci-epr/package-registry/internal/loadgen"
	"github.com/oci-epr/package-registry/internal/oci"
)

func main() { flagenv.Main("loadgen", run) }

type options struct {
	registry    oci.Config
	repository  string
	catalog     loadgen.Options
	from        int
	parallelism int
	logLevel    string
}

func parseFlags(args []string, lookup func(string) (string, bool)) (options, error) {
	var o options
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	o.registry.RegisterFlags(fs)
	fs.StringVar(&o.repository, "oci-repository", "packages", "base repository to push under (<base>/<name>:<version>)")
	fs.IntVar(&o.catalog.Versions, "versions", 1000, "versions to push")
	fs.IntVar(&o.from, "from", 0, "index of the first version (to add to a catalog pushed before)")
	fs.IntVar(&o.catalog.VersionsPerName, "versions-per-name", 10, "versions of each package name")
	fs.IntVar(&o.catalog.DashboardBytes, "dashboard-bytes", 512<<10, "uncompressed dashboard bytes of a typical package")
	fs.IntVar(&o.catalog.LargeEvery, "large-every", 100, "every n-th version is 16 times larger (negative: none)")
	fs.Uint64Var(&o.catalog.Seed, "seed", 0, "varies the catalog; equal flags push equal bytes")
	fs.IntVar(&o.parallelism, "parallelism", 8, "pushes at once")
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	if err := flagenv.Parse(fs, args, lookup); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if o.registry.Registry == "" {
		return options{}, errors.New("-oci-registry is required")
	}
	if o.catalog.Versions <= 0 || o.from < 0 {
		return options{}, errors.New("-versions must be positive and -from not negative")
	}
	return o, nil
}

func run(ctx context.Context, args []string, lookup func(string) (string, bool)) error {
	o, err := parseFlags(args, lookup)
	if err != nil {
		return err
	}
	log, err := flagenv.Logger(o.logLevel, "dev")
	if err != nil {
		return err
	}
	client, err := oci.New(o.registry)
	if err != nil {
		return err
	}
	last := time.Now()
	st, err := loadgen.Push(ctx, client, o.repository, o.catalog, o.from, o.from+o.catalog.Versions, o.parallelism, func(st loadgen.Stats) {
		if time.Since(last) >= 2*time.Second {
			last = time.Now()
			log.Info("pushing", "done", st.Pushed, "of", o.catalog.Versions, "MB", st.Bytes>>20)
		}
	})
	secs := st.Duration.Seconds()
	log.Info("pushed", "versions", st.Pushed, "MB", st.Bytes>>20, "seconds", fmt.Sprintf("%.1f", secs),
		"versions_per_second", fmt.Sprintf("%.0f", float64(st.Pushed)/secs), "MB_per_second", fmt.Sprintf("%.1f", float64(st.Bytes)/secs/(1<<20)))
	return err
}
