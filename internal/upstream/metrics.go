package upstream

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	requests     *prometheus.CounterVec
	answers      *prometheus.CounterVec
	evictions    *prometheus.CounterVec
	cacheBytes   prometheus.Gauge
	cacheEntries prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "epr_proxy_upstream_requests_total",
			Help: "Requests sent to the upstream registry, by route and outcome (ok, http_error, network_error, invalid)."},
			[]string{"route", "outcome"}),
		answers: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "epr_proxy_answers_total",
			Help: "Proxied answers by route and the upstream part's state (fresh, stale, missing)."},
			[]string{"route", "state"}),
		evictions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "epr_proxy_cache_evictions_total",
			Help: "Upstream answers dropped from the cache, by reason: expired (nothing left to offer), bytes (over -proxy-cache-bytes) or entries (over the entry bound)."},
			[]string{"reason"}),
		cacheBytes: prometheus.NewGauge(prometheus.GaugeOpts{Name: "epr_proxy_cache_bytes",
			Help: "Bytes of upstream answers kept, bounded by -proxy-cache-bytes."}),
		cacheEntries: prometheus.NewGauge(prometheus.GaugeOpts{Name: "epr_proxy_cache_entries",
			Help: "Upstream queries remembered."}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.requests, m.answers, m.evictions, m.cacheBytes, m.cacheEntries} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
