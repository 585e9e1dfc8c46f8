package service

import (
	"log/slog"

	"github.com/labstack/echo/v4"

	"github.com/oci-epr/package-registry/internal/api"
	"github.com/oci-epr/package-registry/internal/process"
	"github.com/oci-epr/package-registry/internal/status"
)

// ServeStatus mounts the status routes answered from q (nil: 503 until the process has a
// status to give): on admin, the metrics listener, when it runs (nil: off); and on public, the
// API server, only when exp.Public, behind exp.Token. They are not EPR's routes, so they are
// never on the public address by default.
func ServeStatus(q status.Queries, exp status.Exposure, admin *process.Listener, public *api.Server, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := exp.Validate(); err != nil {
		return err
	}
	var where []string
	if admin != nil {
		h := status.NewHandler(q, status.HandlerOptions{Log: log})
		for _, pattern := range []string{status.PathOverall, status.PathOverall + "/"} {
			if err := admin.Mount(pattern, h); err != nil {
				return err
			}
		}
		where = append(where, "metrics listener")
	}
	if exp.Public && public != nil {
		h := echo.WrapHandler(status.NewHandler(q, status.HandlerOptions{Token: exp.Token, Log: log}))
		e := public.Echo()
		e.Any(status.PathOverall, h)
		e.Any(status.PathOverall+"/*", h)
		where = append(where, "public address (token required)")
	}
	if len(where) == 0 {
		log.Info("status routes not served: no -metrics-address" + publicHint(public))
		return nil
	}
	log.Info("status routes served", "path", status.PathOverall, "on", where)
	return nil
}

func publicHint(public *api.Server) string {
	if public == nil {
		return ""
	}
	return " and no -status-public"
}
