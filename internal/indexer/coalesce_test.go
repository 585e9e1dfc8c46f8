package indexer

import (
	"crypto/sha256"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-epr/package-registry/internal/events"
	"github.com/oci-epr/package-registry/internal/packages/packagetest"
)

// burst handles events all at once, as the consumer does (one goroutine per message), and
// returns the registry requests they cost.
func burst(t *testing.T, h *harness, evs []events.Event) int {
	t.Helper()
	h.counter.reset()
	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, ev := range evs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if err := h.ix.HandleEvent(t.Context(), ev); err != nil {
				t.Error(err)
			}
		}()
	}
	close(start)
	wg.Wait()
	total := 0
	for _, n := range h.counter.reset() {
		total += n
	}
	return total
}

// Pushes by digest cost what tag pushes cost: a burst of them for one repository is a few
// listings, not a registry request per event.
func TestDigestEventsAreCoalesced(t *testing.T) {
	h := newHarness(t)
	const repo = "packages/flood"
	h.push(repo, "1.0.0", packagetest.Build(packagetest.Spec{Name: "flood", Version: "1.0.0"}))
	if err := h.ix.Reconcile(t.Context(), repo); err != nil {
		t.Fatal(err)
	}
	h.ix.cfg.Debounce = 10 * time.Millisecond // as the service runs it
	const n = 1000
	tagEvents := make([]events.Event, n)
	digestEvents := make([]events.Event, n)
	for i := range n {
		tagEvents[i] = events.Event{ID: fmt.Sprint("t", i), Repository: repo, Tag: "1.0.0", Action: events.ActionPush}
		digestEvents[i] = events.Event{ID: fmt.Sprint("d", i), Repository: repo, Action: events.ActionPush,
			Digest: fmt.Sprintf("sha256:%x", sha256.Sum256(fmt.Append(nil, i))), MediaType: ocispec.MediaTypeImageManifest}
	}
	tagCost := burst(t, h, tagEvents)
	digestCost := burst(t, h, digestEvents)
	t.Logf("registry requests for %d tag events: %d; for %d digest events: %d", n, tagCost, n, digestCost)
	if limit := 4*tagCost + 20; digestCost > limit {
		t.Fatalf("%d digest events cost %d registry requests, want at most %d (tag events cost %d)", n, digestCost, limit, tagCost)
	}
	if len(h.bucketDocs()) != 1 {
		t.Fatal("package lost")
	}
}

// A signature pushed among a flood of pushes by digest is still picked up: past the per-event
// reads, the reconcile checks its indexed tags for signatures.
func TestSignatureFoundAmongManyDigestEvents(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	const repo = "packages/flooded"
	subject, err := h.client.PushPackage(ctx, repo, "1.0.0", packagetest.Build(packagetest.Spec{Name: "flooded", Version: "1.0.0"}), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.ix.Reconcile(ctx, repo); err != nil {
		t.Fatal(err)
	}
	ref, err := h.client.PushSignature(ctx, repo, subject, []byte("-----BEGIN PGP SIGNATURE-----\nsig\n-----END PGP SIGNATURE-----\n"))
	if err != nil {
		t.Fatal(err)
	}
	evs := []events.Event{{ID: "sig", Repository: repo, Action: events.ActionPush, Digest: ref.Digest.String(), MediaType: ref.MediaType}}
	for i := range 3 * maxDigestReads {
		evs = append(evs, events.Event{ID: fmt.Sprint("d", i), Repository: repo, Action: events.ActionPush,
			Digest: fmt.Sprintf("sha256:%x", sha256.Sum256(fmt.Append(nil, i))), MediaType: ocispec.MediaTypeImageManifest})
	}
	h.ix.cfg.Debounce = 50 * time.Millisecond // one reconcile takes the whole burst
	cost := burst(t, h, evs)
	t.Logf("registry requests for %d digest events, one a signature: %d", len(evs), cost)
	if !strings.Contains(h.logs.String(), "many manifests pushed by digest") {
		t.Fatalf("the burst did not take the bounded path:\n%s", h.logs)
	}
	if r := h.bucketDocs()["flooded/1.0.0"]; r == nil || r.Signature == nil {
		t.Fatalf("signature pushed among %d digest events not picked up: %+v", len(evs), r)
	}
}
