package webhook

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/oci-epr/package-registry/internal/events"
)

// Request outcomes, the values of the "outcome" label.
const (
	OutcomePublished    = "published"    // every kept event acknowledged by JetStream: 200
	OutcomeIgnored      = "ignored"      // nothing worth keeping: 200
	OutcomeHandshake    = "handshake"    // a sender's validation request, answered as it asks: 200
	OutcomeUnauthorized = "unauthorized" // 401
	OutcomeTooLarge     = "too_large"    // 413
	OutcomeBadRequest   = "bad_request"  // malformed body or unsupported content type: 400
	OutcomeUnavailable  = "unavailable"  // publish failed, the sender should retry: 503
)

// Event results, the values of the "result" label.
const (
	ResultPublished = "published" // acknowledged by JetStream
	ResultIgnored   = "ignored"   // dropped on purpose (pulls, blob events, ...)
	ResultRejected  = "rejected"  // in a malformed body; counted once per body, as it has no countable events
	ResultFailed    = "failed"    // kept, but the publish failed; the sender retries them
	ResultDropped   = "dropped"   // over a request's bound on repositories (Config.MaxRepositories)
)

// Metrics counts what the handlers do. Its label values are fixed sets, never request data.
type Metrics struct {
	requests *prometheus.CounterVec
	events   *prometheus.CounterVec
}

// NewMetrics creates the webhook metrics and registers them on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "epr",
			Subsystem: "webhook",
			Name:      "requests_total",
			Help:      "Webhook requests by notification format and outcome.",
		}, []string{"format", "outcome"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "epr",
			Subsystem: "webhook",
			Name:      "events_total",
			Help:      "Registry notifications by format and result (published, ignored, rejected, failed, dropped).",
		}, []string{"format", "result"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.events} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	// Create every series up front so that rates work from the first scrape.
	for _, f := range formats {
		for _, o := range []string{OutcomePublished, OutcomeIgnored, OutcomeHandshake, OutcomeUnauthorized, OutcomeTooLarge, OutcomeBadRequest, OutcomeUnavailable} {
			m.requests.WithLabelValues(f, o)
		}
		for _, r := range []string{ResultPublished, ResultIgnored, ResultRejected, ResultFailed, ResultDropped} {
			m.events.WithLabelValues(f, r)
		}
	}
	return m, nil
}

// formats are the formats of the routes Register mounts, one each
// (TestMetricsPrefilledForEveryRoute checks that none is missing).
var formats = []string{events.FormatDistribution, events.FormatZot, events.FormatHarbor, events.FormatGitHub,
	events.FormatArtifactory, events.FormatQuay, events.FormatDockerHub, events.FormatACR, events.FormatEventGrid,
	events.FormatGAR}

func (m *Metrics) request(format, outcome string) {
	if m != nil {
		m.requests.WithLabelValues(format, outcome).Inc()
	}
}

func (m *Metrics) event(format, result string, n int) {
	if m != nil && n > 0 {
		m.events.WithLabelValues(format, result).Add(float64(n))
	}
}
