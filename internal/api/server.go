package api

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/oci-epr/package-registry/docs"
	"github.com/oci-epr/package-registry/internal/index"
	"github.com/oci-epr/package-registry/internal/packages"
	"github.com/oci-epr/package-registry/internal/store"
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

// Header keys in canonical form, and shared read-only value slices: setting
// them by map assignment avoids an allocation per header per response.
const (
	hCacheControl = "Cache-Control"
	hContentType  = "Content-Type"
	hContentLen   = "Content-Length"
	hETag         = "Etag"
	hCORS         = "Access-Control-Allow-Origin"
	hSource       = "X-Package-Source"
	hNoSniff      = "X-Content-Type-Options"
)

var (
	valStar      = []string{"*"}
	valMock      = []string{"mock"}
	valJSON      = []string{"application/json"}
	valYAML      = []string{"application/yaml"}
	valTextPlain = []string{"text/plain; charset=utf-8"}
	valNoSniff   = []string{"nosniff"}
	ccNoStore    = []string{"max-age=0", "private, no-store"}
)

var packageNamePattern = regexp.MustCompile(`^[a-z0-9_]+$`)

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
	if cfg.MockFallback {
		if mocks, s.mockZips, err = mockPackages(mockTime); err != nil {
			return nil, err
		}
	}
	if s.catalog, err = NewCatalog(log, mocks); err != nil {
		return nil, err
	}
	s.catalog.onPublish = s.published
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

func cacheControl(d time.Duration) []string {
	return []string{"max-age=" + strconv.Itoa(int(d/time.Second)), "public"}
}

// handler serves one API route and returns the route template for the
// metrics, or "" when the request turned out not to match a route after all
// (a 404 page not found, which the metrics leave out).
type handler func(c echo.Context, snap *Snapshot) string

func (s *Server) register() {
	add := func(path, template string, h handler) {
		s.routes[path] = template
		s.e.Any(path, s.wrap(template, h))
		// echo answers 405 for a method a node has no handler for, unless
		// the node has its own not-found handler: ours re-dispatches as GET.
		s.e.RouteNotFound(path, s.notFound)
	}
	add("/", "/", s.handleIndex)
	add("/index.json", "/index.json", s.handleIndex)
	add("/health", "/health", s.handleHealth)
	add("/search", "/search", s.handleSearch)
	add("/categories", "/categories", s.handleCategories)
	add("/favicon.ico", "/favicon.ico", s.handleFavicon)
	add("/openapi.yaml", "/openapi.yaml", s.handleOpenAPI)
	add("/epr/:any/:file", "/epr/{any}/{file}", s.handleEPR)
	add("/package/:name/:version/", "/package/{n}/{v}/", s.handlePackage)
	add("/package/:name/:version/*", "/package/{n}/{v}/{file...}", s.handleFile)
	// A path that differs from a route by a trailing slash is redirected.
	for _, p := range []string{"/index.json", "/health", "/search", "/categories", "/favicon.ico", "/openapi.yaml"} {
		add(p+"/", p+"/", s.redirect(func(esc string) string { return strings.TrimSuffix(esc, "/") }))
	}
	add("/package/:name/:version", "/package/{n}/{v}", s.redirect(func(esc string) string { return esc + "/" }))
	s.e.RouteNotFound("/*", s.notFound)
}

// wrap is the per-route middleware: CORS, the mock marker, metrics, and a
// recover that keeps one bad request from taking the process down.
func (s *Server) wrap(template string, h handler) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		s.metrics.inFlight.Inc()
		defer s.metrics.inFlight.Dec()
		snap := s.catalog.Snapshot()
		w := c.Response()
		hdr := w.Header()
		hdr[hCORS] = valStar
		if snap.mock {
			hdr[hSource] = valMock
		}
		label := template
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.Error("panic while serving a request", "path", c.Request().URL.Path, "panic", p, "stack", string(debug.Stack()))
				if !w.Committed {
					s.writeError(c, http.StatusInternalServerError, "internal server error", nil)
				}
			}
			if label != "" {
				s.metrics.observe(label, c.Request().Method, w.Status, c.Request(), w.Size, time.Since(start).Seconds())
			}
		}()
		label = h(c, snap)
		return nil
	}
}

// notFound answers every path no route matches (echo's route-not-found
// fallback, so routes added to the Echo later take precedence).
func (s *Server) notFound(c echo.Context) error {
	r := c.Request()
	if !isStandardMethod(r.Method) {
		// echo only registers routes for its standard methods; EPR answers
		// any method like GET, so look the path up again as a GET.
		s.e.Router().Find(http.MethodGet, echo.GetPath(r), c)
		if _, ours := s.routes[c.Path()]; ours {
			return c.Handler()(c)
		}
	}
	if s.catalog.Snapshot().mock {
		c.Response().Header()[hSource] = valMock
	}
	s.pageNotFound(c)
	return nil
}

