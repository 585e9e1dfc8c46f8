package service

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/oci-epr/package-registry/internal/events"
	"github.com/oci-epr/package-registry/internal/flagenv"
	"github.com/oci-epr/package-registry/internal/index"
	"github.com/oci-epr/package-registry/internal/indexer"
	"github.com/oci-epr/package-registry/internal/oci"
	"github.com/oci-epr/package-registry/internal/packages"
	"github.com/oci-epr/package-registry/internal/process"
	"github.com/oci-epr/package-registry/internal/retry"
	"github.com/oci-epr/package-registry/internal/status"
	"github.com/oci-epr/package-registry/internal/store"
	"github.com/oci-epr/package-registry/internal/webhook"
)

// IndexerOptions configures the indexer service.
type IndexerOptions struct {
	Registry oci.Config
	// Layout, when set, is an OCI image layout directory read instead of a registry
	// (-oci-layout): served as the base repository, picked up by the periodic resync.
	Layout string
	// Repository is the base repository of the package layout (-oci-repository).
	Repository string
	// Repositories are reconciled on every sync in addition to discovered ones.
	Repositories   []string
	DataDir        string
	ResyncInterval time.Duration
	Parallelism    int
	// ReconcileTimeout bounds one reconcile of one repository (0: indexer.DefaultReconcileTimeout).
	ReconcileTimeout time.Duration
	MaxZipBytes      int64
	// DisablePackageValidation skips EPR's content validation; the structural rules stay on.
	DisablePackageValidation bool
	// RequirePackageSignatures keeps a version out until its signature is found.
	RequirePackageSignatures bool
	Stream                   events.StreamOptions
	Log                      *slog.Logger
	Metrics                  prometheus.Registerer
}

// RegisterFlags defines the indexer role's flags on fs, writing into o: the registry connection,
// the layout, the resync and the limits. cmd/indexer and the all-in-one cmd/api both call it, so
// the two configure the indexer from the same flags with the same defaults; the data directory
// is each command's own.
func (o *IndexerOptions) RegisterFlags(fs *flag.FlagSet) {
	o.Registry.RegisterFlags(fs)
	fs.StringVar(&o.Layout, "oci-layout", "", "OCI image layout directory to read packages from instead of -oci-registry (tags <name>-<version>; changes picked up by the resync)")
	fs.StringVar(&o.Repository, "oci-repository", "packages", "base repository of the packages")
	fs.Func("oci-repositories", "comma-separated repositories to reconcile on every sync, besides those discovered", func(v string) error {
		o.Repositories = flagenv.List(v)
		return nil
	})
	fs.DurationVar(&o.ResyncInterval, "resync-interval", 10*time.Minute, "full resync period (0 disables)")
	fs.IntVar(&o.Parallelism, "parallelism", 4, "repositories reconciled at once (repositories that ran out of time share half of them)")
	fs.DurationVar(&o.ReconcileTimeout, "reconcile-timeout", indexer.DefaultReconcileTimeout, "deadline of one reconcile of one repository (list, fetch, publish); a repository that runs out is retried later and deletes nothing")
	fs.Int64Var(&o.MaxZipBytes, "max-zip-bytes", packages.DefaultLimits().MaxZipSize, "largest package zip read or served")
	fs.BoolVar(&o.DisablePackageValidation, "disable-package-validation", false,
		"index packages EPR's content validation refuses (required fields, fields files, dashed directories, missing images); paths, sizes and identity are checked regardless")
	fs.BoolVar(&o.RequirePackageSignatures, "require-package-signatures", false,
		"serve a version only once its signature (layer or referrer) is in the registry; off suits registries of custom unsigned packages")
	fs.IntVar(&o.Stream.Replicas, "nats-replicas", 1, "replicas of the stream, consumer and bucket when this process creates them (3 on a NATS cluster); existing ones keep their own, and a difference is logged")
}

