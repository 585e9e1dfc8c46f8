package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync/atomic"

	"github.com/labstack/echo/v4"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/oci-epr/package-registry/docs"
	"github.com/oci-epr/package-registry/internal/index"
	"github.com/oci-epr/package-registry/internal/packages"
)

// Blobs opens the blobs of indexed artifacts (zips, signatures) as local
// files; the caller closes them. cached tells whether the blob was on local
// disk already (epr_storage_requests_total's location, and the cache hit and
// miss counters). *oci.Blobs is the real one: it fetches a blob by digest on
// first use and keeps it on disk.
type Blobs interface {
	Open(ctx context.Context, repository string, desc ocispec.Descriptor) (f *os.File, cached bool, err error)
}

// Server is the EPR API. Its Echo can carry other routes (the webhooks in
// all-in-one mode): the API's middleware is attached per route, and its 404
// handler is echo's route-not-found fallback, so neither touches routes
// registered later.
type Server struct {
	cfg      Config
	log      *slog.Logger
	blobs    Blobs
	e        *echo.Echo
	catalog  *Catalog
	metrics  *metrics
	ready    atomic.Bool
	mockZips map[string][]byte
	archives *archiveCache

	indexResp   *cachedResponse
	openapiResp *cachedResponse
	ccIndex     []string
	ccSearch    []string
	ccCats      []string
	ccCatch     []string
	// routes maps the echo paths the API registered to their metric label.
	routes map[string]string
}

// New builds the server. blobs may be nil while only mock packages are
// served; reg may be nil (metrics are then kept but not exported).
func New(cfg Config, blobs Blobs, log *slog.Logger, reg prometheus.Registerer) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	instance := cfg.Instance
	if instance == "" {
		instance, _ = os.Hostname()
	}
	m, err := newMetrics(reg, cfg.ServiceVersion, instance)
	if err != nil {
		return nil, fmt.Errorf("api metrics: %w", err)
	}
	s := &Server{
		cfg: cfg, log: log, blobs: blobs, metrics: m,
		archives: newArchiveCache(cfg.OpenArchives, cfg.OpenArchiveBytes),
		ccIndex:  cacheControl(cfg.CacheTimeIndex),
		ccSearch: cacheControl(cfg.CacheTimeSearch),
		ccCats:   cacheControl(cfg.CacheTimeCategories),
		ccCatch:  cacheControl(cfg.CacheTimeCatchAll),
	}
	var mocks []*index.Record
	if cfg.MockFallback && cfg.Upstream == nil {
		if mocks, s.mockZips, err = mockPackages(mockTime); err != nil {
			return nil, err
		}
	}
	if s.catalog, err = NewCatalog(log, mocks); err != nil {
		return nil, err
	}
	s.catalog.onPublish = s.published
	// Metrics only: whether mock packages are served is known once the store is loaded
	// (Load), and a replica whose store holds an index must not say it has none.
	s.published(nil, s.catalog.Snapshot())

	info, err := packages.Encode(struct {
		Name    string `json:"service.name"`
		Version string `json:"service.version"`
	}{cfg.ServiceName, cfg.ServiceVersion})
	if err != nil {
		return nil, err
	}
	s.indexResp = newCachedResponse(info)
	s.openapiResp = newCachedResponse(docs.OpenAPI)
	s.routes = map[string]string{}
	s.e = echo.New()
	s.e.HideBanner, s.e.HidePort = true, true
	s.register()
	return s, nil
}

// Echo is the underlying echo instance, to mount more routes on the same
// server.
func (s *Server) Echo() *echo.Echo { return s.e }

// ServeHTTP serves the API (and whatever else is mounted on Echo).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.e.ServeHTTP(w, r) }

// Catalog is the query index, for inspection and tests.
func (s *Server) Catalog() *Catalog { return s.catalog }

// Load replaces the index with records (start-up). It does not make the
// server ready: call SetReady(true) once the initial load (or the first
// catch-up with the bucket) is complete.
func (s *Server) Load(records []*index.Record) {
	if n := s.catalog.Load(records); n > 0 {
		s.log.Warn("some index records were skipped", "skipped", n, "loaded", len(records)-n)
	}
	// Said here, once the start-up load is known, and not when New builds the empty Catalog:
	// a replica whose store holds an index must not announce that it has none.
	if snap := s.catalog.Snapshot(); snap.mock {
		s.warnMock(snap)
	}
}

// warnMock says that mock packages are served, and why.
func (s *Server) warnMock(snap *Snapshot) {
	s.log.Warn("no package is indexed: serving the built-in mock packages, marked with X-Package-Source: mock",
		"mock_packages", snap.count)
}

// Apply applies a batch of index changes (index.Follower.OnChange).
func (s *Server) Apply(changes []index.Change) { s.catalog.Apply(changes) }

// Reset drops every package (index.Follower.OnReset); mocks return if
// enabled until records arrive again.
func (s *Server) Reset() { s.catalog.Reset() }

// SetReady sets what /health?ready=true reports.
func (s *Server) SetReady(ready bool) { s.ready.Store(ready) }

// Ready reports the readiness flag.
func (s *Server) Ready() bool { return s.ready.Load() }

// SetRevision records the index revision applied (index.Follower.OnSynced)
// in epr_index_revision.
func (s *Server) SetRevision(rev uint64) { s.metrics.revision.Set(float64(rev)) }

// published runs after every index swap (under the catalog's writer lock).
func (s *Server) published(prev, next *Snapshot) {
	if next.mock {
		s.metrics.indexed.Set(0)
		s.metrics.mockMode.Set(1)
	} else {
		s.metrics.indexed.Set(float64(next.count))
		s.metrics.mockMode.Set(0)
	}
	switch {
	case next.mock && prev != nil && !prev.mock:
		s.warnMock(next)
	case !next.mock && prev != nil && prev.mock:
		s.log.Info("packages indexed: mock packages withdrawn", "packages", next.count)
	}
}
