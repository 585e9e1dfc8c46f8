package indexer

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/oci-epr/package-registry/internal/status"
	"github.com/oci-epr/package-registry/internal/store"
)

func TestTagStatus(t *testing.T) {
	next := time.Date(2026, 12, 8, 2, 0, 0, 0, time.UTC)
	pkg := func(f tagFacts) tagFacts {
		f.Candidate, f.Name, f.Version, f.Known = true, "nginx", "1.0.0", true
		if f.Tag == "" {
			f.Tag = "1.0.0"
		}
		return f
	}
	rows := []struct {
		name string
		in   tagFacts
		ok   bool
		want status.Tag
	}{
		{"served", pkg(tagFacts{State: store.TagState{Digest: "sha256:a", Key: "nginx/1.0.0"}}), true,
			status.Tag{Tag: "1.0.0", Name: "nginx", Version: "1.0.0", Digest: "sha256:a", State: status.Served}},
		{"rejected with its rule and message", pkg(tagFacts{State: store.TagState{Digest: "sha256:a", Rejected: "manifest.yml: version: not semver", Rule: "manifest_fields"}}), true,
			status.Tag{Tag: "1.0.0", Name: "nginx", Version: "1.0.0", Digest: "sha256:a", State: status.Rejected, Rule: "manifest_fields", Message: "manifest.yml: version: not semver"}},
		{"awaiting its signature", pkg(tagFacts{State: store.TagState{Digest: "sha256:a", Rejected: "no signature yet", Rule: "missing_signature", AwaitingSignature: true}}), true,
			status.Tag{Tag: "1.0.0", Name: "nginx", Version: "1.0.0", Digest: "sha256:a", State: status.AwaitingSignature, Rule: "missing_signature", Message: "no signature yet"}},
		{"shadowed by the per-package copy", pkg(tagFacts{Tag: "nginx-1.0.0", State: store.TagState{Digest: "sha256:a", Key: "nginx/1.0.0"}, ShadowedBy: "p/nginx"}), true,
			status.Tag{Tag: "nginx-1.0.0", Name: "nginx", Version: "1.0.0", Digest: "sha256:a", State: status.Shadowed, ShadowedBy: "p/nginx"}},
		{"an artifact of another type", pkg(tagFacts{State: store.TagState{Digest: "sha256:a", Rejected: "no package zip layer", Rule: "layers", NotAPackage: true, ArtifactType: "application/vnd.cncf.helm.config.v1+json"}}), true,
			status.Tag{Tag: "1.0.0", Name: "nginx", Version: "1.0.0", Digest: "sha256:a", State: status.NotAPackage, Rule: "layers", Message: "no package zip layer", ArtifactType: "application/vnd.cncf.helm.config.v1+json"}},
		{"a tag that names no version", tagFacts{Tag: "latest"}, true,
			status.Tag{Tag: "latest", State: status.NotAPackage, Message: notAPackageTag}},
		{"a signature tag has no entry", tagFacts{Tag: "sha256-abc.sig"}, false, status.Tag{}},
		{"a referrers fallback tag has no entry", tagFacts{Tag: "sha256-0123456789012345678901234567890123456789012345678901234567890123"}, false, status.Tag{}},
		{"failing keeps the digest served before", pkg(tagFacts{State: store.TagState{Digest: "sha256:old", Key: "nginx/1.0.0"}, Failed: errors.New("fetch zip: 503"), NextAttempt: &next}), true,
			status.Tag{Tag: "1.0.0", Name: "nginx", Version: "1.0.0", Digest: "sha256:old", State: status.Failing, Error: "fetch zip: 503", NextAttempt: &next}},
		{"failing before it was ever read", tagFacts{Tag: "1.0.0", Candidate: true, Name: "nginx", Version: "1.0.0", Failed: errors.New("resolve: 503")}, true,
			status.Tag{Tag: "1.0.0", Name: "nginx", Version: "1.0.0", State: status.Failing, Error: "resolve: 503"}},
	}
	for _, row := range rows {
		got, ok := tagStatus(row.in)
		if ok != row.ok || (ok && !equalTags(got, row.want)) {
			t.Errorf("%s: %+v %v, want %+v %v", row.name, got, ok, row.want, row.ok)
		}
	}
}

func equalTags(a, b status.Tag) bool {
	na, nb := a.NextAttempt, b.NextAttempt
	a.NextAttempt, b.NextAttempt = nil, nil
	return a == b && ((na == nil) == (nb == nil)) && (na == nil || na.Equal(*nb))
}

// A failing tag's next attempt is the next resync: an interval after the running one ends, or
// when the ended one scheduled it; none without a periodic resync.
func TestNextAttemptIsTheNextResync(t *testing.T) {
	now := time.Date(2026, 12, 8, 2, 0, 0, 0, time.UTC)
	ix := New(Config{Now: func() time.Time { return now }})
	if ix.nextAttempt() != nil {
		t.Error("next attempt before any resync")
	}
	ix.resyncStarted(now.Add(-time.Minute), 10*time.Minute)
	if got := ix.nextAttempt(); got == nil || !got.Equal(now.Add(10*time.Minute)) {
		t.Errorf("during a resync: %v", got)
	}
	ix.resyncEnded(now, 2, now.Add(10*time.Minute))
	if got := ix.nextAttempt(); got == nil || !got.Equal(now.Add(10*time.Minute)) {
		t.Errorf("after a resync: %v", got)
	}
	if f := ix.StatusFacts(); f.LastResync.Failed != 2 || f.LastResync.End == nil {
		t.Errorf("facts: %+v", f.LastResync)
	}
	ix.resyncStarted(now, 0)
	ix.resyncEnded(now, 0, time.Time{})
	if ix.nextAttempt() != nil {
		t.Error("next attempt without a periodic resync")
	}
}

// Any answer from the registry, an error status included, means it is reachable; a transport
// error or a deadline means it is not.
func TestRegistryReachable(t *testing.T) {
	ix := New(Config{})
	for _, c := range []struct {
		err  error
		want bool
	}{
		{nil, true},
		{&url.Error{Op: "Get", URL: "http://r.example/v2/", Err: errors.New("dial tcp: connection refused")}, false},
		{errors.New("GET http://r.example/v2/p/tags/list: response status code 401: unauthorized"), true},
		{fmt.Errorf("list tags: %w", context.DeadlineExceeded), false},
	} {
		ix.heard(c.err)
		if f := ix.StatusFacts(); f.RegistryReachable != c.want || (c.want == (f.RegistryError != "")) {
			t.Errorf("heard(%v): %+v", c.err, f)
		}
	}
}
