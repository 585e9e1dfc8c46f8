package api

// The handlers of the API's own routes, one per route family; blobs and files are in files.go,
// queries in search.go.

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/oci-epr/package-registry/internal/packages"
)

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
		render: func(snap *Snapshot, f *Filter) ([]byte, error) { return searchBody(snap.Search(f)) },
		merge: func(snap *Snapshot, f *Filter, up []byte) ([]byte, error) {
			return mergeSearch(snap.Search(f), up, f.All)
		},
		failure: func(err error) string { return "fetching package failed: " + err.Error() },
	}
	categoriesRoute = queryRoute{
		label: "/categories", kind: kindCategories, parse: ParseCategoriesQuery,
		render: func(snap *Snapshot, f *Filter) ([]byte, error) { return packages.Encode(snap.Categories(f)) },
		merge: func(snap *Snapshot, f *Filter, up []byte) ([]byte, error) {
			return mergeCategories(snap.Categories(f), up)
		},
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
	label  string
	kind   byte
	parse  func(url.Values, bool) (*Filter, error)
	render func(*Snapshot, *Filter) ([]byte, error)
	// merge renders the answer merged with the upstream's body (nil when it has none).
	merge   func(*Snapshot, *Filter, []byte) ([]byte, error)
	failure func(error) string // the 404 body of a backend failure (epr-api.md §6)
}

// serveQuery answers a query route from the snapshot's response cache: first under the query as
// spelled, then under the normalised filter (aliasing the spelling to it), and renders only when
// neither is cached.
func (s *Server) serveQuery(c echo.Context, snap *Snapshot, q *queryRoute, cc []string) string {
	r := c.Request()
	key := cacheKey{q.kind, r.URL.RawQuery}
	proxied := s.cfg.Upstream != nil
	if resp, ok := snap.cache.get(key); ok && !proxied {
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
	if proxied {
		return s.serveProxiedQuery(c, snap, q, f, cc)
	}
	normal := cacheKey{q.kind, "\x00" + f.Key()}
	resp, err := snap.cache.render(normal, s.cfg.ResponseCacheBytes, true, func() ([]byte, error) { return q.render(snap, f) })
	if err != nil {
		s.log.Error("rendering a response failed", "route", q.label, "query", r.URL.RawQuery, "err", err)
		s.writeError(c, http.StatusNotFound, q.failure(err), ccNoStore)
		return q.label
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
	e, found := snap.Lookup(name, version)
	if !found {
		s.versionNotHeld(c)
		return label
	}
	resp, err := e.packageResponse(s.cfg.ResponseCacheBytes >= 0)
	if err != nil {
		s.log.Error("rendering package failed", "package", name, "version", version, "err", err)
		s.writeError(c, http.StatusInternalServerError, "internal server error", nil)
		return label
	}
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
	if !ok1 || !packages.IsValidName(name) {
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