// pageNotFound is the router's 404: no CORS, unlike every matched route.
func (s *Server) pageNotFound(c echo.Context) string {
	c.Response().Header().Del(hCORS)
	s.writeError(c, http.StatusNotFound, "404 page not found", ccNoStore)
	return ""
}

// writeError writes a plain-text error; cc nil sends no Cache-Control.
func (s *Server) writeError(c echo.Context, status int, msg string, cc []string) {
	w := c.Response()
	h := w.Header()
	for _, k := range []string{hContentLen, hETag, "Last-Modified", "Content-Encoding", "Accept-Ranges"} {
		delete(h, k)
	}
	if cc == nil {
		delete(h, hCacheControl)
	} else {
		h[hCacheControl] = cc
	}
	h[hContentType] = valTextPlain
	h[hNoSniff] = valNoSniff
	w.WriteHeader(status)
	_, _ = io.WriteString(w, msg+"\n")
}

// writeJSON sends a prepared JSON response, or 304 when the client has it.
func (s *Server) writeJSON(c echo.Context, resp *cachedResponse, cc []string) {
	s.writeCached(c, resp, cc, valJSON)
}

// writeCached sends a prepared response of the given Content-Type, or 304 when the client has it.
func (s *Server) writeCached(c echo.Context, resp *cachedResponse, cc, contentType []string) {
	w := c.Response()
	h := w.Header()
	h[hCacheControl] = cc
	h[hETag] = resp.etagH
	if inm := c.Request().Header["If-None-Match"]; len(inm) > 0 && etagMatches(strings.Join(inm, ","), resp.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h[hContentType] = contentType
	h[hContentLen] = resp.length
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(resp.body)
}

func (s *Server) handleIndex(c echo.Context, _ *Snapshot) string {
	s.writeJSON(c, s.indexResp, s.ccIndex)
	return c.Path()
}

// handleHealth is liveness without a query and readiness with ready=true:
// 503 until the initial load is done. Mock mode is reported by the
// X-Package-Source: mock header every response carries then; the body stays
// empty as the contract wants.
func (s *Server) handleHealth(c echo.Context, _ *Snapshot) string {
	r := c.Request()
	if r.URL.RawQuery != "" {
		if probe, _ := strconv.ParseBool(r.URL.Query().Get("ready")); probe && !s.ready.Load() {
			s.writeError(c, http.StatusServiceUnavailable, "not ready", ccNoStore)
			return "/health"
		}
	}
	c.Response().WriteHeader(http.StatusOK)
	return "/health"
}

var (
	searchRoute = queryRoute{
		label: "/search", kind: kindSearch, parse: ParseSearchQuery,
		render:  func(snap *Snapshot, f *Filter) ([]byte, error) { return searchBody(snap.Search(f)) },
		failure: func(err error) string { return "fetching package failed: " + err.Error() },
	}
	categoriesRoute = queryRoute{
		label: "/categories", kind: kindCategories, parse: ParseCategoriesQuery,
		render:  func(snap *Snapshot, f *Filter) ([]byte, error) { return packages.Encode(snap.Categories(f)) },
		failure: func(err error) string { return err.Error() },
	}
)

func (s *Server) handleSearch(c echo.Context, snap *Snapshot) string {
	return s.serveQuery(c, snap, &searchRoute, s.ccSearch)
}

func (s *Server) handleCategories(c echo.Context, snap *Snapshot) string {
	return s.serveQuery(c, snap, &categoriesRoute, s.ccCats)
}

// queryRoute is what differs between /search and /categories.
type queryRoute struct {
	label   string
	kind    byte
	parse   func(url.Values, bool) (*Filter, error)
	render  func(*Snapshot, *Filter) ([]byte, error)
	failure func(error) string // the 404 body of a backend failure (epr-api.md §6)
}

// serveQuery answers a query route from the snapshot's response cache: first under the query as
// spelled, then under the normalised filter (aliasing the spelling to it), and renders only when
// neither is cached.
func (s *Server) serveQuery(c echo.Context, snap *Snapshot, q *queryRoute, cc []string) string {
	r := c.Request()
	key := cacheKey{q.kind, r.URL.RawQuery}
	if resp, ok := snap.cache.get(key); ok {
		s.writeJSON(c, resp, cc)
		return q.label
	}
	// url.URL.Query drops what it cannot parse (a bad escape, more parameters than net/url
	// accepts), which would answer a filter nobody asked for; a bad query is a 400 instead.
	values, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		s.writeError(c, http.StatusBadRequest, "invalid query: "+err.Error(), ccNoStore)
		return q.label
	}
	f, err := q.parse(values, s.cfg.AllowUnknownQueryParameters)
	if err != nil {
		s.writeError(c, http.StatusBadRequest, err.Error(), ccNoStore)
		return q.label
	}
	normal := cacheKey{q.kind, "\x00" + f.Key()}
	resp, ok := snap.cache.get(normal)
	if !ok {
		body, err := q.render(snap, f)
		if err != nil {
			s.log.Error("rendering a response failed", "route", q.label, "query", r.URL.RawQuery, "err", err)
			s.writeError(c, http.StatusNotFound, q.failure(err), ccNoStore)
			return q.label
		}
		resp = newCachedResponse(body)
		snap.cache.put(normal, resp, s.cfg.ResponseCacheBytes)
	}
	snap.cache.alias(key, resp, s.cfg.ResponseCacheBytes)
	s.writeJSON(c, resp, cc)
	return q.label
}

