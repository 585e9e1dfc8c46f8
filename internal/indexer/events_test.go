package indexer

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/oci-epr/package-registry/internal/events"
	"github.com/oci-epr/package-registry/internal/index"
	"github.com/oci-epr/package-registry/internal/packages/packagetest"
)

// Distribution notifies before it writes the tag: an event naming a tag the listing lacks is
// looked at again shortly, so the package is indexed without waiting for a resync.
func TestEventBeforeItsTagIsListed(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	const repo = "packages/late"
	zip := packagetest.Build(packagetest.Spec{Name: "late", Version: "1.0.0"})
	h.push(repo, "staging", zip) // the manifest is there, the version tag is not yet
	var once sync.Once
	h.counter.setAfterTags(func(listed string) {
		if listed != repo {
			return
		}
		// The first listing has been produced without the tag; the tag lands before the
		// indexer reads that listing, as with a notification that overtook the tag write.
		once.Do(func() {
			if err := h.client.Tag(context.Background(), repo, "staging", "1.0.0"); err != nil {
				t.Error(err)
			}
		})
	})
	if err := h.ix.HandleEvent(ctx, events.Event{ID: "early", Repository: repo, Tag: "1.0.0", Action: events.ActionPush}); err != nil {
		t.Fatal(err)
	}
	if h.bucketDocs()[index.Key("late", "1.0.0")] == nil {
		t.Fatal("event acknowledged before its tag was listed, and nothing indexed")
	}
}

// keysHook runs a function after the bucket's revisions were read and before they are returned.
type keysHook struct {
	*index.Bucket
	after func()
}

func (b keysHook) Revisions(ctx context.Context) (index.Revisions, error) {
	revs, err := b.Bucket.Revisions(ctx)
	b.after()
	return revs, err
}

// A resync compares with the bucket's revisions read when it started; packages that event
// reconciles published since are neither reported nor published again.
func TestResyncDoesNotReportPackagesPublishedMeanwhile(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	h.push("packages/steady", "1.0.0", packagetest.Build(packagetest.Spec{Name: "steady", Version: "1.0.0"}))
	if err := h.ix.SyncAll(ctx); err != nil {
		t.Fatal(err)
	}
	h.push("packages/fresh", "1.0.0", packagetest.Build(packagetest.Spec{Name: "fresh", Version: "1.0.0"}))
	h.ix.cfg.Bucket = keysHook{Bucket: h.bucket, after: func() {
		ev := events.Event{ID: "fresh", Repository: "packages/fresh", Tag: "1.0.0", Action: events.ActionPush}
		if err := h.ix.HandleEvent(ctx, ev); err != nil {
			t.Error(err)
		}
	}}
	if err := h.ix.SyncAll(ctx); err != nil {
		t.Fatal(err)
	}
	if h.bucketDocs()["fresh/1.0.0"] == nil {
		t.Fatal("fresh/1.0.0 not indexed")
	}
	if strings.Contains(h.logs.String(), "publishing again") {
		t.Fatalf("resync reported a package published meanwhile as missing:\n%s", h.logs)
	}
}
