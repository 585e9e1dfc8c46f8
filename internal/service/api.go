package service

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"runtime/debug"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/oci-epr/package-registry/internal/api"
	"github.com/oci-epr/package-registry/internal/events"
	"github.com/oci-epr/package-registry/internal/index"
	"github.com/oci-epr/package-registry/internal/oci"
	"github.com/oci-epr/package-registry/internal/packages"
	"github.com/oci-epr/package-registry/internal/process"
	"github.com/oci-epr/package-registry/internal/status"
	"github.com/oci-epr/package-registry/internal/store"
	"github.com/oci-epr/package-registry/internal/upstream"
)

// APIOptions configures an API replica.
type APIOptions struct {
	Config  api.Config
	DataDir string
	// Registry is where zips and signatures are downloaded from; without it, downloads of real
	// packages fail (mock packages still work).
	Registry    oci.Config
	MaxZipBytes int64
	// Blobs, when set, replaces Registry: the indexer's in the same process, so a zip it
	// downloaded to parse is served without a second download or a second registry client.
	Blobs *oci.Blobs
	// Replicas is what the index bucket is expected to have (-nats-replicas): a replica never
	// creates or changes the bucket, it reports a difference.
	Replicas int
	// Proxy configures proxy mode (off unless Proxy.Enabled).
	Proxy upstream.Config
	// ReplicaID names this replica in the status (empty: DefaultReplicaID).
	ReplicaID string
	Log       *slog.Logger
	Metrics   prometheus.Registerer
	// GCPercent, when above 0, is the Go runtime's GC target set once the index is loaded (see
	// process.LoadedGCPercent); loading itself runs at the runtime's default, which is faster.
	GCPercent int
}

// API is a running API replica: its store, its HTTP server and the follower that keeps both in
// step with the index bucket.
type API struct {
	Server *api.Server
	db     *store.DB
	cancel context.CancelFunc
	done   sync.WaitGroup
	// settled is the first catch-up with the bucket, after which the memory it used is returned.
	settled sync.Once
	// replica reports this replica in the status and holds the status bucket once bound.
	replica *replicaReport
}

// StatusReader answers status queries in this process, from the status bucket (ErrStatusNotReady
// until it is bound), telling for each served tag what this replica's index serves.
func (a *API) StatusReader() status.Reader {
	return status.Reader{Store: a.replica.store, Index: catalogIndex{catalog: a.Server.Catalog()}}
}

// StartAPI opens the replica's store, serves what it holds at once, and follows the index bucket
// from the revision the store last applied. A NATS that is down leaves the replica serving its
// last index.
func StartAPI(ctx context.Context, nc *nats.Conn, opts APIOptions) (*API, error) {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if err := process.CheckDataDir(opts.DataDir); err != nil {
		return nil, err
	}
	var blobs api.Blobs
	switch {
	case opts.Blobs != nil:
		blobs = opts.Blobs
	case opts.Registry.Registry != "":
		client, err := oci.New(opts.Registry)
		if err != nil {
			return nil, err
		}
		opts.Log.Info("registry client", "registry", client.Host(), "credentials", client.Credentials())
		if opts.MaxZipBytes <= 0 {
			opts.MaxZipBytes = packages.DefaultLimits().MaxZipSize
		}
		cache, err := oci.NewBlobCache(BlobDir(opts.DataDir), opts.MaxZipBytes)
		if err != nil {
			return nil, err
		}
		blobs = &oci.Blobs{Cache: cache, Fetcher: client}
	}
	if opts.Proxy.Enabled {
		// The last good upstream answer serves degraded answers as long as a client may keep
		// a search answer anyway.
		opts.Proxy.KeepFor = cmp.Or(opts.Config.CacheTimeSearch, api.DefaultConfig().CacheTimeSearch)
		up, err := upstream.New(opts.Proxy, opts.Metrics)
		if err != nil {
			return nil, err
		}
		opts.Config.Upstream = up
		opts.Log.Info("proxy mode", "upstream", up.String())
	}
	db, err := store.OpenOrRebuild(filepath.Join(opts.DataDir, "api.db"), opts.Log)
	if err != nil {
		return nil, err
	}
	srv, err := api.New(opts.Config, blobs, opts.Log, opts.Metrics)
	if err != nil {
		db.Close()
		return nil, err
	}
	recs, err := index.Load(db, opts.Log)
	if err != nil {
		db.Close()
		return nil, err
	}
	srv.Load(recs)
	rev, _ := db.KVRevision()
	srv.SetRevision(rev)
	settle(db, opts.Log)
	if rev > 0 { // an index was loaded; a fresh replica waits for its catch-up
		tuneGC(opts.GCPercent, opts.Log)
	}
	// A replica that has applied the index before serves it at once (also while NATS is away); a
	// fresh one becomes ready when it has caught up with the bucket, so a load balancer does not
	// send it traffic while it would answer with mock packages.
	srv.SetReady(rev > 0)
	replica, err := newReplicaReport(cmp.Or(opts.ReplicaID, DefaultReplicaID()), opts.Metrics, opts.Log)
	if err != nil {
		db.Close()
		return nil, err
	}
	replica.applied.Store(rev)
	ctx, cancel := context.WithCancel(ctx)
	a := &API{Server: srv, db: db, cancel: cancel, replica: replica}
	a.done.Go(func() { a.follow(ctx, nc, opts) })
	return a, nil
}

