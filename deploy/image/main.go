// Command image builds the package-registry image without a Docker daemon and pushes it to a
// registry or writes it as an OCI image layout. What goes in is deploy/image/binaries.txt, the
// list the Dockerfile builds too; see docs/kubernetes.md.
//
//	cd deploy/image && go run . -version v1.2.3 -push registry.example.com/oci-epr/package-registry:v1.2.3
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/oci-epr/package-registry/deploy/image/imagebuild"
	"github.com/oci-epr/package-registry/internal/flagenv"
)

func main() { flagenv.Main("image", run) }

type options struct {
	build     imagebuild.Options
	platforms string
	push      string
	layout    string
	plainHTTP bool
	epoch     int64
}

func parseFlags(args []string, lookup func(string) (string, bool)) (options, error) {
	var o options
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	fs.StringVar(&o.build.ModuleRoot, "module-root", "../..", "the main module's directory")
	fs.StringVar(&o.build.Version, "version", "", "version stamped into the binaries and the labels (required)")
	fs.StringVar(&o.build.Revision, "revision", "", "source revision for the org.opencontainers.image.revision label")
	fs.StringVar(&o.build.Source, "source", "", "source repository URL for the org.opencontainers.image.source label")
	fs.StringVar(&o.platforms, "platforms", "linux/amd64,linux/arm64", "comma-separated platforms")
	fs.StringVar(&o.build.CACerts, "ca-certs", imagebuild.CACertsPath, "CA bundle to put into the image")
	fs.Int64Var(&o.epoch, "source-date-epoch", 0, "creation time and file times, in Unix seconds (0: the epoch, for reproducible digests)")
	fs.StringVar(&o.push, "push", "", "push to this reference (registry/repository:tag), with the Docker config's credentials")
	fs.StringVar(&o.layout, "oci-layout", "", "write an OCI image layout to this directory")
	fs.BoolVar(&o.plainHTTP, "plain-http", false, "push over plain HTTP (a registry without TLS)")
	if err := flagenv.Parse(fs, args, lookup); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if o.push == "" && o.layout == "" {
		return options{}, errors.New("nothing to do: give -push and/or -oci-layout")
	}
	if o.build.Version == "" {
		return options{}, errors.New("-version is required")
	}
	var err error
	if o.build.Platforms, err = imagebuild.ParsePlatforms(o.platforms); err != nil {
		return options{}, err
	}
	if o.epoch != 0 {
		o.build.Created = time.Unix(o.epoch, 0)
	}
	return o, nil
}

func run(ctx context.Context, args []string, lookup func(string) (string, bool)) error {
	o, err := parseFlags(args, lookup)
	if err != nil {
		return err
	}
	if o.build.ModuleRoot, err = filepath.Abs(o.build.ModuleRoot); err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "package-registry-image-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	o.build.WorkDir, o.build.Log = work, os.Stderr
	idx, err := imagebuild.Build(ctx, o.build)
	if err != nil {
		return err
	}
	digest, err := idx.Digest()
	if err != nil {
		return err
	}
	if o.layout != "" {
		if err := imagebuild.WriteLayout(o.layout, idx); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "wrote %s (index %s)\n", o.layout, digest)
	}
	if o.push != "" {
		ref, err := imagebuild.Push(ctx, idx, o.push, o.plainHTTP)
		if err != nil {
			return err
		}
		fmt.Println(ref.Context().Digest(digest.String()).String())
	}
	return nil
}