// Indexer is a running indexer service.
type Indexer struct {
	opts   IndexerOptions
	db     *store.DB
	source packageSource
	// tagDigests is the registry's search index (Zot), nil when there is none to ask.
	tagDigests func(ctx context.Context, repository string) (map[string]string, error)
	blobs      *oci.Blobs
	ready      atomic.Bool
	cancel     context.CancelFunc
	done       sync.WaitGroup
	ix         atomic.Pointer[indexer.Indexer]
	// status is the status bucket once set up; the indexer writes it.
	status        *statusStore
	statusMetrics *status.PublisherMetrics
	// pub writes the status once the bucket is set up.
	pub           atomic.Pointer[status.Publisher]
	streamPending prometheus.Gauge
}

// StatusReader answers status queries in this process, from the status bucket (ErrStatusNotReady
// until it is set up).
func (s *Indexer) StatusReader() status.Reader { return status.Reader{Store: s.status} }

// BlobDir is the blob cache directory under a data directory.
func BlobDir(dataDir string) string { return filepath.Join(dataDir, "blobs") }

// StartIndexer opens the indexer's store and registry client, then — as soon as NATS is
// reachable — sets up the stream, consumer and bucket, consumes events and runs the resync loop.
// A NATS that is down makes the service not ready, not failed.
func StartIndexer(ctx context.Context, nc *nats.Conn, opts IndexerOptions) (*Indexer, error) {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.MaxZipBytes <= 0 {
		opts.MaxZipBytes = packages.DefaultLimits().MaxZipSize
	}
	if err := process.CheckDataDir(opts.DataDir); err != nil {
		return nil, err
	}
	var src packageSource
	var tagDigests func(ctx context.Context, repository string) (map[string]string, error)
	if opts.Layout != "" {
		layout, err := oci.OpenLayout(opts.Layout, opts.Repository)
		if err != nil {
			return nil, err
		}
		src = layout
		opts.Log.Info("reading an OCI layout", "dir", opts.Layout, "served as", opts.Repository)
	} else {
		client, err := oci.New(opts.Registry)
		if err != nil {
			return nil, err
		}
		// Repositories as the registry serves them ("nginx" on Docker Hub is "library/nginx"), so
		// that records, events and listings all name one repository the same way.
		opts.Repository = client.CanonicalRepository(opts.Repository)
		repos := make([]string, len(opts.Repositories))
		for i, r := range opts.Repositories {
			repos[i] = client.CanonicalRepository(r)
		}
		opts.Repositories = repos
		opts.Log.Info("registry client", "registry", client.Host(), "credentials", client.Credentials())
		src, tagDigests = client, searchTagDigests(client)
	}
	cache, err := oci.NewBlobCache(BlobDir(opts.DataDir), opts.MaxZipBytes)
	if err != nil {
		return nil, err
	}
	db, err := store.OpenOrRebuild(filepath.Join(opts.DataDir, "indexer.db"), opts.Log)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	s := &Indexer{opts: opts, db: db, source: src, tagDigests: tagDigests, blobs: &oci.Blobs{Cache: cache, Fetcher: src}, cancel: cancel,
		status: &statusStore{}}
	metrics := indexer.NewMetrics(opts.Metrics)
	s.statusMetrics = status.NewPublisherMetrics(opts.Metrics)
	if s.streamPending, err = registerGauge(opts.Metrics, prometheus.NewGauge(prometheus.GaugeOpts{Name: "epr_indexer_stream_pending",
		Help: "Events in the stream the indexer has not handled yet (its consumer's pending and unacknowledged events)."})); err != nil {
		cancel()
		db.Close()
		return nil, err
	}
	s.done.Go(func() { s.run(ctx, nc, metrics) })
	return s, nil
}

// packageSource is where the indexer reads packages: a registry (*oci.Client) or an OCI
// layout directory (*oci.Layout).
type packageSource interface {
	indexer.Registry
	oci.BlobFetcher
	Repositories(ctx context.Context) ([]string, error)
	Host() string
}

