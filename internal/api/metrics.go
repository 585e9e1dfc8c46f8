package api

import (
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics keeps EPR's metric names (epr-api.md §9) so dashboards built for
// EPR keep working, plus a few of our own.
type metrics struct {
	inFlight prometheus.Gauge
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	reqSize  *prometheus.HistogramVec
	respSize *prometheus.HistogramVec
	storage  *prometheus.CounterVec
	indexed  prometheus.Gauge
	revision prometheus.Gauge
	mockMode prometheus.Gauge
	// rangesIgnored counts Range headers on package files answered with the
	// whole file (ranges.go), by reason.
	rangesIgnored *prometheus.CounterVec
	cacheHit      prometheus.Counter
	cacheMiss     prometheus.Counter
}

var sizeBuckets = []float64{16, 32, 64, 128, 256, 512, 1024, 64 << 10, 256 << 10}

func newMetrics(reg prometheus.Registerer, version, instance string) (*metrics, error) {
	labels := []string{"code", "method", "path"}
	m := &metrics{
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{Name: "epr_in_flight_requests",
			Help: "Requests being served by the API routes."}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "epr_http_requests_total",
			Help: "HTTP requests served, by route template."}, labels),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "epr_http_request_duration_seconds",
			Help: "Time to serve a request.", Buckets: prometheus.DefBuckets}, labels),
		reqSize: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "epr_http_request_size_bytes",
			Help: "Approximate request size.", Buckets: sizeBuckets}, labels),
		respSize: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "epr_http_response_size_bytes",
			Help: "Response body size.", Buckets: sizeBuckets}, labels),
		storage: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "epr_storage_requests_total",
			Help: "Blob reads by where they were served from (local: memory or open archive; remote: through the blob store)."},
			[]string{"location", "component"}),
		indexed: prometheus.NewGauge(prometheus.GaugeOpts{Name: "epr_number_indexed_packages",
			Help: "Package versions in the index (mock packages not counted)."}),
		revision: prometheus.NewGauge(prometheus.GaugeOpts{Name: "epr_index_revision",
			Help: "Last index (key-value) revision this replica applied."}),
		mockMode: prometheus.NewGauge(prometheus.GaugeOpts{Name: "epr_mock_mode",
			Help: "1 while the built-in mock packages are served because the index is empty."}),
		rangesIgnored: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "epr_ignored_ranges_total",
			Help: "Range headers on package files answered with the whole file: too_many ranges, or unordered ones on a compressed file."},
			[]string{"reason"}),
	}
	info := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "epr_service_info",
		Help: "Service version and instance."}, []string{"version", "instance"})
	info.WithLabelValues(version, instance).Set(1)
	cs := []prometheus.Collector{info, m.inFlight, m.requests, m.duration, m.reqSize, m.respSize,
		m.storage, m.indexed, m.revision, m.mockMode, m.rangesIgnored}
	m.cacheHit = prometheus.NewCounter(prometheus.CounterOpts{Name: "epr_blob_cache_hits_total",
		Help: "Blob opens served from the local disk cache."})
	m.cacheMiss = prometheus.NewCounter(prometheus.CounterOpts{Name: "epr_blob_cache_misses_total",
		Help: "Blob opens that had to fetch from the registry."})
	cs = append(cs, m.cacheHit, m.cacheMiss)
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) observe(path, method string, code int, r *http.Request, respBytes int64, seconds float64) {
	c := codeString(code)
	mt := methodLabel(method)
	m.requests.WithLabelValues(c, mt, path).Inc()
	m.duration.WithLabelValues(c, mt, path).Observe(seconds)
	m.reqSize.WithLabelValues(c, mt, path).Observe(float64(requestSize(r)))
	m.respSize.WithLabelValues(c, mt, path).Observe(float64(respBytes))
}

// codeStrings avoids an allocation per request for the status label.
var codeStrings = func() (s [600]string) {
	for i := range s {
		s[i] = strconv.Itoa(i)
	}
	return
}()

func codeString(code int) string {
	if code >= 0 && code < len(codeStrings) {
		return codeStrings[code]
	}
	return strconv.Itoa(code)
}

// methodLabel bounds the label's cardinality: any method is served, but
// invented ones share one label value.
func methodLabel(m string) string {
	if isStandardMethod(m) {
		return m
	}
	return "OTHER"
}

func isStandardMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace, "PROPFIND", "REPORT":
		return true
	}
	return false
}

// requestSize approximates the bytes of the request as received.
func requestSize(r *http.Request) int {
	n := len(r.Method) + len(r.RequestURI) + len(r.Proto) + len(r.Host)
	if r.RequestURI == "" && r.URL != nil {
		n += len(r.URL.Path) + len(r.URL.RawQuery)
	}
	for k, vs := range r.Header {
		n += len(k)
		for _, v := range vs {
			n += len(v)
		}
	}
	if r.ContentLength > 0 {
		n += int(r.ContentLength)
	}
	return n
}
