// Package devstack owns the one-command development stack: a real CNCF distribution registry in
// this process whose notifications point at an all-in-one pipeline, plus sample packages pushed
// through the registry, so that everything a user sees arrived the way production data does —
// by push and webhook, not by a shortcut.
package devstack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/oci-epr/package-registry/internal/api"
	"github.com/oci-epr/package-registry/internal/devregistry"
	"github.com/oci-epr/package-registry/internal/index"
	"github.com/oci-epr/package-registry/internal/oci"
	"github.com/oci-epr/package-registry/internal/packages/packagetest"
	"github.com/oci-epr/package-registry/internal/process"
	"github.com/oci-epr/package-registry/internal/ref"
	"github.com/oci-epr/package-registry/internal/service"
	"github.com/oci-epr/package-registry/internal/status"
)

// Options configures the stack.
type Options struct {
	// Address of the package registry API (and its webhook routes).
	Address string
	// RegistryAddress of the OCI registry.
	RegistryAddress string
	// DataDir holds the registry's storage and the pipeline's state; reused across runs.
	DataDir string
	// Repository is the base repository packages are pushed under.
	Repository string
	// WebhookToken is what the registry sends to the webhook route; empty generates one, which
	// PrintWelcome shows.
	WebhookToken string
	// Samples pushes the generated sample packages at start.
	Samples bool
	// DisablePackageValidation is the indexer's -disable-package-validation.
	DisablePackageValidation bool
	// RequirePackageSignatures is the indexer's -require-package-signatures; the samples are
	// then signed with a key generated in DataDir.
	RequirePackageSignatures bool
	// MetricsAddress serves the pipeline's Prometheus /metrics (API, indexer and webhook
	// routes together); empty: off.
	MetricsAddress string
	Log            *slog.Logger
}

// Stack is a running dev stack.
type Stack struct {
	Registry *devregistry.Registry
	All      *service.AllInOne
	api      *process.Listener
	metrics  *process.Listener
	opts     Options
	served   chan error
	// signer signs the samples when signatures are required; nil otherwise.
	signer *signer
}

type handlerSwitch struct{ h atomic.Pointer[http.Handler] }

func (s *handlerSwitch) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h := s.h.Load(); h != nil {
		(*h).ServeHTTP(w, r)
		return
	}
	http.Error(w, "starting", http.StatusServiceUnavailable)
}

// Start starts the registry and the pipeline. The API listener is bound first, because the
// registry's notification URL must name it.
func Start(ctx context.Context, opts Options) (_ *Stack, err error) {
	if err := process.CheckDataDir(opts.DataDir); err != nil {
		return nil, err
	}
	if opts.WebhookToken == "" {
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		opts.WebhookToken = hex.EncodeToString(b)
	}
	sw := &handlerSwitch{}
	ln, err := process.Listen("api", opts.Address, sw)
	if err != nil {
		return nil, err
	}
	ln.SetTimeouts(process.APITimeouts())
	reg, err := devregistry.Start(ctx, devregistry.Options{
		Address: opts.RegistryAddress,
		RootDir: filepath.Join(opts.DataDir, "registry"),
		Notifications: []devregistry.Notification{{
			URL:           "http://" + ln.Addr() + "/webhooks/distribution",
			Headers:       http.Header{"Authorization": {"Bearer " + opts.WebhookToken}},
			Timeout:       5 * time.Second,
			Threshold:     5,
			Backoff:       time.Second,
			IgnoreActions: []string{"pull", "mount"},
		}},
	})
	if err != nil {
		return nil, err
	}
	metricsReg := process.NewMetricsRegistry()
	metrics, err := process.MetricsListener(opts.MetricsAddress, metricsReg)
	if err != nil {
		reg.Close()
		return nil, err
	}
	regCfg := oci.Config{Registry: "http://" + reg.Host()}
	all, err := service.StartAllInOne(ctx, service.AllInOneOptions{
		API: service.APIOptions{Config: api.DefaultConfig(), Registry: regCfg, Metrics: metricsReg},
		Indexer: service.IndexerOptions{Registry: regCfg, Repository: opts.Repository, ResyncInterval: 10 * time.Minute,
			DisablePackageValidation: opts.DisablePackageValidation, RequirePackageSignatures: opts.RequirePackageSignatures,
			Metrics: metricsReg},
		DataDir: filepath.Join(opts.DataDir, "pipeline"),
		Webhook: service.WebhookOptions{Token: opts.WebhookToken, Metrics: metricsReg},
		Log:     opts.Log,
	})
	if err != nil {
		reg.Close()
		return nil, err
	}
	statusOf := all.StatusReader()
	if err := service.ServeStatus(statusOf, status.Exposure{}, metrics, nil, opts.Log); err != nil {
		all.Close()
		reg.Close()
		return nil, err
	}
	var h http.Handler = all.API.Server
	sw.h.Store(&h)
	s := &Stack{Registry: reg, All: all, api: ln, metrics: metrics, opts: opts, served: make(chan error, 1)}
	if opts.RequirePackageSignatures {
		if s.signer, err = loadOrCreateSigner(opts.DataDir); err != nil {
			all.Close()
			reg.Close()
			return nil, err
		}
	}
	go func() { s.served <- process.Serve(ctx, opts.Log, ln, metrics) }()
	return s, nil
}