func (a *API) follow(ctx context.Context, nc *nats.Conn, opts APIOptions) {
	js, err := jetstream.New(nc)
	if err != nil {
		opts.Log.Error("jetstream", "err", err)
		return
	}
	setupMetrics, err := events.NewSetupMetrics(opts.Metrics)
	if err != nil {
		opts.Log.Error("metrics", "err", err)
		return
	}
	// A replica only binds: the indexer creates the bucket, with its settings, and a replica
	// that finds none waits for it rather than create one with its own.
	setup := events.Setup{JS: js, Options: events.StreamOptions{Replicas: opts.Replicas}, Log: opts.Log, Metrics: setupMetrics}
	var kv jetstream.KeyValue
	if err := retryUntilReady(ctx, opts.Log, "index bucket", func(ctx context.Context) (err error) {
		kv, err = setup.BindBucket(ctx)
		if err != nil && !nc.IsConnected() {
			err = fmt.Errorf("%w (not connected to NATS at %s)", err, events.Target(nc))
		}
		return err
	}); err != nil {
		return
	}
	f := &index.Follower{
		Bucket:     index.OpenBucket(js, kv, 0),
		DB:         a.db,
		Log:        opts.Log,
		OnChange:   a.Server.Apply,
		OnReset:    a.Server.Reset,
		Reconnects: func() uint64 { return nc.Stats().Reconnects },
		OnApplied: func(rev uint64) {
			a.Server.SetRevision(rev)
			a.replica.applied.Store(rev)
		},
		OnSynced: func(rev uint64) {
			a.Server.SetRevision(rev)
			a.replica.applied.Store(rev)
			a.Server.SetReady(true)
			a.settled.Do(func() {
				settle(a.db, opts.Log)
				tuneGC(opts.GCPercent, opts.Log)
			})
		},
	}
	a.done.Go(func() { a.replica.run(ctx, setup, kv) })
	_ = f.Run(ctx)
}

// settle returns what loading or catching up with the whole index left behind: the bbolt
// pages read (mapped, so counted in RSS, and not read again) and the heap the records' decoding
// used (garbage the runtime would otherwise hand back to the system only slowly). A replica's
// RSS then starts from its live heap. Once per start: it costs a collection.
func settle(db *store.DB, log *slog.Logger) {
	if err := db.ReleasePages(); err != nil {
		log.Warn("releasing the store's pages failed", "err", err)
	}
	debug.FreeOSMemory()
}

// tuneGC sets the GC target of a loaded replica (n > 0), once its live heap is the catalogue.
func tuneGC(n int, log *slog.Logger) {
	if n > 0 && debug.SetGCPercent(n) != n {
		log.Info("GC target once loaded", "gc_percent", n)
	}
}

// Close stops following and closes the store.
func (a *API) Close() error {
	a.cancel()
	a.done.Wait()
	return a.db.Close()
}