func (s *Server) handlePackage(c echo.Context, snap *Snapshot) string {
	const label = "/package/{n}/{v}/"
	name, version, ok := s.nameVersion(c)
	if !ok {
		return label
	}
	key := cacheKey{kindPackage, name + "/" + version}
	if resp, ok := snap.cache.get(key); ok {
		s.writeJSON(c, resp, s.ccIndex)
		return label
	}
	e, found := snap.Lookup(name, version)
	if !found {
		s.writeError(c, http.StatusNotFound, "package revision not found", ccNoStore)
		return label
	}
	body, err := packages.Encode(e.Package)
	if err != nil {
		s.log.Error("rendering package failed", "package", name, "version", version, "err", err)
		s.writeError(c, http.StatusInternalServerError, "internal server error", nil)
		return label
	}
	resp := newCachedResponse(body)
	snap.cache.put(key, resp, s.cfg.ResponseCacheBytes)
	s.writeJSON(c, resp, s.ccIndex)
	return label
}

// nameVersion reads and checks the {n} and {v} path parameters, answering
// the error itself when they are unusable.
func (s *Server) nameVersion(c echo.Context) (name, version string, ok bool) {
	name, ok1 := pathParam(c, "name")
	version, ok2 := pathParam(c, "version")
	if !ok2 || !packages.IsStrictSemver(version) {
		s.writeError(c, http.StatusBadRequest, "invalid package version", ccNoStore)
		return "", "", false
	}
	if !ok1 || !packageNamePattern.MatchString(name) {
		// EPR ends up here too for names outside [a-z0-9_]+ (upper case).
		s.writeError(c, http.StatusNotFound, "package revision not found", ccNoStore)
		return "", "", false
	}
	return name, version, true
}

// pathParam returns a path parameter decoded: echo matches on the escaped
// path when the request has escapes and then hands them out undecoded.
func pathParam(c echo.Context, name string) (string, bool) {
	v := c.Param(name)
	if c.Request().URL.RawPath == "" || !strings.Contains(v, "%") {
		return v, true
	}
	u, err := url.PathUnescape(v)
	return u, err == nil
}

// redirect answers 301 to target(escaped request path), query kept.
func (s *Server) redirect(target func(escapedPath string) string) handler {
	return func(c echo.Context, _ *Snapshot) string {
		r := c.Request()
		to := target(r.URL.EscapedPath())
		if r.URL.RawQuery != "" {
			to += "?" + r.URL.RawQuery
		}
		http.Redirect(c.Response(), r, to, http.StatusMovedPermanently)
		return s.routes[c.Path()]
	}
}

// handleOpenAPI serves docs/openapi.yaml, the description of this API. EPR has no such route;
// the media type is RFC 9512's.
func (s *Server) handleOpenAPI(c echo.Context, _ *Snapshot) string {
	s.writeCached(c, s.openapiResp, s.ccCatch, valYAML)
	return "/openapi.yaml"
}

func (s *Server) handleFavicon(c echo.Context, _ *Snapshot) string {
	w := c.Response()
	h := w.Header()
	h[hCacheControl] = s.ccCatch
	h[hContentType] = []string{"image/x-icon"}
	h[hContentLen] = []string{strconv.Itoa(len(favicon))}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(favicon)
	return "/favicon.ico"
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
}

// LoadStore loads every record of the local replica. Records that do not
// decode are logged and skipped, like in Load.
func (s *Server) LoadStore(db *store.DB) error {
	var recs []*index.Record
	err := db.ForEachPackage(func(key string, value []byte) error {
		r, err := index.Decode(value)
		if err != nil {
			s.log.Error("skipping undecodable record in the store", "key", key, "err", err)
			return nil
		}
		recs = append(recs, r)
		return nil
	})
	if err != nil {
		return fmt.Errorf("load store: %w", err)
	}
	s.Load(recs)
	return nil
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
	case next.mock && (prev == nil || !prev.mock):
		s.log.Warn("no package is indexed: serving the built-in mock packages, marked with X-Package-Source: mock",
			"mock_packages", next.count)
	case !next.mock && prev != nil && prev.mock:
		s.log.Info("packages indexed: mock packages withdrawn", "packages", next.count)
	}
}
