package indexer

import (
	"crypto/sha256"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/oci-epr/package-registry/internal/events"
	"github.com/oci-epr/package-registry/internal/packages"
	"github.com/oci-epr/package-registry/internal/packages/packagetest"
)

// A zip whose bytes do not match its digest is a rejection like any other broken artifact:
// counted and logged once, and not downloaded again until the tag moves to another manifest.
func TestDigestMismatchIsRejectedOnce(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	const repo = "packages/tampered"
	zip := packagetest.Build(packagetest.Spec{Name: "tampered", Version: "1.0.0"})
	h.push(repo, "1.0.0", zip)
	h.counter.corruptBlob(fmt.Sprintf("sha256:%x", sha256.Sum256(zip)))
	if err := h.ix.Reconcile(ctx, repo); err != nil {
		t.Errorf("a blob that does not match its digest failed the reconcile, so it is retried: %v", err)
	}
	h.counter.reset()
	const resyncs = 3
	for range resyncs {
		_ = h.ix.SyncAll(ctx)
	}
	got := h.counter.reset()
	t.Logf("registry requests for %d resyncs after a digest mismatch: %v", resyncs, got)
	if got["GET blob"] != 0 {
		t.Errorf("the mismatched blob was downloaded %d times over %d resyncs, want 0", got["GET blob"], resyncs)
	}
	if n := testutil.ToFloat64(h.metrics.Rejected.WithLabelValues(RuleDigestMismatch)); n != 1 {
		t.Errorf("digest_mismatch rejections = %v, want 1", n)
	}
	if n := strings.Count(h.logs.String(), "artifact rejected"); n != 1 || !strings.Contains(h.logs.String(), "rule="+RuleDigestMismatch) {
		t.Errorf("rejection logged %d times, want once with rule %s:\n%s", n, RuleDigestMismatch, h.logs)
	}
	if len(h.bucketDocs()) != 0 {
		t.Fatal("tampered package indexed")
	}

	// The tag moves to another manifest: that one is read.
	fixed := packagetest.Build(packagetest.Spec{Name: "tampered", Version: "1.0.0", Title: "Fixed"})
	h.push(repo, "1.0.0", fixed)
	if err := h.ix.HandleEvent(ctx, events.Event{ID: "fix", Repository: repo, Tag: "1.0.0", Action: events.ActionPush}); err != nil {
		t.Fatal(err)
	}
	rec := h.bucketDocs()["tampered/1.0.0"]
	if rec == nil {
		t.Fatal("the repaired push was not indexed")
	}
	expectDoc(t, rec, fixed)
}

// EPR's content rules are rejections like the others (logged and counted once, the other tags
// indexed), and -disable-package-validation lets those packages in after a restart without any
// new push; turning validation on again takes them out.
func TestContentRulesAndTheirSwitch(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	const repo = "packages/acme"
	good := packagetest.Build(packagetest.Spec{Name: "acme", Version: "1.0.0",
		DataStreams: []packagetest.DataStream{{Dir: "events", Streams: []packagetest.Stream{{Input: "tcp"}}}}})
	bad := packagetest.Build(packagetest.Spec{Name: "acme", Version: "1.1.0",
		DataStreams: []packagetest.DataStream{{Dir: "events", NoFields: true, Streams: []packagetest.Stream{{Input: "tcp"}}}}})
	h.push(repo, "1.0.0", good)
	h.push(repo, "1.1.0", bad)
	for range 3 {
		if err := h.ix.SyncAll(ctx); err != nil {
			t.Fatal(err)
		}
	}
	const rule = string(packages.RuleMissingRequiredFields)
	if n := testutil.ToFloat64(h.metrics.Rejected.WithLabelValues(rule)); n != 1 {
		t.Errorf("%s rejections = %v, want 1", rule, n)
	}
	if n := strings.Count(h.logs.String(), "rule="+rule); n != 1 {
		t.Errorf("rejection logged %d times, want once:\n%s", n, h.logs)
	}
	if docs := h.bucketDocs(); docs["acme/1.0.0"] == nil || docs["acme/1.1.0"] != nil {
		t.Fatalf("indexed %v, want only acme/1.0.0", keys(docs))
	}

	restartWith := func(p Policy) {
		h.ix.Close()
		h.stop()
		h.policy = p
		h.start()
		if err := h.ix.SyncAll(ctx); err != nil {
			t.Fatal(err)
		}
	}
	restartWith(Policy{DisableContentValidation: true})
	if docs := h.bucketDocs(); docs["acme/1.0.0"] == nil || docs["acme/1.1.0"] == nil {
		t.Fatalf("with validation disabled, indexed %v, want both versions", keys(docs))
	}
	h.counter.reset()
	if err := h.ix.SyncAll(ctx); err != nil {
		t.Fatal(err)
	}
	if got := h.counter.reset(); got["GET blob"] != 0 {
		t.Errorf("a resync under an unchanged policy downloaded %d blobs", got["GET blob"])
	}

	restartWith(Policy{})
	if docs := h.bucketDocs(); docs["acme/1.0.0"] == nil || docs["acme/1.1.0"] != nil {
		t.Fatalf("validation on again, indexed %v, want only acme/1.0.0", keys(docs))
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