// searchTagDigests adapts the registry client's search (Zot) to what the indexer asks of it.
func searchTagDigests(client *oci.Client) func(ctx context.Context, repository string) (map[string]string, error) {
	return func(ctx context.Context, repository string) (map[string]string, error) {
		found, err := client.SearchTagDigests(ctx, repository)
		if err != nil {
			return nil, err
		}
		out := make(map[string]string, len(found))
		for tag, d := range found {
			out[tag] = d.Digest.String()
		}
		return out, nil
	}
}

// Ready reports whether events are being consumed and the start-up resync has ended, so that a
// fresh all-in-one is not sent traffic while its index still lacks what the registry holds.
func (s *Indexer) Ready() bool {
	ix := s.ix.Load()
	return s.ready.Load() && ix != nil && ix.SyncedOnce()
}

// Blobs is where the indexer downloads zips; an API in the same process serves from it, so a zip
// fetched to be parsed is not fetched again to be served.
func (s *Indexer) Blobs() *oci.Blobs { return s.blobs }

// Close stops consuming and resyncing and closes the store.
func (s *Indexer) Close() error {
	s.cancel()
	s.done.Wait()
	if ix := s.ix.Load(); ix != nil {
		ix.Close()
	}
	return s.db.Close()
}

func (s *Indexer) run(ctx context.Context, nc *nats.Conn, metrics *indexer.Metrics) {
	log := s.opts.Log
	js, err := jetstream.New(nc)
	if err != nil {
		log.Error("jetstream", "err", err)
		return
	}
	setupMetrics, err := events.NewSetupMetrics(s.opts.Metrics)
	if err != nil {
		log.Error("metrics", "err", err)
		return
	}
	// The indexer owns the consumer and the bucket and, with the webhook, the stream: it creates
	// what is missing and binds to what exists, never changing how durable it is.
	setup := events.Setup{JS: js, Options: s.opts.Stream, Log: log, Metrics: setupMetrics}
	var cons jetstream.Consumer
	var kv jetstream.KeyValue
	ensure := func(ctx context.Context) error {
		if _, err := setup.Stream(ctx); err != nil {
			return err
		}
		var err error
		if cons, err = setup.Consumer(ctx); err != nil {
			return err
		}
		kv, err = setup.Bucket(ctx)
		return err
	}
	if retryUntilReady(ctx, log, "event stream and index bucket", ensure) != nil {
		return // ctx ended
	}
	sink := &statusSink{}
	ix := indexer.New(indexer.Config{
		Layout:   indexer.Layout{Base: s.opts.Repository},
		Registry: s.source,
		Blobs:    s.blobs,
		Bucket:   index.OpenBucket(js, kv, maxInline(nc)),
		DB:       s.db,
		Limits:   packages.Limits{MaxZipSize: s.opts.MaxZipBytes},
		Policy: indexer.Policy{
			DisableContentValidation: s.opts.DisablePackageValidation,
			RequireSignatures:        s.opts.RequirePackageSignatures,
		},
		Catalog:          s.source.Repositories,
		TagDigests:       s.tagDigests,
		Repositories:     s.opts.Repositories,
		Parallelism:      s.opts.Parallelism,
		ReconcileTimeout: s.opts.ReconcileTimeout,
		Debounce:         10 * time.Millisecond,
		Log:              log,
		Metrics:          metrics,
		Status:           sink,
	})
	s.ix.Store(ix)
	// What the indexer concludes is published for people (internal/status), seeded from the
	// status bucket before the start-up resync reports, so that a restart rewrites nothing
	// unchanged. A status bucket that cannot be set up holds indexing up for statusWait at most:
	// until it is, reconciles are not told, and the next resync tells them.
	statusReady := make(chan struct{})
	s.done.Go(func() {
		s.runStatus(ctx, setup, sink, statusReady, indexerFacts(cons, kv, s.streamPending, ix.StatusFacts))
	})
	select {
	case <-statusReady:
	case <-ctx.Done():
		return
	case <-time.After(statusWait):
		log.Warn("the status bucket is not set up yet; indexing without it until it is", "waited", statusWait)
	}
	s.done.Go(func() { ix.RunResync(ctx, s.opts.ResyncInterval) })
	log.Info("indexer consuming events", "registry", s.source.Host(), "repository", s.opts.Repository)
	for ctx.Err() == nil {
		cc, err := events.Consume(ctx, cons, log, ix.HandleEvent, webhook.DecodeStreamMessage)
		if err != nil {
			log.Warn("consuming events failed; retrying", "err", err)
		} else {
			s.ready.Store(true)
			s.watchConsumer(ctx, cons)
			s.ready.Store(false)
			cc.Stop()
		}
		if ctx.Err() != nil {
			return
		}
		// The stream or consumer is gone (e.g. NATS restarted with an empty store): set them up
		// again; the resync repairs whatever was missed meanwhile, the status' verification what
		// the status bucket lost.
		if retryUntilReady(ctx, log, "event stream and consumer", ensure) != nil {
			return
		}
		if _, err := setup.StatusBucket(ctx); err != nil {
			log.Warn("setting the status bucket up again failed", "err", err)
		}
	}
}

