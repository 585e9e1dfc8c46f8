package api

// How the API writes a response: shared header values, errors, and prepared (cached) bodies.

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

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
	hVary         = "Vary"

	hAcceptEncoding  = "Accept-Encoding"
	hContentEncoding = "Content-Encoding"
)

var (
	valStar      = []string{"*"}
	valMock      = []string{"mock"}
	valJSON      = []string{"application/json"}
	valYAML      = []string{"application/yaml"}
	valTextPlain = []string{"text/plain; charset=utf-8"}
	valNoSniff   = []string{"nosniff"}

	valAcceptEncoding = []string{"Accept-Encoding"}
	ccNoStore         = []string{"max-age=0", "private, no-store"}
)

func cacheControl(d time.Duration) []string {
	return []string{"max-age=" + strconv.Itoa(int(d/time.Second)), "public"}
}

// writeError writes a plain-text error; cc nil sends no Cache-Control.
func (s *Server) writeError(c echo.Context, status int, msg string, cc []string) {
	w := c.Response()
	h := w.Header()
	for _, k := range []string{hContentLen, hETag, "Last-Modified", hContentEncoding, "Accept-Ranges"} {
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

// writeCached sends a prepared response of the given Content-Type in the coding the client
// prefers, or 304 when the client has that form. A client sending no Accept-Encoding gets the
// bytes as rendered, as from EPR.
func (s *Server) writeCached(c echo.Context, resp *cachedResponse, cc, contentType []string) {
	w := c.Response()
	h := w.Header()
	req := c.Request()
	c0 := codingIdentity
	if resp.varies() {
		h[hVary] = valAcceptEncoding
		c0 = negotiateCoding(req.Header[hAcceptEncoding])
	}
	form, err := resp.in(c0)
	if err != nil {
		s.log.Error("rendering a response again failed", "path", req.URL.Path, "err", err)
		s.writeError(c, http.StatusInternalServerError, "internal server error", nil)
		return
	}
	h[hCacheControl] = cc
	h[hETag] = form.etagH
	if inm := req.Header["If-None-Match"]; len(inm) > 0 && etagMatches(strings.Join(inm, ","), form.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h[hContentType] = contentType
	h[hContentLen] = form.length
	if form.ce != nil {
		h[hContentEncoding] = form.ce
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(form.body)
}
