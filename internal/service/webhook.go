package service

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/oci-epr/package-registry/internal/events"
	"github.com/oci-epr/package-registry/internal/process"
	"github.com/oci-epr/package-registry/internal/webhook"
)

// WebhookOptions configures the webhook receiver role, standalone and all-in-one alike.
type WebhookOptions struct {
	// Token, when set, must arrive as "Authorization: Bearer <token>" or as the query parameter
	// webhook.TokenParameter.
	Token string
	// GitHubSecret, when set, is the secret of the GitHub webhook: the GitHub route checks the
	// deliveries' signature with it instead of Token.
	GitHubSecret string
	// AllowUnauthenticated serves the webhook routes without a Token. Without it, no Token is a
	// start-up error: an open route lets anyone who reaches it make the indexer list repositories.
	AllowUnauthenticated bool
	// MaxBodyBytes bounds a notification body; 0 means webhook.DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// MaxRepositories bounds the repositories one notification may name; 0 means
	// webhook.DefaultMaxRepositories.
	MaxRepositories int
	// BodyTimeout bounds reading a notification body; 0 means webhook.DefaultBodyTimeout.
	BodyTimeout time.Duration
	// PublishTimeout bounds the wait for JetStream's ack of each event.
	PublishTimeout time.Duration
	// Stream configures the event stream the standalone receiver makes sure exists (all-in-one:
	// the indexer does).
	Stream  events.StreamOptions
	Log     *slog.Logger
	Metrics prometheus.Registerer
}

// DefaultPublishTimeout is how long a notification waits for JetStream's ack before the
// registry is told to retry.
const DefaultPublishTimeout = 5 * time.Second

// RegisterFlags defines the webhook flags on fs, writing into o. Both binaries that serve the
// webhooks call it, so their flags and defaults cannot drift apart.
func (o *WebhookOptions) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.Token, "webhook-token", "", "token registries must send, as Authorization: Bearer <token> or ?token=<token>; required unless -webhook-allow-unauthenticated (prefer the env var EPR_WEBHOOK_TOKEN)")
	fs.BoolVar(&o.AllowUnauthenticated, "webhook-allow-unauthenticated", false, "serve the webhook routes without -webhook-token: anyone who can reach them can post events")
	fs.StringVar(&o.GitHubSecret, "webhook-github-secret", "", "secret of the GitHub webhook; /webhooks/github then requires its X-Hub-Signature-256 instead of the token (prefer the env var EPR_WEBHOOK_GITHUB_SECRET)")
	fs.Int64Var(&o.MaxBodyBytes, "max-body-bytes", webhook.DefaultMaxBodyBytes, "largest accepted notification body, in bytes")
	fs.IntVar(&o.MaxRepositories, "webhook-max-repositories", webhook.DefaultMaxRepositories, "most repositories one notification may name; events of the others are dropped, logged and counted (the resync covers them)")
	fs.DurationVar(&o.BodyTimeout, "webhook-body-timeout", webhook.DefaultBodyTimeout, "how long a registry may take to send a notification body")
	fs.DurationVar(&o.PublishTimeout, "publish-timeout", DefaultPublishTimeout, "how long to wait for JetStream to acknowledge an event")
}

// streamCheckInterval is how often a receiver with a working stream checks that it still exists
// (a NATS restarted on an empty store loses it). A reconnect triggers the check at once.
var streamCheckInterval = 30 * time.Second

// Webhook is a running webhook receiver: the handlers and /health, and the background set-up of
// the event stream they publish to.
type Webhook struct {
	opts WebhookOptions
	nc   *nats.Conn
	js   jetstream.JetStream
	// setup creates the event stream when it is missing (the indexer may too) and reports how an
	// existing one differs from opts.Stream, never changing it.
	setup       events.Setup
	handler     http.Handler
	streamReady atomic.Bool
	// verified is the connection's reconnect count when the stream was last seen; a reconnect
	// since (NATS may have come back without it) makes the receiver not ready until rechecked.
	verified   atomic.Uint64
	checkEvery time.Duration
	cancel     context.CancelFunc
	done       sync.WaitGroup
}

