package service

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"

	"github.com/nats-io/nats.go"

	"github.com/oci-epr/package-registry/internal/events"
	"github.com/oci-epr/package-registry/internal/process"
	"github.com/oci-epr/package-registry/internal/status"
)

// AllInOneOptions configures the single-process mode: embedded NATS (unless a URL is given), the
// indexer, an API replica, and the webhook routes on the API's server.
type AllInOneOptions struct {
	API     APIOptions
	Indexer IndexerOptions
	// DataDir holds nats/, indexer/ and api/ subdirectories.
	DataDir string
	// NATSURL selects an external NATS server; empty starts an embedded one.
	NATSURL string
	// EmbeddedNATSAddress is where the embedded server listens (host:port, port -1 = random).
	EmbeddedNATSAddress string
	// Webhook configures the webhook routes exactly as the standalone receiver's (its Stream is
	// unused: the indexer sets the stream up).
	Webhook WebhookOptions
	Log     *slog.Logger
}

// AllInOne is the running single-process pipeline.
type AllInOne struct {
	API     *API
	Indexer *Indexer
	NATS    *events.Embedded
	Conn    *nats.Conn
}

// StartAllInOne wires the same parts the three binaries run, in one process.
func StartAllInOne(ctx context.Context, opts AllInOneOptions) (_ *AllInOne, err error) {
	a := &AllInOne{}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	// A layout has no registry to send notifications: no webhook routes, no token needed.
	webhooks := opts.Indexer.Layout == ""
	if webhooks {
		if err := opts.Webhook.checkAuth(opts.Log); err != nil {
			return nil, err
		}
	}
	// Checked first: the embedded NATS server, the stores and the blob cache all live there.
	if err := process.CheckDataDir(opts.DataDir); err != nil {
		return nil, err
	}
	url := opts.NATSURL
	if url == "" {
		addr := opts.EmbeddedNATSAddress
		if addr == "" {
			addr = "127.0.0.1:-1"
		}
		if a.NATS, err = events.StartEmbedded(events.EmbeddedOptions{StoreDir: filepath.Join(opts.DataDir, "nats"), Address: addr}); err != nil {
			return nil, err
		}
		url = a.NATS.ClientURL()
		opts.Log.Info("embedded NATS started", "url", url)
	}
	if a.Conn, err = events.Connect(url, "epr-all-in-one", opts.Log); err != nil {
		return nil, err
	}
	opts.Indexer.DataDir = filepath.Join(opts.DataDir, "indexer")
	opts.Indexer.Log = opts.Log
	if a.Indexer, err = StartIndexer(ctx, a.Conn, opts.Indexer); err != nil {
		return nil, err
	}
	opts.API.DataDir = filepath.Join(opts.DataDir, "api")
	opts.API.Blobs = a.Indexer.Blobs()
	opts.API.Log = opts.Log
	if a.API, err = StartAPI(ctx, a.Conn, opts.API); err != nil {
		return nil, err
	}
	if !webhooks {
		opts.Log.Info("reading an OCI layout: no webhook routes (the resync picks up changes)")
		return a, nil
	}
	// The indexer sets the event stream up, so the webhooks need no set-up of their own here.
	opts.Webhook.Log = opts.Log
	if err = registerWebhook(a.API.Server.Echo(), a.Conn, opts.Webhook); err != nil {
		return nil, err
	}
	return a, nil
}

// StatusReader answers status queries in the all-in-one: the API replica's reader, which also
// tells what its index serves.
func (a *AllInOne) StatusReader() status.Reader { return a.API.StatusReader() }

// Ready reports whether every part is ready.
func (a *AllInOne) Ready() bool {
	return a.Conn.IsConnected() && a.Indexer.Ready() && a.API.Server.Ready()
}

// Close stops everything in reverse order.
func (a *AllInOne) Close() error {
	var err error
	if a.API != nil {
		err = errors.Join(err, a.API.Close())
	}
	if a.Indexer != nil {
		err = errors.Join(err, a.Indexer.Close())
	}
	if a.Conn != nil {
		a.Conn.Close()
	}
	if a.NATS != nil {
		a.NATS.Shutdown()
	}
	return err
}
