package webhook

import (
	"net/http"
	"regexp"

	"github.com/labstack/echo/v4"
)

// originPattern is what a WebHook-Request-Origin may hold: a DNS name, or "*".
var originPattern = regexp.MustCompile(`^(\*|[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*)$`)

// allowDelivery answers the CloudEvents webhook validation request (HTTP OPTIONS with
// WebHook-Request-Origin), which Event Grid sends before delivering in the CloudEvents schema:
// an authorized request is granted delivery from that origin at any rate.
func (h *handler) allowDelivery(format string) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		log := h.log.With("format", format, "remote", req.RemoteAddr)
		if !h.authorized(req, false) {
			log.Warn("webhook validation request rejected: missing or wrong token")
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="webhook"`)
			h.metrics.request(format, OutcomeUnauthorized)
			return c.String(http.StatusUnauthorized, "unauthorized")
		}
		origin := req.Header.Get("WebHook-Request-Origin")
		if len(origin) > 253 || !originPattern.MatchString(origin) {
			h.metrics.request(format, OutcomeBadRequest)
			return c.String(http.StatusBadRequest, "missing or invalid WebHook-Request-Origin")
		}
		hdr := c.Response().Header()
		hdr.Set("Allow", "POST, OPTIONS")
		hdr.Set("WebHook-Allowed-Origin", origin)
		hdr.Set("WebHook-Allowed-Rate", "*")
		log.Info("webhook handshake answered", "origin", origin)
		h.metrics.request(format, OutcomeHandshake)
		return c.NoContent(http.StatusOK)
	}
}
