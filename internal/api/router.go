package api

// Routing: the route table, the per-route middleware and the not-found fallback.

import (
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

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
			// Mock packages are placeholders until the replica reaches the index: no cache (a
			// CDN, a browser, a proxy in front of Fleet) may keep them past that moment.
			w.Before(func() { hdr[hCacheControl] = ccNoStore })
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
