// Package process owns the plumbing every binary shares around its role: HTTP listeners with
// their TLS and timeouts, the metrics registry and its listener, health endpoints, and graceful
// shutdown. It knows nothing of packages, events or registries.
package process

import (
	"context"
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

// NewMetricsRegistry returns a Prometheus registry with the Go and process collectors.
func NewMetricsRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Timeouts bound what one client may hold of a listener. Each is a fixed deadline from the start
// of its phase, not an idle timer, so a client that trickles bytes cannot stretch it.
type Timeouts struct {
	// ReadHeader bounds reading the request line and headers.
	ReadHeader time.Duration
	// Read bounds reading the whole request, body included. No route of ours takes a body larger
	// than a registry notification, so it can be short.
	Read time.Duration
	// Write bounds the handler plus writing the response, from the end of the headers.
	Write time.Duration
	// Idle bounds a kept-alive connection between requests.
	Idle time.Duration
}

// DefaultTimeouts suit listeners that answer with small bodies: webhooks, health, metrics.
func DefaultTimeouts() Timeouts {
	return Timeouts{ReadHeader: 10 * time.Second, Read: 20 * time.Second, Write: time.Minute, Idle: 2 * time.Minute}
}

// APITimeouts are the defaults with room to write a large package zip to a slow link: 512 MiB,
// the largest zip served, goes out at under 1 MB/s in 10 minutes.
func APITimeouts() Timeouts {
	t := DefaultTimeouts()
	t.Write = 10 * time.Minute
	return t
}

// Listener is an HTTP server bound to an address.
type Listener struct {
	Name              string
	ln                net.Listener
	srv               *http.Server
	certFile, keyFile string
	// admin is the mux of a metrics listener, where Mount adds routes beside /metrics.
	admin *http.ServeMux
}

// Listen binds address now, so a bad address fails at start-up and ":0" resolves to a port. The
// server starts with DefaultTimeouts.
func Listen(name, address string, h http.Handler) (*Listener, error) {
	ln, err := net.Listen("tcp", address)
	if err != nil {
		return nil, fmt.Errorf("%s: listen on %s: %w", name, address, err)
	}
	l := &Listener{Name: name, ln: ln, srv: &http.Server{Handler: h}}
	l.SetTimeouts(DefaultTimeouts())
	return l, nil
}

// Handle sets the handler; call it before Serve. Binding first and wiring after lets a process
// fail on a taken address before it starts anything else.
func (l *Listener) Handle(h http.Handler) { l.srv.Handler = h }

// SetTimeouts replaces the listener's timeouts; call it before Serve. A zero field keeps the
// default, so no listener is ever left without a bound.
func (l *Listener) SetTimeouts(t Timeouts) {
	d := DefaultTimeouts()
	pick := func(v, def time.Duration) time.Duration {
		if v > 0 {
			return v
		}
		return def
	}
	l.srv.ReadHeaderTimeout = pick(t.ReadHeader, d.ReadHeader)
	l.srv.ReadTimeout = pick(t.Read, d.Read)
	l.srv.WriteTimeout = pick(t.Write, d.Write)
	l.srv.IdleTimeout = pick(t.Idle, d.Idle)
}

// Addr is the bound address.
func (l *Listener) Addr() string { return l.ln.Addr().String() }

// MetricsListener serves /metrics from reg on address; nil when address is empty. It is the
// process's admin listener: Mount adds other operator routes (/status) beside /metrics.
func MetricsListener(address string, reg *prometheus.Registry) (*Listener, error) {
	if address == "" {
		return nil, nil
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	l, err := Listen("metrics", address, mux)
	if err != nil {
		return nil, err
	}
	l.admin = mux
	return l, nil
}

// Mount serves h at pattern (http.ServeMux syntax) on a listener MetricsListener made; call it
// before Serve. The routes mounted are the process's own business, so they are added once the
// role has started, after the listener was bound.
func (l *Listener) Mount(pattern string, h http.Handler) error {
	if l.admin == nil {
		return fmt.Errorf("%s: only the metrics listener takes more routes", l.Name)
	}
	l.admin.Handle(pattern, h)
	return nil
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
