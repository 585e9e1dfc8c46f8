package main

import (
	"strings"
	"testing"
	"time"

	"github.com/oci-epr/package-registry/internal/packages"
	"github.com/oci-epr/package-registry/internal/process"
	"github.com/oci-epr/package-registry/internal/service"
	"github.com/oci-epr/package-registry/internal/testkit"
	"github.com/oci-epr/package-registry/internal/webhook"
)

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		env   map[string]string
		check func(t *testing.T, o options)
		err   string
	}{
		{name: "defaults", check: func(t *testing.T, o options) {
			if o.address != "localhost:8080" || o.allInOne || o.dataDir != "data" || o.natsURL != "" {
				t.Errorf("address %q allInOne %v dataDir %q natsURL %q", o.address, o.allInOne, o.dataDir, o.natsURL)
			}
			c := o.api.Config
			if !c.MockFallback || !c.AllowUnknownQueryParameters || c.CacheTimeIndex != 10*time.Second || c.CacheTimeSearch != 10*time.Minute {
				t.Errorf("api config %+v", c)
			}
			if o.api.MaxZipBytes != packages.DefaultLimits().MaxZipSize || o.api.Replicas != 1 || o.api.DataDir != "data" {
				t.Errorf("api options: max zip %d, replicas %d, data dir %q", o.api.MaxZipBytes, o.api.Replicas, o.api.DataDir)
			}
			if o.webhook.MaxBodyBytes != webhook.DefaultMaxBodyBytes || o.webhook.BodyTimeout != webhook.DefaultBodyTimeout ||
				o.webhook.PublishTimeout != service.DefaultPublishTimeout {
				t.Errorf("webhook options %+v", o.webhook)
			}
			if o.tlsMinVersion != 0x0303 {
				t.Errorf("tls min version %#x, want TLS 1.2", o.tlsMinVersion)
			}
			if o.indexer.DisablePackageValidation || o.indexer.RequirePackageSignatures {
				t.Errorf("validation disabled %v, signatures required %v by default", o.indexer.DisablePackageValidation, o.indexer.RequirePackageSignatures)
			}
		}},
		{name: "all-in-one takes the indexer's and webhook's flags, env mirrored, flags win",
			args: []string{"-feature-oci-indexer", "-oci-registry", "r:5000", "-parallelism", "8", "-max-body-bytes", "4096", "-require-package-signatures"},
			env: map[string]string{"EPR_OCI_REGISTRY": "ignored:1", "EPR_OCI_USERNAME": "u", "EPR_OCI_PASSWORD": "p",
				"EPR_NATS_REPLICAS": "3", "EPR_MAX_ZIP_BYTES": "1000", "EPR_PUBLISH_TIMEOUT": "2s", "EPR_WEBHOOK_TOKEN": "t",
				"EPR_CACHE_TIME_SEARCH": "1m", "EPR_TLS_MIN_VERSION": "1.3", "EPR_DISABLE_PACKAGE_VALIDATION": "true"},
			check: func(t *testing.T, o options) {
				if !o.allInOne || o.indexer.Registry.Registry != "r:5000" || o.indexer.Parallelism != 8 || o.indexer.Stream.Replicas != 3 ||
					!o.indexer.DisablePackageValidation || !o.indexer.RequirePackageSignatures {
					t.Errorf("indexer options %+v", o.indexer)
				}
				// The API downloads from the indexer's registry with the same limit and replicas.
				if o.api.Registry != o.indexer.Registry || o.api.MaxZipBytes != 1000 || o.api.Replicas != 3 {
					t.Errorf("api options: registry %+v, max zip %d, replicas %d", o.api.Registry, o.api.MaxZipBytes, o.api.Replicas)
				}
				if o.webhook.MaxBodyBytes != 4096 || o.webhook.PublishTimeout != 2*time.Second || o.webhook.Token != "t" {
					t.Errorf("webhook options %+v", o.webhook)
				}
				if o.api.Config.CacheTimeSearch != time.Minute || o.tlsMinVersion != 0x0304 {
					t.Errorf("cache-time-search %v, tls min %#x", o.api.Config.CacheTimeSearch, o.tlsMinVersion)
				}
				if len(o.secretsInArgs) != 0 {
					t.Errorf("secrets from the environment reported as arguments: %v", o.secretsInArgs)
				}
			}},
		{name: "secrets on the command line", args: []string{"-webhook-token=t", "-oci-password", "p"}, check: func(t *testing.T, o options) {
			if strings.Join(o.secretsInArgs, ",") != "oci-password,webhook-token" {
				t.Errorf("secretsInArgs = %v", o.secretsInArgs)
			}
		}},
		// api.New turns a zero into the default (internal/api's TestConfig); here it must pass.
		{name: "cache time zero is accepted", args: []string{"-cache-time-index=0"}, check: func(t *testing.T, o options) {
			if o.api.Config.CacheTimeIndex != 0 {
				t.Errorf("cache-time-index %v", o.api.Config.CacheTimeIndex)
			}
		}},
		{name: "proxy mode", args: []string{"-feature-proxy-mode", "-proxy-to=http://epr.internal:8080/", "-proxy-allow-insecure"},
			env: map[string]string{"EPR_PROXY_TIMEOUT": "2s"}, check: func(t *testing.T, o options) {
				p := o.api.Proxy
				if !p.Enabled || p.URL != "http://epr.internal:8080/" || !p.AllowInsecure || p.Timeout != 2*time.Second || p.CacheTime != 10*time.Second {
					t.Errorf("proxy options %+v", p)
				}
			}},
		{name: "proxy mode off by default", check: func(t *testing.T, o options) {
			if o.api.Proxy.Enabled || o.api.Proxy.URL != "https://epr.elastic.co/" {
				t.Errorf("proxy options %+v", o.api.Proxy)
			}
		}},
		{name: "proxy to a bad URL", args: []string{"-feature-proxy-mode", "-proxy-to=epr.elastic.co"}, err: "-proxy-to must be an http or https URL"},
		{name: "all-in-one from an OCI layout", args: []string{"-feature-oci-indexer", "-oci-layout", "/srv/layout"}, check: func(t *testing.T, o options) {
			if o.indexer.Layout != "/srv/layout" || o.indexer.Registry.Registry != "" {
				t.Errorf("indexer options %+v", o.indexer)
			}
		}},
		{name: "layout and registry", args: []string{"-feature-oci-indexer", "-oci-layout=d", "-oci-registry=r"}, err: "exclude each other"},
		{name: "layout without all-in-one", args: []string{"-oci-layout=d"}, err: "-oci-layout needs -feature-oci-indexer"},
		{name: "all-in-one without a registry", args: []string{"-feature-oci-indexer"}, err: "needs -oci-registry"},
		{name: "sub-second cache time", args: []string{"-cache-time-search=500ms"}, err: "-cache-time-search must be at least 1s"},
		{name: "public status without a token", args: []string{"-status-public"}, err: "-status-public needs -status-token"},
		{name: "public status with a token from the environment", args: []string{"-status-public"}, env: map[string]string{"EPR_STATUS_TOKEN": "t"},
			check: func(t *testing.T, o options) {
				if !o.status.Public || o.status.Token != "t" || len(o.secretsInArgs) != 0 {
					t.Errorf("status %+v, secrets in args %v", o.status, o.secretsInArgs)
				}
			}},
		{name: "status token on the command line", args: []string{"-status-public", "-status-token=t"}, check: func(t *testing.T, o options) {
			if strings.Join(o.secretsInArgs, ",") != "status-token" {
				t.Errorf("secretsInArgs = %v", o.secretsInArgs)
			}
		}},
		{name: "bad TLS version", args: []string{"-tls-min-version=1.0"}, err: "-tls-min-version"},
		{name: "bad env value", env: map[string]string{"EPR_MOCK_FALLBACK": "maybe"}, err: "-mock-fallback"},
		{name: "stray argument", args: []string{"serve"}, err: "unexpected arguments"},
		{name: "memory limit", args: []string{"-memory-limit=200MiB"}, check: func(t *testing.T, o options) {
			if o.memoryLimit != 200<<20 {
				t.Errorf("memory limit %d", o.memoryLimit)
			}
		}},
		{name: "memory limit from env, off", env: map[string]string{"EPR_MEMORY_LIMIT": "off"}, check: func(t *testing.T, o options) {
			if o.memoryLimit != -1 {
				t.Errorf("memory limit %d", o.memoryLimit)
			}
		}},
		{name: "bad memory limit", args: []string{"-memory-limit=200MB"}, err: "-memory-limit"},
		{name: "a replica's GC target once loaded", check: func(t *testing.T, o options) {
			if o.api.GCPercent != process.LoadedGCPercent {
				t.Errorf("GC percent %d, want %d", o.api.GCPercent, process.LoadedGCPercent)
			}
		}},
		{name: "GOGC wins", env: map[string]string{"GOGC": "100"}, check: func(t *testing.T, o options) {
			if o.api.GCPercent != 0 {
				t.Errorf("GC percent %d with GOGC set", o.api.GCPercent)
			}
		}},
		{name: "all-in-one keeps the runtime's GC target", args: []string{"-feature-oci-indexer", "-oci-registry=r"}, check: func(t *testing.T, o options) {
			if o.api.GCPercent != 0 {
				t.Errorf("GC percent %d in the all-in-one", o.api.GCPercent)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseFlags(tt.args, testkit.Env(tt.env))
			if testkit.WantErr(t, err, tt.err) {
				return
			}
			tt.check(t, got)
		})
	}
}