// Wait blocks until ctx (given to Start) ends, then stops everything.
func (s *Stack) Wait() error {
	err := <-s.served
	s.All.Close()
	s.Registry.Close()
	return err
}

// APIURL is the base URL of the package registry API.
func (s *Stack) APIURL() string { return "http://" + s.api.Addr() }

// MetricsURL is the URL of the Prometheus metrics, or "" when they are off.
func (s *Stack) MetricsURL() string {
	if s.metrics == nil {
		return ""
	}
	return "http://" + s.metrics.Addr() + "/metrics"
}

// StatusURL is the URL of the indexing status (on the metrics listener), or "" when it is off.
func (s *Stack) StatusURL() string {
	if s.metrics == nil {
		return ""
	}
	return "http://" + s.metrics.Addr() + "/status"
}

// Sample is one pushed sample package.
type Sample struct{ Name, Version, Repository, Tag string }

// Samples are the generated packages the stack pushes: one of each kind the fixture generator
// knows (integration, input, content, prerelease, 0.x, conditions, deprecated, experimental,
// discovery).
func Samples() ([]Sample, [][]byte) {
	var out []Sample
	var zips [][]byte
	seen := map[string]bool{}
	for _, c := range packagetest.Valid() {
		key := index.Key(c.Spec.Name, c.Spec.Version)
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, Sample{Name: c.Spec.Name, Version: c.Spec.Version})
		zips = append(zips, packagetest.Build(c.Spec))
	}
	return out, zips
}

// TourPackage is the package the README's tour pushes: written to ExampleDir at start, not
// pushed by the stack.
const (
	TourPackage = "acme_tour"
	TourVersion = "1.0.0"
)

// ExampleDir is where the stack writes the tour's package zip.
func (s *Stack) ExampleDir() string { return filepath.Join(s.opts.DataDir, "examples") }

// WriteExample writes the tour's package zip into ExampleDir, for a user to push by hand.
func (s *Stack) WriteExample() (string, error) {
	if err := os.MkdirAll(s.ExampleDir(), 0o755); err != nil {
		return "", err
	}
	zip := packagetest.Build(packagetest.Spec{Name: TourPackage, Version: TourVersion, Type: "integration",
		Title: "Acme tour", Description: "The package of the README's tour"})
	path := filepath.Join(s.ExampleDir(), TourPackage+"-"+TourVersion+".zip")
	return path, os.WriteFile(path, zip, 0o644)
}

