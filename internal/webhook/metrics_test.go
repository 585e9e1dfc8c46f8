package webhook_test

import (
	"context"
	"path"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/oci-epr/package-registry/internal/events"
	"github.com/oci-epr/package-registry/internal/webhook"
)

type nopPublisher struct{}

func (nopPublisher) Publish(context.Context, ...events.Event) error { return nil }

// Every route's format has its request and event series from the first scrape, so a rate over
// them works before the first notification arrives.
func TestMetricsPrefilledForEveryRoute(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := webhook.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	e := echo.New()
	if err := webhook.Register(e, webhook.Config{Publisher: nopPublisher{}, Metrics: m}); err != nil {
		t.Fatal(err)
	}
	routes := 0
	for _, r := range e.Routes() {
		if r.Method != "POST" {
			continue
		}
		routes++
		format := path.Base(r.Path) // one route /webhooks/<format> each
		for _, series := range []struct{ metric, label, value string }{
			{"epr_webhook_requests_total", "outcome", webhook.OutcomePublished},
			{"epr_webhook_events_total", "result", webhook.ResultPublished},
		} {
			n, err := testutil.GatherAndCount(reg, series.metric)
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 || !hasSeries(t, reg, series.metric, map[string]string{"format": format, series.label: series.value}) {
				t.Errorf("%s has no %s{format=%q} series before any request", r.Path, series.metric, format)
			}
		}
	}
	if routes != 10 {
		t.Errorf("%d POST routes, want the 10 formats", routes)
	}
}

func hasSeries(t *testing.T, reg *prometheus.Registry, metric string, labels map[string]string) bool {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != metric {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue series
				}
			}
			return true
		}
	}
	return false
}
