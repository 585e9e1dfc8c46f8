package webhook_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/oci-epr/package-registry/internal/events"
	"github.com/oci-epr/package-registry/internal/webhook"
)

// fanOutBody is one distribution envelope of repos pushes, each to its own repository, as in
// the 1 MB body that once named 7,000 repositories.
func fanOutBody(repos int) []byte {
	var b strings.Builder
	b.WriteString(`{"events":[`)
	for i := range repos {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":"ev-%d","action":"push","target":{"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
			`"digest":"sha256:%064x","size":1,"repository":"packages/fan%d","tag":"1.0.0"}}`, i, i, i)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

// One request can make the indexer list at most DefaultMaxRepositories repositories: the events
// of the others are dropped, logged with the bound and counted, and the request still succeeds
// (the registry must not retry it; the resync covers what was dropped).
func TestOneRequestNamesBoundedRepositories(t *testing.T) {
	r := newHandlerRig(t)
	const named = 3000
	body := fanOutBody(named)
	if len(body) > webhook.DefaultMaxBodyBytes {
		t.Fatalf("body of %d bytes is over the body bound", len(body))
	}
	rec := r.do(t, request{path: webhook.DistributionPath, body: body,
		header: withAuth(http.Header{"Content-Type": {webhook.DistributionMediaType}}, "Bearer "+testToken)})
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if _, published := r.pub.counts(); published != webhook.DefaultMaxRepositories {
		t.Errorf("published %d events, want the bound %d", published, webhook.DefaultMaxRepositories)
	}
	dropped := counterValue(t, r.reg, "epr_webhook_events_total", map[string]string{"format": events.FormatDistribution, "result": webhook.ResultDropped})
	if dropped != named-webhook.DefaultMaxRepositories {
		t.Errorf("dropped events counted %v, want %d", dropped, named-webhook.DefaultMaxRepositories)
	}
	if logs := r.logs.String(); !strings.Contains(logs, "limit=max_repositories") || !strings.Contains(logs, "first_dropped_repository=packages/fan100") {
		t.Errorf("no log line naming the bound and a dropped repository:\n%s", logs)
	}

	// Many events for few repositories are not cut: they cost one listing each repository.
	var b strings.Builder
	b.WriteString(`{"events":[`)
	for i := range 500 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":"same-%d","action":"push","target":{"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
			`"digest":"sha256:%064x","size":1,"repository":"packages/one","tag":"1.0.%d"}}`, i, i, i)
	}
	b.WriteString(`]}`)
	_, publishedBefore := r.pub.counts()
	rec = r.do(t, request{path: webhook.DistributionPath, body: []byte(b.String()),
		header: withAuth(http.Header{"Content-Type": {webhook.DistributionMediaType}}, "Bearer "+testToken)})
	if _, published := r.pub.counts(); rec.Code != http.StatusOK || published-publishedBefore != 500 {
		t.Errorf("500 events of one repository: status %d, published %d", rec.Code, published-publishedBefore)
	}
}