// PushSamples pushes the samples through the registry, as `oras push` would.
func (s *Stack) PushSamples(ctx context.Context) ([]Sample, error) {
	client, err := oci.New(oci.Config{Registry: "http://" + s.Registry.Host()})
	if err != nil {
		return nil, err
	}
	samples, zips := Samples()
	for i := range samples {
		sm := &samples[i]
		r := ref.Ref{Name: sm.Name, Version: sm.Version}
		sm.Repository, sm.Tag = r.Repository(s.opts.Repository), r.Tag()
		var sig []byte
		if s.signer != nil {
			if sig, err = s.signer.sign(zips[i]); err != nil {
				return nil, err
			}
		}
		if _, err := client.PushPackage(ctx, sm.Repository, sm.Tag, zips[i], sig, nil); err != nil {
			return nil, fmt.Errorf("push %s:%s: %w", sm.Repository, sm.Tag, err)
		}
	}
	return samples, s.waitIndexed(ctx, samples)
}

// waitIndexed waits until the API serves every sample, so what the welcome text promises holds
// when it is printed.
func (s *Stack) waitIndexed(ctx context.Context, samples []Sample) error {
	deadline := time.Now().Add(time.Minute)
	for {
		missing := 0
		for _, sm := range samples {
			resp, err := http.Get(fmt.Sprintf("%s/package/%s/%s/", s.APIURL(), sm.Name, sm.Version))
			if err == nil {
				resp.Body.Close()
			}
			if err != nil || resp.StatusCode != http.StatusOK || resp.Header.Get("X-Package-Source") == "mock" {
				missing++
			}
		}
		if missing == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d sample packages not indexed after a minute; see the log", missing)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// PrintWelcome tells the user where things are and what to try.
func (s *Stack) PrintWelcome(w io.Writer, samples []Sample) {
	api, reg := s.APIURL(), s.Registry.Host()
	fmt.Fprintf(w, `
Package registry (EPR API)  %s
OCI registry                %s   (repository %q)
Webhook token               %s   (the registry sends it to %s/webhooks/distribution)
Data                        %s

Pushed %d sample packages through the registry; its notifications got them indexed.
Try:
  curl -s '%s/search?prerelease=true' | jq -r '.[] | .name + " " + .version'
  curl -s '%s/categories'
  curl -s '%s/package/%s/%s/' | jq .

Add a package of your own (ORAS CLI: go install oras.land/oras/cmd/oras@v1.3.6); one to
try is in %s:
  oras push --plain-http %s/%s/<name>:<version> \
    --artifact-type application/vnd.elastic.package.v1 \
    <name>-<version>.zip:application/vnd.elastic.package.content.v1+zip

Point Kibana at it: xpack.fleet.registryUrl: %s
`, api, reg, s.opts.Repository, s.opts.WebhookToken, api, s.opts.DataDir, len(samples), api, api, api, firstName(samples), firstVersion(samples), s.ExampleDir(), reg, s.opts.Repository, api)
	if m := s.MetricsURL(); m != "" {
		fmt.Fprintf(w, "Metrics (Prometheus): %s\n", m)
		fmt.Fprintf(w, "Indexing status (why a package is or is not served; open it in a browser): %s\n", s.StatusURL())
	}
	if s.signer != nil {
		fmt.Fprintf(w, `Signatures are required: the samples are signed with the key in %s
  (xpack.fleet.packageVerification.gpgKeyPath: %s); unsigned pushes are not served until
  a signature is attached (oras attach --artifact-type application/pgp-signature …).
`, s.opts.DataDir, s.signer.PublicKeyPath)
	}
	fmt.Fprintln(w, "Ctrl-C stops everything.")
}

func firstName(s []Sample) string {
	if len(s) == 0 {
		return "<name>"
	}
	return s[0].Name
}

func firstVersion(s []Sample) string {
	if len(s) == 0 {
		return "<version>"
	}
	return s[0].Version
}
