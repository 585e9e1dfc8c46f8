package webhook_test

import (
	"archive/zip"
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/nats-io/nats.go/jetstream"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/memory"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/oci-epr/package-registry/internal/devregistry"
	"github.com/oci-epr/package-registry/internal/events"
	"github.com/oci-epr/package-registry/internal/testkit"
	"github.com/oci-epr/package-registry/internal/webhook"
)

const (
	pkgRepository   = "packages/nginx"
	pkgArtifactType = "application/vnd.elastic.package.v1"
	pkgLayerType    = "application/vnd.elastic.package.content.v1+zip"
	ociManifestType = "application/vnd.oci.image.manifest.v1+json"
)

// pipeline is a distribution registry whose notifications go to the webhook handlers, which
// publish into an embedded NATS.
type pipeline struct {
	nats     *natsStack
	pub      *countingPublisher
	statuses *statusCounter
	logs     *testkit.SyncBuffer
	registry *devregistry.Registry
	repo     *remote.Repository
}

func newPipeline(t *testing.T) *pipeline {
	t.Helper()
	p := &pipeline{nats: newNATSStack(t), statuses: &statusCounter{}, logs: &testkit.SyncBuffer{}}
	p.pub = &countingPublisher{next: p.nats.pub}
	e := echo.New()
	if err := webhook.Register(e, webhook.Config{Publisher: p.pub, Token: testToken, Logger: debugLogger(p.logs)}); err != nil {
		t.Fatal(err)
	}
	hook := httptest.NewServer(p.statuses.wrap(e))
	t.Cleanup(hook.Close)

	reg, err := devregistry.Start(t.Context(), devregistry.Options{
		Notifications: []devregistry.Notification{{
			URL:       hook.URL + webhook.DistributionPath,
			Headers:   http.Header{"Authorization": {"Bearer " + testToken}},
			Timeout:   2 * time.Second,
			Threshold: 3,
			Backoff:   100 * time.Millisecond,
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	// Registered after the webhook server's cleanup, so it runs first.
	t.Cleanup(func() { _ = reg.Close() })
	p.registry = reg
	if p.repo, err = remote.NewRepository(reg.Host() + "/" + pkgRepository); err != nil {
		t.Fatal(err)
	}
	p.repo.PlainHTTP = true
	return p
}

// pushPackage pushes a package zip and its manifest, by tag, the way a release job would.
func (p *pipeline) pushPackage(t *testing.T, ctx context.Context, version string) ocispec.Descriptor {
	t.Helper()
	var zipped bytes.Buffer
	zw := zip.NewWriter(&zipped)
	f, err := zw.Create("nginx-" + version + "/manifest.yml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("name: nginx\nversion: " + version + "\n")); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	layer := content.NewDescriptorFromBytes(pkgLayerType, zipped.Bytes())
	layer.Annotations = map[string]string{ocispec.AnnotationTitle: "nginx-" + version + ".zip"}
	config := ocispec.DescriptorEmptyJSON
	for _, b := range []struct {
		desc ocispec.Descriptor
		data []byte
	}{{layer, zipped.Bytes()}, {config, config.Data}} {
		if err := p.repo.Push(ctx, b.desc, bytes.NewReader(b.data)); err != nil {
			t.Fatalf("push blob: %v", err)
		}
	}
	// Packed in memory and pushed by tag, so the registry sees one manifest PUT, by tag.
	mem := memory.New()
	desc, err := oras.PackManifest(ctx, mem, oras.PackManifestVersion1_1, pkgArtifactType, oras.PackManifestOptions{
		Layers:              []ocispec.Descriptor{layer},
		ManifestAnnotations: map[string]string{ocispec.AnnotationCreated: "2026-01-01T00:00:00Z"},
	})
	if err != nil {
		t.Fatal(err)
	}
	manifest, err := content.FetchAll(ctx, mem, desc)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.repo.PushReference(ctx, desc, bytes.NewReader(manifest), version); err != nil {
		t.Fatalf("push manifest: %v", err)
	}
	return desc
}

// deleteManifest sends DELETE /v2/<repo>/manifests/<reference> over plain HTTP.
func (p *pipeline) deleteManifest(t *testing.T, ctx context.Context, reference string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, p.registry.URL()+"/v2/"+pkgRepository+"/manifests/"+reference, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("DELETE %s: status %d", reference, resp.StatusCode)
	}
}

// consume runs the indexer's durable consumer and returns what it handled so far.
func consume(t *testing.T, ctx context.Context, js jetstream.JetStream) (jetstream.Consumer, func() []events.Event) {
	t.Helper()
	c, err := events.EnsureConsumer(ctx, js, events.StreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []events.Event
	cc, err := events.Consume(ctx, c, slog.New(slog.DiscardHandler), func(_ context.Context, ev events.Event) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, ev)
		return nil
	}, webhook.DecodeStreamMessage)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cc.Stop)
	return c, func() []events.Event {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(got)
	}
}

// waitAcked waits until the consumer handled n events and acknowledged every message.
func waitAcked(t *testing.T, ctx context.Context, c jetstream.Consumer, handled func() []events.Event, n int) {
	t.Helper()
	testkit.Eventually(t, 20*time.Second, "the consumer to ack every event", func() bool {
		info, err := c.Info(ctx)
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0 && len(handled()) >= n
	})
	if got := len(handled()); got != n {
		t.Fatalf("consumer handled %d events, want %d", got, n)
	}
}

// checkStream compares the stream, in order, with want, ignoring the ids and times that only the
// registry knows, and checks that each message is stored under its event id.
func checkStream(t *testing.T, got []stored, handled []events.Event, want []events.Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("stream holds %d messages, want %d: %+v", len(got), len(want), got)
	}
	ids := map[string]bool{}
	for i, m := range got {
		if len(m.Events) != 1 {
			t.Fatalf("message %d holds %d events", i, len(m.Events))
		}
		ev := m.Events[0]
		if ev.ID == "" || ev.ID != m.MsgID || ids[ev.ID] {
			t.Errorf("message %d: event id %q, message id %q (duplicate: %v)", i, ev.ID, m.MsgID, ids[ev.ID])
		}
		ids[ev.ID] = true
		if ev.Time.IsZero() || time.Since(ev.Time) > time.Minute {
			t.Errorf("message %d: time %v", i, ev.Time)
		}
		if m.Subject != events.Subject(ev.Repository) {
			t.Errorf("message %d: subject %q", i, m.Subject)
		}
		ev.ID, ev.Time = "", time.Time{}
		if ev != want[i] {
			t.Errorf("message %d:\n got %+v\nwant %+v", i, ev, want[i])
		}
	}
	for _, ev := range handled {
		if !ids[ev.ID] {
			t.Errorf("consumer handled %+v, which the stream does not hold", ev)
		}
	}
}

func TestDistributionToStream(t *testing.T) {
	ctx := t.Context()
	start := time.Now()
	p := newPipeline(t)
	c, handled := consume(t, ctx, p.nats.js)

	desc := p.pushPackage(t, ctx, "1.0.0")
	if _, err := oras.Tag(ctx, p.repo, "1.0.0", "latest"); err != nil {
		t.Fatal(err)
	}
	p.deleteManifest(t, ctx, "latest")
	p.deleteManifest(t, ctx, desc.Digest.String())

	host, digest := p.registry.Host(), desc.Digest.String()
	want := []events.Event{
		{Format: events.FormatDistribution, Registry: host, Repository: pkgRepository, Tag: "1.0.0", Digest: digest, MediaType: ociManifestType, Action: events.ActionPush},
		{Format: events.FormatDistribution, Registry: host, Repository: pkgRepository, Tag: "latest", Digest: digest, MediaType: ociManifestType, Action: events.ActionPush},
		{Format: events.FormatDistribution, Registry: host, Repository: pkgRepository, Tag: "latest", Action: events.ActionDelete},
		{Format: events.FormatDistribution, Registry: host, Repository: pkgRepository, Digest: digest, Action: events.ActionDelete},
		// Distribution follows a delete by digest with one tag delete per tag that pointed at it.
		{Format: events.FormatDistribution, Registry: host, Repository: pkgRepository, Tag: "1.0.0", Action: events.ActionDelete},
	}
	testkit.Eventually(t, 20*time.Second, "the registry's notifications to reach the stream", func() bool {
		return streamLen(ctx, p.nats.js) >= len(want)
	})
	waitAcked(t, ctx, c, handled, len(want))
	checkStream(t, streamContents(t, ctx, p.nats.js), handled(), want)

	if n := p.statuses.get(http.StatusOK); n <= len(want) {
		t.Errorf("%d requests answered 200; want the %d kept events and the ignored blob pushes and pulls", n, len(want))
	}
	for _, code := range []int{http.StatusUnauthorized, http.StatusBadRequest, http.StatusServiceUnavailable} {
		if n := p.statuses.get(code); n != 0 {
			t.Errorf("%d requests answered %d", n, code)
		}
	}
	if strings.Contains(p.logs.String(), testToken) {
		t.Error("logs contain the token")
	}
	t.Logf("%d events published, %d requests answered 200, in %v", len(want), p.statuses.get(http.StatusOK), time.Since(start).Round(time.Millisecond))
}

func TestDistributionRetriesWhileNATSIsDown(t *testing.T) {
	ctx := t.Context()
	start := time.Now()
	p := newPipeline(t)
	c, handled := consume(t, ctx, p.nats.js)
	addr := p.nats.stop(t)

	desc := p.pushPackage(t, ctx, "1.0.0")
	if _, err := oras.Tag(ctx, p.repo, "1.0.0", "latest"); err != nil {
		t.Fatal(err)
	}
	// Threshold 3 immediate attempts, then one per Backoff: more than 3 means the registry is in
	// its backoff and keeps the event queued.
	testkit.Eventually(t, 20*time.Second, "the registry to retry after 503s", func() bool {
		return p.statuses.get(http.StatusServiceUnavailable) > 3
	})
	if _, published := p.pub.counts(); published != 0 {
		t.Fatalf("%d events acknowledged while NATS was down", published)
	}
	unavailable := p.statuses.get(http.StatusServiceUnavailable)

	p.nats.restart(t, addr)
	host, digest := p.registry.Host(), desc.Digest.String()
	want := []events.Event{
		{Format: events.FormatDistribution, Registry: host, Repository: pkgRepository, Tag: "1.0.0", Digest: digest, MediaType: ociManifestType, Action: events.ActionPush},
		{Format: events.FormatDistribution, Registry: host, Repository: pkgRepository, Tag: "latest", Digest: digest, MediaType: ociManifestType, Action: events.ActionPush},
	}
	testkit.Eventually(t, 20*time.Second, "the registry's retries to reach the stream", func() bool {
		return streamLen(ctx, p.nats.js) >= len(want)
	})
	waitAcked(t, ctx, c, handled, len(want))
	checkStream(t, streamContents(t, ctx, p.nats.js), handled(), want)
	t.Logf("%d answers 503 while NATS was down (%d in all), then %d events stored once each, in %v",
		unavailable, p.statuses.get(http.StatusServiceUnavailable), len(want), time.Since(start).Round(time.Millisecond))
}
