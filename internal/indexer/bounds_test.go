package indexer

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/oci-epr/package-registry/internal/index"
	"github.com/oci-epr/package-registry/internal/packages/packagetest"
	"github.com/oci-epr/package-registry/internal/testkit"
)

// outerLimit bounds calls that the defects below made run for ever; never a measurement.
const outerLimit = 2 * time.Minute

func (h *harness) limitHits(limit string) float64 {
	return testutil.ToFloat64(h.metrics.LimitHits.WithLabelValues(limit))
}

// A referrers listing of empty pages linking onward ends at its bound: the package is indexed
// unsigned, and the bound hit is logged with the repository and counted.
func TestLoopingReferrersListingIndexesUnsigned(t *testing.T) {
	h := newHarness(t)
	spec := packagetest.Spec{Name: "loop", Version: "1.0.0"}
	zip := packagetest.Build(spec)
	h.push("packages/loop", spec.Version, zip)
	h.hostile.LoopReferrers("packages/loop")
	var err error
	testkit.Returns(t, outerLimit, "reconcile of a repository whose referrers loop", func() {
		err = h.ix.Reconcile(context.Background(), "packages/loop")
	})
	if err != nil {
		t.Fatal(err)
	}
	rec := h.bucketDocs()[index.Key("loop", "1.0.0")]
	if rec == nil || rec.Signature != nil {
		t.Fatalf("record %+v: want the version indexed, unsigned", rec)
	}
	expectDoc(t, rec, zip)
	if got := h.limitHits("referrer_pages"); got != 1 {
		t.Errorf("referrer_pages limit hits = %v, want 1", got)
	}
	if logs := h.logs.String(); !strings.Contains(logs, "repository=packages/loop") || !strings.Contains(logs, "referrer pages") {
		t.Errorf("no log line naming the repository and the bound:\n%s", logs)
	}
}

// A tag listing that never ends fails the reconcile at the tag bound: nothing is deleted, the
// bound is logged with the repository and counted, and the next good listing is applied.
func TestEndlessTagListingDeletesNothing(t *testing.T) {
	h := newHarness(t)
	arts := packagetest.Many(2)
	repo := "packages/" + arts[0].Name
	for _, a := range arts {
		h.push(repo, a.Version, a.Zip)
	}
	if err := h.ix.Reconcile(t.Context(), repo); err != nil {
		t.Fatal(err)
	}
	before := sortedKeys(h.bucketDocs())
	h.hostile.EndlessTags(repo, 50_000, 8)
	var err error
	testkit.Returns(t, outerLimit, "reconcile of an endless tag listing", func() {
		err = h.ix.Reconcile(context.Background(), repo)
	})
	if err == nil {
		t.Fatal("reconcile succeeded on an endless listing")
	}
	if after := sortedKeys(h.bucketDocs()); strings.Join(after, ",") != strings.Join(before, ",") {
		t.Fatalf("bucket changed after a listing over its bound: %v → %v", before, after)
	}
	if got := h.limitHits("tags"); got != 1 {
		t.Errorf("tags limit hits = %v, want 1", got)
	}
	if logs := h.logs.String(); !strings.Contains(logs, "repository="+repo) || !strings.Contains(logs, "more than 200000 tags") {
		t.Errorf("no log line naming the repository and the bound:\n%s", logs)
	}
	h.hostile.Reset()
	if err := h.ix.Reconcile(t.Context(), repo); err != nil {
		t.Fatal(err)
	}
	if after := sortedKeys(h.bucketDocs()); strings.Join(after, ",") != strings.Join(before, ",") {
		t.Fatalf("after recovery: %v, want %v", after, before)
	}
}

