package service

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/oci-epr/package-registry/internal/api"
	"github.com/oci-epr/package-registry/internal/events"
	"github.com/oci-epr/package-registry/internal/status"
)

// The status (internal/status) in each process: the indexer creates the status bucket and
// writes it (status.Publisher); an API replica binds it, reports itself in it and answers from
// it; every process's StatusReader reads it.

// ErrStatusNotReady means the process has not bound the status bucket yet (NATS is away, or the
// indexer has not created it).
var ErrStatusNotReady = errors.New("the status bucket is not bound yet (waiting for NATS and the indexer)")

// statusStore is the process's status store once the bucket is bound; until then every call
// fails with ErrStatusNotReady, so a reader can be handed out at start.
type statusStore struct{ kv atomic.Pointer[status.KV] }

func (s *statusStore) get() (*status.KV, error) {
	if kv := s.kv.Load(); kv != nil {
		return kv, nil
	}
	return nil, ErrStatusNotReady
}

func (s *statusStore) Put(ctx context.Context, key string, value []byte) error {
	kv, err := s.get()
	if err != nil {
		return err
	}
	return kv.Put(ctx, key, value)
}

func (s *statusStore) Delete(ctx context.Context, key string) error {
	kv, err := s.get()
	if err != nil {
		return err
	}
	return kv.Delete(ctx, key)
}

func (s *statusStore) List(ctx context.Context, filter string) (map[string][]byte, error) {
	kv, err := s.get()
	if err != nil {
		return nil, err
	}
	return kv.List(ctx, filter)
}

// catalogIndex answers status.Index from an API replica's Catalog: what it serves for
// name@version, from which repository and tag.
type catalogIndex struct{ catalog *api.Catalog }

func (c catalogIndex) Served(name, version string) (repository, tag, digest string, ok bool) {
	e, ok := c.catalog.Snapshot().Lookup(name, version)
	if !ok || e.IsMock() || e.Record() == nil {
		return "", "", "", false
	}
	r := e.Record()
	return r.Repository, r.Tag, r.ManifestDigest, true
}

// DefaultReplicaID names an API replica in the status: the host name (a pod's name on
// Kubernetes) and a short random suffix, so that two processes on one host differ.
func DefaultReplicaID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "api"
	}
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return host + "-" + hex.EncodeToString(b)
}

// replicaReport is an API replica's part of the status: it reports its applied revision every
// status.ReportEvery, shows its lag behind the index bucket, and removes its entry on a clean
// shutdown.
type replicaReport struct {
	id      string
	applied atomic.Uint64
	store   *statusStore
	lag     prometheus.Gauge
	log     *slog.Logger
}

func newReplicaReport(id string, reg prometheus.Registerer, log *slog.Logger) (*replicaReport, error) {
	lag, err := registerGauge(reg, prometheus.NewGauge(prometheus.GaugeOpts{Name: "epr_api_replica_lag_revisions",
		Help: "Revisions of the index bucket this API replica has not applied yet (the bucket's last revision less the applied one)."}))
	if err != nil {
		return nil, err
	}
	return &replicaReport{id: id, store: &statusStore{}, lag: lag, log: log}, nil
}

// run binds the status bucket (waiting for the indexer to create it), then reports until ctx
// ends, and deletes the replica's entry.
func (r *replicaReport) run(ctx context.Context, setup events.Setup, index jetstream.KeyValue) {
	if err := retryUntilReady(ctx, r.log, "status bucket", func(ctx context.Context) error {
		kv, err := setup.BindStatusBucket(ctx)
		if err != nil {
			return err
		}
		s, err := status.NewKV(ctx, kv, 0)
		if err != nil {
			return err
		}
		r.store.kv.Store(s)
		return nil
	}); err != nil {
		return
	}
	key := status.ReplicaKey(r.id)
	tick := time.NewTicker(status.ReportEvery)
	defer tick.Stop()
	for {
		r.report(ctx, key, index)
		select {
		case <-ctx.Done():
			// A clean shutdown removes the replica from the status; a crash leaves it to be
			// marked stale.
			dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := r.store.Delete(dctx, key); err != nil {
				r.log.Warn("removing this replica from the status failed", "err", err)
			}
			return
		case <-tick.C:
		}
	}
}

func (r *replicaReport) report(ctx context.Context, key string, index jetstream.KeyValue) {
	applied := r.applied.Load()
	if index != nil {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		if st, err := index.Status(sctx); err == nil {
			if bs, ok := st.(*jetstream.KeyValueBucketStatus); ok {
				last := bs.StreamInfo().State.LastSeq
				r.lag.Set(float64(last - min(last, applied)))
			}
		}
		cancel()
	}
	b, err := json.Marshal(status.Replica{ID: r.id, AppliedRevision: applied, UpdatedAt: time.Now().UTC()})
	if err == nil {
		err = r.store.Put(ctx, key, b)
	}
	if err != nil && ctx.Err() == nil {
		r.log.Warn("reporting this replica in the status failed", "err", err)
	}
}

// indexerFacts is what the indexer's status entry says beyond the indexer's own facts: the
// events waiting for it and the index bucket's last revision, each read with a deadline.
func indexerFacts(cons jetstream.Consumer, kv jetstream.KeyValue, pending prometheus.Gauge, own func() status.Indexer) func(ctx context.Context) status.Indexer {
	return func(ctx context.Context) status.Indexer {
		ix := own()
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if info, err := cons.Info(ctx); err == nil {
			ix.StreamPending = info.NumPending + uint64(info.NumAckPending)
			pending.Set(float64(ix.StreamPending))
		}
		if st, err := kv.Status(ctx); err == nil {
			if bs, ok := st.(*jetstream.KeyValueBucketStatus); ok {
				ix.IndexRevision = bs.StreamInfo().State.LastSeq
			}
		}
		return ix
	}
}

// registerGauge registers g on reg (nil: none), or returns the gauge registered before under
// its name (several parts of one process, or of one test, share a metrics registry).
func registerGauge(reg prometheus.Registerer, g prometheus.Gauge) (prometheus.Gauge, error) {
	if reg == nil {
		return g, nil
	}
	if err := reg.Register(g); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(prometheus.Gauge); ok {
				return existing, nil
			}
		}
		return nil, fmt.Errorf("metrics: %w", err)
	}
	return g, nil
}