// statusWait bounds how long the indexer waits for the status bucket before it starts indexing.
var statusWait = 30 * time.Second

// statusSink tells the publisher what each reconcile concluded, once the status bucket is set
// up; before, reports are dropped (the next resync tells them again).
type statusSink struct {
	pub atomic.Pointer[status.Publisher]
}

func (s *statusSink) Report(r status.Report) {
	if p := s.pub.Load(); p != nil {
		p.Report(r)
	}
}

// runStatus sets the status bucket up (the indexer owns it), seeds the publisher from it,
// closes ready, and writes the status until ctx ends.
func (s *Indexer) runStatus(ctx context.Context, setup events.Setup, sink *statusSink, ready chan struct{}, facts func(context.Context) status.Indexer) {
	log := s.opts.Log
	pub := &status.Publisher{Log: log, Metrics: s.statusMetrics, Facts: facts}
	if retryUntilReady(ctx, log, "status bucket", func(ctx context.Context) error {
		skv, err := setup.StatusBucket(ctx)
		if err != nil {
			return err
		}
		kvs, err := status.NewKV(ctx, skv, 0)
		if err != nil {
			return err
		}
		pub.Store = kvs
		if err := pub.Seed(ctx); err != nil {
			return err
		}
		s.status.kv.Store(kvs)
		return nil
	}) != nil {
		return
	}
	s.pub.Store(pub)
	sink.pub.Store(pub)
	close(ready)
	pub.Run(ctx)
}

// watchConsumer returns when ctx ends or the consumer no longer exists on the server.
func (s *Indexer) watchConsumer(ctx context.Context, cons jetstream.Consumer) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(consumerCheckInterval):
		}
		ictx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := cons.Info(ictx)
		cancel()
		if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) {
			s.opts.Log.Warn("event consumer disappeared; setting it up again", "err", err)
			return
		}
	}
}

// consumerCheckInterval is how often the indexer checks that its consumer still exists.
var consumerCheckInterval = 15 * time.Second

// maxInline keeps index values inside the server's message limit with room for headers.
func maxInline(nc *nats.Conn) int {
	if mp := nc.MaxPayload(); mp > 0 {
		return int(mp) - 16<<10
	}
	return 0
}

// retry runs fn until it succeeds or ctx ends, backing off up to a few seconds.
func retryUntilReady(ctx context.Context, log *slog.Logger, what string, fn func(context.Context) error) error {
	return retry.Policy{First: 250 * time.Millisecond, Max: 5 * time.Second, Attempt: 10 * time.Second,
		OnRetry: func(err error, pause time.Duration) {
			log.Warn(what+" not ready; retrying", "in", pause, "err", err)
		}}.Do(ctx, fn)
}