// A registry trickling its answers for some repositories: the resync finishes without them (they
// fail at the reconcile deadline and keep what they had), the others are indexed, and once
// known slow they never hold every worker, so a push elsewhere is indexed while they stall.
func TestSlowRepositoriesDoNotStallIndexing(t *testing.T) {
	h := newHarness(t)
	h.stop()
	h.configure = func(c *Config) {
		c.Parallelism = 2
		c.Repositories = []string{"packages/slow1", "packages/slow2", "packages/fast"}
	}
	h.start()
	slow := []string{"packages/slow1", "packages/slow2"}
	for _, repo := range append(slow, "packages/fast") {
		spec := packagetest.Spec{Name: strings.TrimPrefix(repo, "packages/"), Version: "1.0.0"}
		h.push(repo, spec.Version, packagetest.Build(spec))
	}
	if err := h.ix.SyncAll(t.Context()); err != nil {
		t.Fatal(err)
	}
	// The registry now trickles every answer of the slow repositories, for ever.
	for _, repo := range slow {
		h.hostile.Trickle(repo, "", 50*time.Millisecond)
	}
	h.push("packages/fast", "1.0.1", packagetest.Build(packagetest.Spec{Name: "fast", Version: "1.0.1"}))
	h.ix.cfg.ReconcileTimeout = 300 * time.Millisecond
	var err error
	testkit.Returns(t, outerLimit, "resync with slow repositories", func() { err = h.ix.SyncAll(context.Background()) })
	for _, repo := range slow {
		if err == nil || !strings.Contains(h.logs.String(), "repository="+repo) {
			t.Errorf("resync error %v / logs: want %s failed and logged", err, repo)
		}
	}
	docs := h.bucketDocs()
	for _, key := range []string{index.Key("fast", "1.0.1"), index.Key("slow1", "1.0.0"), index.Key("slow2", "1.0.0")} {
		if docs[key] == nil {
			t.Errorf("%s missing after the resync: have %v", key, sortedKeys(docs))
		}
	}
	if got := h.limitHits(LimitDeadline); got < 2 {
		t.Errorf("deadline limit hits = %v, want one per slow repository", got)
	}

	// Both slow repositories stall again, now with no deadline in sight: they share the slow
	// lane, so a push to another repository still finds a worker.
	h.ix.cfg.ReconcileTimeout = time.Hour
	served := h.hostile.Served.Load()
	for _, repo := range slow {
		go h.ix.Reconcile(context.Background(), repo) //nolint:errcheck // ends with the test
	}
	testkit.Eventually(t, outerLimit, "a slow repository stalling", func() bool { return h.hostile.Served.Load() > served })
	h.push("packages/fast", "1.0.2", packagetest.Build(packagetest.Spec{Name: "fast", Version: "1.0.2"}))
	testkit.Returns(t, outerLimit, "reconcile of a fast repository while slow ones stall", func() {
		err = h.ix.Request(context.Background(), "packages/fast", "1.0.2")
	})
	if err != nil || h.bucketDocs()[index.Key("fast", "1.0.2")] == nil {
		t.Fatalf("fast repository: err %v, indexed %v", err, sortedKeys(h.bucketDocs()))
	}
}

// An event naming tags that do not exist, in many repositories: the missing-tag retries
// pending at once are bounded, and what is dropped is logged and counted.
func TestMissingTagRetriesAreBounded(t *testing.T) {
	h := newHarness(t)
	h.stop()
	h.configure = func(c *Config) {
		c.MaxPendingRetries = 2
		// Long enough that every retry is still pending when the last repository is listed.
		c.MissingTagRetries = []time.Duration{time.Hour}
	}
	h.start()
	for i := range 5 {
		repo := "packages/ghost" + string(rune('a'+i))
		go h.ix.Request(context.Background(), repo, "1.0.0") //nolint:errcheck // the pending ones wait an hour
	}
	testkit.Eventually(t, outerLimit, "three dropped retries", func() bool { return h.limitHits(LimitMissingTagRetries) == 3 })
	if logs := h.logs.String(); !strings.Contains(logs, "limit=missing_tag_retries") {
		t.Errorf("no log line naming the bound:\n%s", logs)
	}
}
