// Package devregistry runs a real CNCF distribution registry inside the current process. It owns
// nothing but the registry's lifecycle and configuration: integration tests and the dev stack use
// it so that pushes, tag listings and notifications come from the real registry code, not a fake.
package devregistry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	"github.com/sirupsen/logrus"

	// Access controllers and storage drivers register themselves on import.
	_ "github.com/distribution/distribution/v3/registry/auth/htpasswd"
	_ "github.com/distribution/distribution/v3/registry/auth/token"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
)

// Notification points the registry's notifications at one endpoint.
type Notification struct {
	URL     string
	Headers http.Header
	// Timeout, Threshold and Backoff are passed to the registry as is; zero takes its defaults.
	Timeout   time.Duration
	Threshold int
	Backoff   time.Duration
	// IgnoreActions drops events by action, e.g. "pull".
	IgnoreActions []string
}

// Options configures a registry.
type Options struct {
	// Address to listen on; "127.0.0.1:0" when empty.
	Address string
	// RootDir selects filesystem storage under this directory; empty means in-memory storage.
	RootDir       string
	Notifications []Notification
	// Handler wraps the registry's handler, e.g. to count or fail requests in tests.
	Handler func(http.Handler) http.Handler
	// Auth is the registry's access controller, as its config.yml "auth" section spells it:
	// {"htpasswd": {"realm": …, "path": …}} or {"token": {"realm": …, "service": …,
	// "issuer": …, "jwks": …}}. Nil leaves the registry open.
	Auth map[string]map[string]any
}

// Registry is a running registry.
type Registry struct {
	app      *handlers.App
	server   *http.Server
	listener net.Listener
	done     chan struct{}
}

func init() {
	// The registry pulls in OpenTelemetry; nothing here collects traces.
	if os.Getenv("OTEL_TRACES_EXPORTER") == "" {
		os.Setenv("OTEL_TRACES_EXPORTER", "none")
	}
}

// Start starts a registry and returns once it accepts connections.
func Start(ctx context.Context, opts Options) (*Registry, error) {
	cfg := &configuration.Configuration{}
	cfg.Log.Level = "error"
	cfg.Log.AccessLog.Disabled = true
	logrus.SetOutput(io.Discard)
	cfg.HTTP.Secret = "devregistry"
	// A programmatic configuration skips the parser defaults; 0 would make the catalog empty.
	cfg.Catalog.MaxEntries = 1000
	storage := configuration.Storage{"delete": configuration.Parameters{"enabled": true}}
	if opts.RootDir != "" {
		storage["filesystem"] = configuration.Parameters{"rootdirectory": opts.RootDir}
	} else {
		storage["inmemory"] = configuration.Parameters{}
	}
	storage["maintenance"] = configuration.Parameters{"uploadpurging": map[any]any{"enabled": false}}
	cfg.Storage = storage
	if len(opts.Auth) > 0 {
		cfg.Auth = configuration.Auth{}
		for kind, params := range opts.Auth {
			cfg.Auth[kind] = configuration.Parameters(params)
		}
	}
	for i, n := range opts.Notifications {
		cfg.Notifications.Endpoints = append(cfg.Notifications.Endpoints, configuration.Endpoint{
			Name:      fmt.Sprintf("endpoint-%d", i),
			URL:       n.URL,
			Headers:   n.Headers,
			Timeout:   n.Timeout,
			Threshold: n.Threshold,
			Backoff:   n.Backoff,
			Ignore:    configuration.Ignore{Actions: n.IgnoreActions},
		})
	}
	addr := opts.Address
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("registry listen: %w", err)
	}
	app := handlers.NewApp(ctx, cfg)
	var h http.Handler = app
	if opts.Handler != nil {
		h = opts.Handler(h)
	}
	r := &Registry{app: app, listener: ln, done: make(chan struct{}),
		server: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}}
	go func() {
		defer close(r.done)
		if err := r.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logrus.WithError(err).Error("registry serve")
		}
	}()
	return r, nil
}

// Host is the registry's host:port, the form OCI references use.
func (r *Registry) Host() string { return r.listener.Addr().String() }

// URL is the registry's base URL.
func (r *Registry) URL() string { return "http://" + r.Host() }

// Close stops serving and releases the registry.
func (r *Registry) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := r.server.Shutdown(ctx)
	<-r.done
	return errors.Join(err, r.app.Shutdown())
}