// StartWebhook builds the receiver's handler and starts making sure the event stream exists. A
// NATS that is down makes the receiver not ready (and its webhooks answer 503, so registries
// retry), not failed. The caller owns nc and closes it after Close.
func StartWebhook(ctx context.Context, nc *nats.Conn, opts WebhookOptions) (*Webhook, error) {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if err := opts.checkAuth(opts.Log); err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	setupMetrics, err := events.NewSetupMetrics(opts.Metrics)
	if err != nil {
		return nil, err
	}
	w := &Webhook{opts: opts, nc: nc, js: js, checkEvery: streamCheckInterval,
		setup: events.Setup{JS: js, Options: opts.Stream, Log: opts.Log, Metrics: setupMetrics}}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.Use(middleware.Recover())
	// A replica that cannot publish should get no webhook traffic: it could only answer 503.
	e.GET("/health", echo.WrapHandler(process.HealthHandler(w.Ready)))
	if err := registerWebhook(e, nc, opts); err != nil {
		return nil, err
	}
	w.handler = e

	ctx, cancel := context.WithCancel(ctx)
	w.cancel = cancel
	w.done.Go(func() { w.keepStream(ctx) })
	opts.Log.Info("webhook receiver started", "auth", opts.Token != "", "github_signature", opts.GitHubSecret != "")
	return w, nil
}

// ErrNoWebhookToken is returned by StartWebhook and StartAllInOne when the webhook routes would
// accept anyone.
var ErrNoWebhookToken = errors.New("no webhook token: set EPR_WEBHOOK_TOKEN (or -webhook-token), " +
	"or pass -webhook-allow-unauthenticated to accept notifications from anyone who can reach the webhook routes")

// checkAuth refuses options that would serve the webhook routes to anyone without the operator
// having said so; the webhook receiver and the all-in-one both check it before starting.
func (o WebhookOptions) checkAuth(log *slog.Logger) error {
	switch {
	case o.Token != "":
		return nil
	case !o.AllowUnauthenticated:
		return ErrNoWebhookToken
	}
	log.Warn("webhook routes accept unauthenticated requests (-webhook-allow-unauthenticated): anyone who can reach them can post events")
	return nil
}

// registerWebhook adds the webhook handlers to r, publishing through nc. The standalone receiver
// and the all-in-one mode both register them here, from the same options.
func registerWebhook(r webhook.Router, nc *nats.Conn, opts WebhookOptions) error {
	pub, err := events.NewPublisher(nc, opts.PublishTimeout)
	if err != nil {
		return err
	}
	var metrics *webhook.Metrics
	if opts.Metrics != nil {
		if metrics, err = webhook.NewMetrics(opts.Metrics); err != nil {
			return err
		}
	}
	return webhook.Register(r, webhook.Config{
		Publisher:       pub,
		Token:           opts.Token,
		GitHubSecret:    opts.GitHubSecret,
		MaxBodyBytes:    opts.MaxBodyBytes,
		MaxRepositories: opts.MaxRepositories,
		BodyTimeout:     opts.BodyTimeout,
		Logger:          opts.Log,
		Metrics:         metrics,
	})
}

// Handler serves the webhooks and /health.
func (w *Webhook) Handler() http.Handler { return w.handler }

// Ready reports whether events can be published now: NATS connected and the stream set up.
func (w *Webhook) Ready() bool {
	return w.nc.IsConnected() && w.streamReady.Load() && w.nc.Stats().Reconnects == w.verified.Load()
}

// Close stops the stream set-up. Serve the handler no longer before closing the connection.
func (w *Webhook) Close() error {
	w.cancel()
	w.done.Wait()
	return nil
}

var errNotConnected = errors.New("nats not connected")

// keepStream sets the event stream up as soon as NATS is reachable, then checks every
// checkEvery, and after every reconnect, that it still exists; when it does not,
// readiness drops until it is set up again.
func (w *Webhook) keepStream(ctx context.Context) {
	log := w.opts.Log
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var checked time.Time
	for {
		// Attempting while disconnected would only wait out the timeout in nats.go's buffer.
		if w.nc.IsConnected() {
			r := w.nc.Stats().Reconnects
			if !w.streamReady.Load() || r != w.verified.Load() || time.Since(checked) >= w.checkEvery {
				if w.streamReady.Load() {
					if err := w.checkStream(ctx); err != nil && ctx.Err() == nil {
						w.streamReady.Store(false)
						log.Warn("event stream unavailable; setting it up again", "stream", events.StreamName, "err", err)
					}
				}
				if !w.streamReady.Load() {
					if err := retryUntilReady(ctx, log, "event stream", w.ensureStream); err != nil {
						return // ctx ended
					}
					w.streamReady.Store(true)
					log.Info("event stream ready", "stream", events.StreamName)
				}
				w.verified.Store(r)
				checked = time.Now()
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (w *Webhook) checkStream(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := w.js.Stream(ctx, events.StreamName)
	return err
}

func (w *Webhook) ensureStream(ctx context.Context) error {
	if !w.nc.IsConnected() {
		return errNotConnected
	}
	_, err := w.setup.Stream(ctx)
	return err
}
