package status

import (
	"strings"
	"testing"
	"time"
)

func TestDecide(t *testing.T) {
	yes, no := true, false
	next := time.Date(2026, 12, 8, 1, 0, 0, 0, time.UTC)
	const d1, d2 = "sha256:1111", "sha256:2222"
	// tag builds a tag of nginx at the version wanted, in repository repo.
	tag := func(repo string, st State, f func(*Tag)) Tag {
		t := Tag{Repository: repo, Tag: "1.20.0", Name: "nginx", Version: "1.20.0", State: st, Digest: d1}
		if repo == "packages" {
			t.Tag = "nginx-1.20.0"
		}
		if f != nil {
			f(&t)
		}
		return t
	}
	const perPkg, single = "packages/nginx", "packages"
	want := Want{Name: "nginx", Version: "1.20.0"}
	withDigest := func(d string) Want { w := want; w.Digest = d; return w }
	tests := []struct {
		name     string
		want     Want
		tags     []Tag
		verdict  Verdict
		contains []string
	}{
		{name: "nothing yet", want: want, verdict: Pending, contains: []string{"nginx@1.20.0", "no tag claims it yet"}},
		{name: "served", want: want, tags: []Tag{tag(perPkg, Served, nil)}, verdict: Done,
			contains: []string{"served from packages/nginx:1.20.0", d1}},
		{name: "another version served", want: want,
			tags:    []Tag{tag(perPkg, Served, func(t *Tag) { t.Version, t.Tag = "1.19.0", "1.19.0" })},
			verdict: Pending, contains: []string{"no tag claims it yet"}},
		{name: "another name is not this one", want: want,
			tags:    []Tag{tag(perPkg, Served, func(t *Tag) { t.Name = "nginx_x" })},
			verdict: Pending},
		{name: "rejected: the rule and the message", want: want,
			tags:    []Tag{tag(perPkg, Rejected, func(t *Tag) { t.Rule, t.Message = "expect_mismatch", "manifest.yml: version 1.0.0, tag 1.20.0" })},
			verdict: Refused, contains: []string{"rejected in packages/nginx:1.20.0", "rule expect_mismatch", "manifest.yml: version 1.0.0, tag 1.20.0"}},
		{name: "served in one layout wins over rejected in the other", want: want,
			tags:    []Tag{tag(single, Rejected, func(t *Tag) { t.Rule = "manifest" }), tag(perPkg, Served, nil)},
			verdict: Done, contains: []string{"served from packages/nginx:1.20.0"}},
		{name: "failing: keep waiting, say the error", want: want,
			tags:    []Tag{tag(perPkg, Failing, func(t *Tag) { t.Error, t.NextAttempt = "registry: 503 Service Unavailable", &next })},
			verdict: Pending, contains: []string{"failing: registry: 503 Service Unavailable", "next attempt 2026-12-08T01:00:00Z"}},
		{name: "failing in one layout may still become served: rejected in the other does not end the wait", want: want,
			tags:    []Tag{tag(single, Rejected, func(t *Tag) { t.Rule = "manifest" }), tag(perPkg, Failing, func(t *Tag) { t.Error = "timeout" })},
			verdict: Pending, contains: []string{"failing: timeout"}},
		{name: "awaiting a signature: keep waiting, say why", want: want,
			tags:    []Tag{tag(perPkg, AwaitingSignature, nil)},
			verdict: Pending, contains: []string{"awaits its signature"}},
		{name: "not a package", want: want,
			tags:    []Tag{tag(perPkg, NotAPackage, func(t *Tag) { t.ArtifactType = "application/vnd.oci.image.config.v1+json" })},
			verdict: Refused, contains: []string{"is not a package", "application/vnd.oci.image.config.v1+json"}},
		{name: "shadowed alone refuses", want: want,
			tags:    []Tag{tag(single, Shadowed, func(t *Tag) { t.ShadowedBy = perPkg })},
			verdict: Refused, contains: []string{"packages:nginx-1.20.0 is shadowed", "the copy in packages/nginx is served"}},
		{name: "shadowed, with the shadowing copy served: served", want: want,
			tags:    []Tag{tag(single, Shadowed, func(t *Tag) { t.ShadowedBy = perPkg }), tag(perPkg, Served, nil)},
			verdict: Done},
		{name: "served but the answering replica serves another digest", want: want,
			tags:    []Tag{tag(perPkg, Served, func(t *Tag) { t.InSync, t.IndexDigest = &no, d2 })},
			verdict: Pending, contains: []string{"still serves " + d2}},
		{name: "served but not yet by the answering replica", want: want,
			tags:    []Tag{tag(perPkg, Served, func(t *Tag) { t.InSync = &no })},
			verdict: Pending, contains: []string{"the answering process does not serve it yet"}},
		{name: "served and in sync", want: want,
			tags:    []Tag{tag(perPkg, Served, func(t *Tag) { t.InSync, t.IndexDigest = &yes, d1 })},
			verdict: Done},
		{name: "a state this client does not know", want: want,
			tags:    []Tag{tag(perPkg, State("quarantined"), nil)},
			verdict: Pending, contains: []string{"quarantined"}},
		{name: "digest: served with the digest pushed", want: withDigest(d1),
			tags: []Tag{tag(perPkg, Served, nil)}, verdict: Done},
		{name: "digest: served with the digest before the push is not yet an answer", want: withDigest(d2),
			tags:    []Tag{tag(perPkg, Served, nil)},
			verdict: Pending, contains: []string{"not read the push yet", "served with digest " + d1, "pushed " + d2}},
		{name: "digest: rejected before the push is not this push's rejection", want: withDigest(d2),
			tags:    []Tag{tag(perPkg, Rejected, func(t *Tag) { t.Rule = "manifest" })},
			verdict: Pending, contains: []string{"not read the push yet"}},
		{name: "digest: this push rejected", want: withDigest(d2),
			tags:    []Tag{tag(perPkg, Rejected, func(t *Tag) { t.Rule, t.Digest = "manifest", d2 })},
			verdict: Refused, contains: []string{"rule manifest"}},
		{name: "digest: a failing tag counts whatever its recorded digest", want: withDigest(d2),
			tags:    []Tag{tag(perPkg, Failing, func(t *Tag) { t.Error = "registry unreachable" })},
			verdict: Pending, contains: []string{"failing: registry unreachable"}},
		{name: "digest: the push is shadowed by another artifact served elsewhere", want: withDigest(d2),
			tags: []Tag{
				tag(single, Shadowed, func(t *Tag) { t.ShadowedBy, t.Digest = perPkg, d2 }),
				tag(perPkg, Served, nil),
			},
			verdict: Refused, contains: []string{"is shadowed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, msg := Decide(PackageStatus{Name: "nginx", Tags: tt.tags}, tt.want)
			if v != tt.verdict {
				t.Errorf("verdict %v, want %v (%s)", v, tt.verdict, msg)
			}
			for _, c := range tt.contains {
				if !strings.Contains(msg, c) {
					t.Errorf("message %q lacks %q", msg, c)
				}
			}
		})
	}
}
