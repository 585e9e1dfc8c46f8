// Package service owns how the parts become running services: the indexer (event consumer,
// resync, store, registry client), the API replica (store, follower, HTTP server), the webhook
// receiver (publisher, handlers, /health, event stream set-up), and the process plumbing they
// share (listeners, metrics listener, health, set-up retries, graceful shutdown). The three
// binaries and the all-in-one mode call the same functions here, so every deployment runs one
// code path.
package service

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// NewRegistry returns a metrics registry with the Go and process collectors.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Listener is an HTTP server bound to an address.
type Listener struct {
	Name              string
	ln                net.Listener
	srv               *http.Server
	certFile, keyFile string
}

// Handle sets the handler; call it before Serve. Binding first and wiring after lets a process
// fail on a taken address before it starts anything else.
func (l *Listener) Handle(h http.Handler) { l.srv.Handler = h }

// UseTLS makes the listener serve HTTPS with the given key pair and minimum version ("1.1",
// "1.2", "1.3"; empty: 1.2).
func (l *Listener) UseTLS(certFile, keyFile, minVersion string) error {
	if err := CheckTLSMinVersion(minVersion); err != nil {
		return err
	}
	v := tlsVersions[minVersion]
	if _, err := tls.LoadX509KeyPair(certFile, keyFile); err != nil {
		return fmt.Errorf("load TLS key pair: %w", err)
	}
	l.srv.TLSConfig = &tls.Config{MinVersion: v}
	l.certFile, l.keyFile = certFile, keyFile
	return nil
}

// Listen binds address now, so a bad address fails at start-up and ":0" resolves to a port.
func Listen(name, address string, h http.Handler) (*Listener, error) {
	ln, err := net.Listen("tcp", address)
	if err != nil {
		return nil, fmt.Errorf("%s: listen on %s: %w", name, address, err)
	}
	return &Listener{Name: name, ln: ln, srv: &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}}, nil
}

// MetricsListener serves /metrics from reg on address; nil when address is empty.
func MetricsListener(address string, reg *prometheus.Registry) (*Listener, error) {
	if address == "" {
		return nil, nil
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return Listen("metrics", address, mux)
}

// HealthHandler answers /health with 200 (alive) and /health?ready=true with 200 only while
// ready() holds, else 503.
func HealthHandler(ready func() bool) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("ready") && !ready() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	return mux
}

var tlsVersions = map[string]uint16{"": tls.VersionTLS12, "1.1": tls.VersionTLS11, "1.2": tls.VersionTLS12, "1.3": tls.VersionTLS13}

// CheckTLSMinVersion validates a -tls-min-version value.
func CheckTLSMinVersion(v string) error {
	if _, ok := tlsVersions[v]; !ok {
		return fmt.Errorf("invalid TLS minimum version %q: use 1.1, 1.2 or 1.3", v)
	}
	return nil
}

// Addr is the bound address.
func (l *Listener) Addr() string { return l.ln.Addr().String() }

// Serve serves every non-nil listener until ctx ends, then shuts them down gracefully. It
// returns early with the error of a listener that fails.
func Serve(ctx context.Context, log *slog.Logger, listeners ...*Listener) error {
	errc := make(chan error, len(listeners))
	var active []*Listener
	for _, l := range listeners {
		if l == nil {
			continue
		}
		active = append(active, l)
		log.Info("listening", "listener", l.Name, "address", l.Addr())
		go func() {
			serve := func() error { return l.srv.Serve(l.ln) }
			if l.certFile != "" {
				serve = func() error { return l.srv.ServeTLS(l.ln, l.certFile, l.keyFile) }
			}
			if err := serve(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("%s: %w", l.Name, err)
			}
		}()
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, l := range active {
		err = errors.Join(err, l.srv.Shutdown(sctx))
	}
	return err
}
