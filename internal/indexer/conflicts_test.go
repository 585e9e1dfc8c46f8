package indexer

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/oci-epr/package-registry/internal/events"
	"github.com/oci-epr/package-registry/internal/packages/packagetest"
)

// The same name@version pushed in both layouts: the per-package one is served whichever came
// first, the other is logged and counted once, and it is served once the winner is deleted.
func TestPerPackageLayoutWinsAcrossLayouts(t *testing.T) {
	for _, order := range []string{"per-package first", "single repository first"} {
		t.Run(order, func(t *testing.T) {
			h := newHarness(t)
			ctx := t.Context()
			sig := []byte("-----BEGIN PGP SIGNATURE-----\nsig\n-----END PGP SIGNATURE-----\n")
			real := packagetest.Build(packagetest.Spec{Name: "victim", Version: "1.0.0", Title: "Real"})
			impostor := packagetest.Build(packagetest.Spec{Name: "victim", Version: "1.0.0", Title: "Impostor"})
			event := func(repo, tag string, action events.Action) {
				t.Helper()
				ev := events.Event{ID: repo + tag, Repository: repo, Tag: tag, Action: action}
				if err := h.ix.HandleEvent(ctx, ev); err != nil {
					t.Fatal(err)
				}
			}
			pushPerPackage := func() {
				if _, err := h.client.PushPackage(ctx, "packages/victim", "1.0.0", real, sig, nil); err != nil {
					t.Fatal(err)
				}
				event("packages/victim", "1.0.0", events.ActionPush)
			}
			pushSingle := func() {
				h.push("packages", "victim-1.0.0", impostor)
				event("packages", "victim-1.0.0", events.ActionPush)
			}
			if order == "per-package first" {
				pushPerPackage()
				pushSingle()
			} else {
				pushSingle()
				pushPerPackage()
			}
			served := func(repo, title string, signed bool) {
				t.Helper()
				rec := h.bucketDocs()["victim/1.0.0"]
				if rec == nil {
					t.Fatal("victim/1.0.0 not in the bucket")
				}
				if rec.Repository != repo || (rec.Signature != nil) != signed || !strings.Contains(string(rec.Document), title) {
					t.Fatalf("served from %s (signed %v), want %s (signed %v, title %s):\n%s", rec.Repository, rec.Signature != nil, repo, signed, title, rec.Document)
				}
			}
			served("packages/victim", "Real", true)
			for range 2 { // resyncs neither swap nor report again
				if err := h.ix.SyncAll(ctx); err != nil {
					t.Fatal(err)
				}
			}
			served("packages/victim", "Real", true)
			if got := testutil.ToFloat64(h.metrics.Conflicts); got != 1 {
				t.Errorf("conflicts counted %v times, want 1", got)
			}
			if n := strings.Count(h.logs.String(), "package provided by two repositories"); n != 1 {
				t.Errorf("conflict logged %d times, want 1:\n%s", n, h.logs)
			}

			// The winner goes: the other copy is served.
			if err := h.client.DeleteTag(ctx, "packages/victim", "1.0.0"); err != nil {
				t.Fatal(err)
			}
			event("packages/victim", "1.0.0", events.ActionDelete)
			served("packages", "Impostor", false)
			if err := h.ix.SyncAll(ctx); err != nil {
				t.Fatal(err)
			}
			served("packages", "Impostor", false)

			// It comes back: it wins again, reported once more.
			pushPerPackage()
			served("packages/victim", "Real", true)
			if got := testutil.ToFloat64(h.metrics.Conflicts); got != 2 {
				t.Errorf("conflicts counted %v times after the winner came back, want 2", got)
			}
		})
	}
}

// The same artifact (one manifest digest) in both layouts is parsed once, but each copy is
// published as its own: the served record names the repository and tag it is served from, so
// its blobs are read from there, and the other copy, taking over, names its own.
func TestSameDigestInBothLayoutsNamesItsOwnRepository(t *testing.T) {
	for _, order := range []string{"per-package first", "single repository first"} {
		t.Run(order, func(t *testing.T) {
			h := newHarness(t)
			ctx := t.Context()
			zip := packagetest.Build(packagetest.Spec{Name: "twin", Version: "1.0.0"})
			if order == "per-package first" {
				h.push("packages/twin", "1.0.0", zip)
				h.push("packages", "twin-1.0.0", zip)
			} else {
				h.push("packages", "twin-1.0.0", zip)
				h.push("packages/twin", "1.0.0", zip)
			}
			for _, repo := range []string{"packages", "packages/twin"} {
				if order == "per-package first" {
					repo = map[string]string{"packages": "packages/twin", "packages/twin": "packages"}[repo]
				}
				if err := h.ix.Reconcile(ctx, repo); err != nil {
					t.Fatal(err)
				}
			}
			rec := h.bucketDocs()["twin/1.0.0"]
			if rec == nil || rec.Repository != "packages/twin" || rec.Tag != "1.0.0" {
				t.Fatalf("served record names %s:%s, want packages/twin:1.0.0", rec.Repository, rec.Tag)
			}
			if err := h.client.DeleteTag(ctx, "packages/twin", "1.0.0"); err != nil {
				t.Fatal(err)
			}
			if err := h.ix.Reconcile(ctx, "packages/twin"); err != nil {
				t.Fatal(err)
			}
			rec = h.bucketDocs()["twin/1.0.0"]
			if rec == nil || rec.Repository != "packages" || rec.Tag != "twin-1.0.0" {
				t.Fatalf("after the hand-over the record names %s:%s, want packages:twin-1.0.0", rec.Repository, rec.Tag)
			}
		})
	}
}
