package upstream

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	requests *prometheus.CounterVec
	answers  *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "epr_proxy_upstream_requests_total",
			Help: "Requests sent to the upstream registry, by route and outcome (ok, http_error, network_error, invalid)."},
			[]string{"route", "outcome"}),
		answers: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "epr_proxy_answers_total",
			Help: "Proxied answers by route and the upstream part's state (fresh, stale, missing)."},
			[]string{"route", "state"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.requests, m.answers} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
