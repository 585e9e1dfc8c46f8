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
	if n := testutil.ToFloat64(h.metrics.Rejected.WithLabelValues(string(packages.RuleDigestMismatch))); n != 1 {
		t.Errorf("digest_mismatch rejections = %v, want 1", n)
	}
	if n := strings.Count(h.logs.String(), "artifact rejected"); n != 1 || !strings.Contains(h.logs.String(), "rule="+string(packages.RuleDigestMismatch)) {
		t.Errorf("rejection logged %d times, want once with rule %s:\n%s", n, packages.RuleDigestMismatch, h.logs)
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

// With -require-package-signatures a version without a signature is kept out, reported once,
// and indexed as soon as its signature arrives: from the referrer's push notification, or from
// the next resync when that notification was lost. Its zip is not downloaded while unsigned.
func TestRequiredSignatures(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	h.ix.Close()
	h.stop()
	h.policy = Policy{RequireSignatures: true}
	h.start()
	sig := []byte("-----BEGIN PGP SIGNATURE-----\nsig\n-----END PGP SIGNATURE-----\n")
	spec := func(name string) []byte {
		return packagetest.Build(packagetest.Spec{Name: name, Version: "1.0.0"})
	}
	if _, err := h.client.PushPackage(ctx, "packages/layer", "1.0.0", spec("layer"), sig, nil); err != nil {
		t.Fatal(err)
	}
	notified, err := h.client.PushPackage(ctx, "packages/notified", "1.0.0", spec("notified"), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	lost, err := h.client.PushPackage(ctx, "packages/lost", "1.0.0", spec("lost"), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.counter.reset()
	for range 3 {
		if err := h.ix.SyncAll(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if docs := h.bucketDocs(); len(docs) != 1 || docs["layer/1.0.0"] == nil {
		t.Fatalf("indexed %v, want only the signed layer/1.0.0", keys(docs))
	}
	if got := h.counter.reset(); got["GET blob"] != 1 {
		t.Errorf("downloaded %d blobs, want 1 (only the signed zip)", got["GET blob"])
	}
	if n := testutil.ToFloat64(h.metrics.Rejected.WithLabelValues(string(packages.RuleMissingSignature))); n != 2 {
		t.Errorf("%s = %v over three resyncs, want 2 (once per unsigned version)", packages.RuleMissingSignature, n)
	}

	ref, err := h.client.PushSignature(ctx, "packages/notified", notified, sig)
	if err != nil {
		t.Fatal(err)
	}
	ev := events.Event{ID: "sig", Repository: "packages/notified", Digest: ref.Digest.String(), MediaType: ref.MediaType, Action: events.ActionPush}
	if err := h.ix.HandleEvent(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if r := h.bucketDocs()["notified/1.0.0"]; r == nil || r.Signature == nil || !strings.Contains(string(r.Document), "signature_path") {
		t.Fatalf("signature pushed later did not get the version served: %+v", r)
	}

	if _, err := h.client.PushSignature(ctx, "packages/lost", lost, sig); err != nil {
		t.Fatal(err)
	}
	if err := h.ix.SyncAll(ctx); err != nil {
		t.Fatal(err)
	}
	if r := h.bucketDocs()["lost/1.0.0"]; r == nil || r.Signature == nil {
		t.Fatalf("resync did not find the signature whose notification was lost: %+v", r)
	}

	// Turned off again, nothing waits for a signature.
	unsigned, err := h.client.PushPackage(ctx, "packages/plain", "1.0.0", spec("plain"), nil, nil)
	if err != nil || unsigned.Digest == "" {
		t.Fatal(err)
	}
	h.ix.Close()
	h.stop()
	h.policy = Policy{}
	h.start()
	if err := h.ix.SyncAll(ctx); err != nil {
		t.Fatal(err)
	}
	if r := h.bucketDocs()["plain/1.0.0"]; r == nil || r.Signature != nil {
		t.Fatalf("unsigned version not served with signatures not required: %+v", r)
	}
}
