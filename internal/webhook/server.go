package webhook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/oci-epr/package-registry/internal/events"
)

// ServerConfig configures the standalone webhook service (cmd/webhook).
type ServerConfig struct {
	// Address to listen on for the webhooks and /health.
	Address string
	// MetricsAddress, when set, serves /metrics on a listener of its own, so that the metrics are
	// not exposed wherever the registries can reach the webhooks.
	MetricsAddress string
	NATSURL        string
	Token          string
	MaxBodyBytes   int64
	// PublishTimeout bounds the wait for JetStream's ack of each event.
	PublishTimeout time.Duration
	// Stream configures the event stream that the server makes sure exists.
	Stream events.StreamOptions
	Logger *slog.Logger
}

// Server is the webhook service: the handlers on an HTTP listener, /health, optional /metrics,
// and the NATS connection with the stream set-up.
type Server struct {
	cfg         ServerConfig
	log         *slog.Logger
	nc          *nats.Conn
	js          jetstream.JetStream
	pub         *events.Publisher
	ln, mln     net.Listener
	srv, msrv   *http.Server
	streamReady atomic.Bool
}

// NewServer binds the listeners (so a bad address fails at once and Addr is known) and starts
// connecting to NATS in the background: a NATS that is down makes the server not ready, not
// failed. Call Run to serve; it releases everything when it returns.
func NewServer(cfg ServerConfig) (_ *Server, err error) {
	s := &Server{cfg: cfg, log: cfg.Logger}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	defer func() {
		if err != nil {
			s.release()
		}
	}()
	if s.ln, err = net.Listen("tcp", cfg.Address); err != nil {
		return nil, fmt.Errorf("listen on %s: %w", cfg.Address, err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics, err := NewMetrics(reg)
	if err != nil {
		return nil, err
	}
	if cfg.MetricsAddress != "" {
		if s.mln, err = net.Listen("tcp", cfg.MetricsAddress); err != nil {
			return nil, fmt.Errorf("listen on %s: %w", cfg.MetricsAddress, err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		s.msrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	}
	if s.nc, err = events.Connect(cfg.NATSURL, "epr-webhook", s.log); err != nil {
		return nil, err
	}
	if s.js, err = jetstream.New(s.nc); err != nil {
		return nil, err
	}
	if s.pub, err = events.NewPublisher(s.nc, cfg.PublishTimeout); err != nil {
		return nil, err
	}

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.Use(middleware.Recover())
	e.GET("/health", s.health)
	if err := Register(e, Config{
		Publisher:    s.pub,
		Token:        cfg.Token,
		MaxBodyBytes: cfg.MaxBodyBytes,
		Logger:       s.log,
		Metrics:      metrics,
	}); err != nil {
		return nil, err
	}
	s.srv = &http.Server{
		Handler:           e,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	return s, nil
}

// Addr is the address the webhooks listen on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// MetricsAddr is the address of /metrics, nil when metrics are off.
func (s *Server) MetricsAddr() net.Addr {
	if s.mln == nil {
		return nil
	}
	return s.mln.Addr()
}

// Ready reports whether events can be published now: NATS connected and the stream set up.
func (s *Server) Ready() bool { return s.pub.Connected() && s.streamReady.Load() }

// Run serves until ctx is done, then stops accepting requests, lets the ones in flight finish
// their publish, and closes the NATS connection.
func (s *Server) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 2)
	serve := func(srv *http.Server, ln net.Listener) {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
	}
	go serve(s.srv, s.ln)
	s.log.Info("webhook listening", "address", s.ln.Addr().String(), "auth", s.cfg.Token != "")
	if s.msrv != nil {
		go serve(s.msrv, s.mln)
		s.log.Info("metrics listening", "address", s.mln.Addr().String())
	}
	var wg sync.WaitGroup
	wg.Go(func() { s.ensureStream(ctx) })

	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	cancel()
	s.log.Info("shutting down")
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	err = errors.Join(err, s.srv.Shutdown(sctx))
	if s.msrv != nil {
		err = errors.Join(err, s.msrv.Shutdown(sctx))
	}
	wg.Wait()
	s.release()
	return err
}

// ensureStream creates the stream once NATS is reachable. It retries in the background so that
// /health answers (live, not ready) while NATS is still away.
func (s *Server) ensureStream(ctx context.Context) {
	const maxDelay = 2 * time.Second
	delay := 250 * time.Millisecond
	for {
		// Attempting while disconnected would only wait out the timeout in nats.go's buffer.
		if s.nc.IsConnected() {
			actx, cancel := context.WithTimeout(ctx, 5*time.Second)
			_, err := events.EnsureStream(actx, s.js, s.cfg.Stream)
			cancel()
			if err == nil {
				s.streamReady.Store(true)
				s.log.Info("event stream ready", "stream", events.StreamName)
				return
			}
			if ctx.Err() != nil {
				return
			}
			s.log.Warn("event stream not ready; retrying", "in", delay, "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(delay*2, maxDelay)
	}
}

// health is the liveness probe, and with ?ready=true the readiness probe: a replica that cannot
// publish should get no webhook traffic, since it could only answer 503.
func (s *Server) health(c echo.Context) error {
	if ready, _ := strconv.ParseBool(c.QueryParam("ready")); ready && !s.Ready() {
		return c.String(http.StatusServiceUnavailable, "not ready: event stream unavailable")
	}
	return c.NoContent(http.StatusOK)
}

func (s *Server) release() {
	if s.nc != nil {
		s.nc.Close()
	}
	for _, ln := range []net.Listener{s.ln, s.mln} {
		if ln != nil {
			_ = ln.Close()
		}
	}
}
