package indexer

import "github.com/prometheus/client_golang/prometheus"

// Metrics counts what the indexer does. Names reuse EPR's where they mean the same thing, so
// existing dashboards keep working.
type Metrics struct {
	ReconcileSuccess prometheus.Counter
	ReconcileError   prometheus.Counter
	ReconcileSeconds prometheus.Histogram
	Rejected         *prometheus.CounterVec
	Published        prometheus.Counter
	Deleted          prometheus.Counter
	Downloads        prometheus.Counter
	// Conflicts counts repositories' copies of a name@version kept out of the index because the
	// other layout's copy is served (once per copy).
	Conflicts prometheus.Counter
	// SearchSkippedResolves counts tags a full reconcile did not resolve because the
	// registry's search index (Zot) confirmed their digest unchanged.
	SearchSkippedResolves prometheus.Counter
	// LimitHits counts the bounds on a registry's answers and on events' fan-out that were hit,
	// by limit (bounds.go): each one is also logged with its repository.
	LimitHits *prometheus.CounterVec
}

// NewMetrics registers the indexer's metrics on reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		ReconcileSuccess: prometheus.NewCounter(prometheus.CounterOpts{Name: "epr_storage_indexer_update_index_success_total", Help: "Repository reconciles that completed."}),
		ReconcileError:   prometheus.NewCounter(prometheus.CounterOpts{Name: "epr_storage_indexer_update_index_error_total", Help: "Repository reconciles that failed and will be retried."}),
		ReconcileSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "epr_storage_indexer_update_index_duration_seconds", Help: "Time to reconcile one repository.", Buckets: prometheus.DefBuckets}),
		Rejected:         prometheus.NewCounterVec(prometheus.CounterOpts{Name: "epr_indexer_rejected_artifacts_total", Help: "Artifacts not indexed because they broke a rule, by rule."}, []string{"rule"}),
		Published:        prometheus.NewCounter(prometheus.CounterOpts{Name: "epr_indexer_published_records_total", Help: "Package records put into the index bucket."}),
		Deleted:          prometheus.NewCounter(prometheus.CounterOpts{Name: "epr_indexer_deleted_records_total", Help: "Package records deleted from the index bucket."}),
		Downloads:        prometheus.NewCounter(prometheus.CounterOpts{Name: "epr_indexer_manifest_parses_total", Help: "Manifest digests fetched and parsed (each digest once)."}),
		Conflicts:        prometheus.NewCounter(prometheus.CounterOpts{Name: "epr_indexer_conflicts_total", Help: "Copies of a package version not served because another repository's copy takes precedence."}),
		SearchSkippedResolves: prometheus.NewCounter(prometheus.CounterOpts{Name: "epr_indexer_search_skipped_resolves_total",
			Help: "Tags not resolved with a HEAD during a full reconcile because the registry's search index confirmed their digest."}),
		LimitHits: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "epr_indexer_limit_hits_total",
			Help: "Bounds hit: registry answers too long or too slow (the reconcile failed, nothing deleted), or work an event asked for dropped, by limit."}, []string{"limit"}),
	}
	if reg != nil {
		reg.MustRegister(m.ReconcileSuccess, m.ReconcileError, m.ReconcileSeconds, m.Rejected, m.Published, m.Deleted, m.Downloads, m.Conflicts, m.SearchSkippedResolves, m.LimitHits)
	}
	return m
}
