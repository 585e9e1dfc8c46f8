package indexer

import (
	"fmt"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-epr/package-registry/internal/index"
	"github.com/oci-epr/package-registry/internal/store"
)

// The planner's tables: each row a listing, a recorded state and a hint in, the steps out. The
// invariant a row checks (docs/architecture.md) starts its name. The real-registry tests in
// this package remain the end-to-end proof that the executor carries the steps out.

// show renders steps as "kind subject" lines, the way the tables state them.
func show(steps []Step) string {
	var out []string
	for _, s := range steps {
		switch s.Kind {
		case StepResolve, StepKeep, StepFetch, StepUse:
			line := string(s.Kind) + " " + s.Tag
			if s.Vouched {
				line += " (vouched)"
			}
			if s.Signature != nil {
				line += " +sig"
			}
			out = append(out, line)
		case StepPublish, StepRepublish, StepDelete:
			out = append(out, string(s.Kind)+" "+s.Key)
		case StepKeepOut, StepForgetKeptOut:
			out = append(out, fmt.Sprintf("%s %s from %s", s.Kind, s.Key, s.Loser))
		case StepHandOver:
			out = append(out, fmt.Sprintf("%s %s to %s", s.Kind, s.Key, s.Other.repository))
		}
	}
	return strings.Join(out, "; ")
}

func indexed(digest, key string) store.TagState { return store.TagState{Digest: digest, Key: key} }

func TestPlanTags(t *testing.T) {
	const repo = "packages/flip"
	sig := &ocispec.Descriptor{Digest: "sha256:5e"}
	old := map[string]store.TagState{
		"1.0.0": indexed("sha256:a1", "flip/1.0.0"),
		"2.0.0": indexed("sha256:b2", "flip/2.0.0"),
	}
	awaiting := map[string]store.TagState{"1.0.0": {Digest: "sha256:a1", AwaitingSignature: true, Policy: "signed"}}
	for _, row := range []struct {
		name string
		v    tagsView
		want string
	}{
		{"3: a push event resolves its tag only; the others are kept as recorded",
			tagsView{Listed: []string{"1.0.0", "2.0.0"}, Old: old, Named: map[string]bool{"2.0.0": true}},
			"keep 1.0.0; resolve 2.0.0"},
		{"3: a tag an event names but the listing lacks gets no step (the listing is the truth)",
			tagsView{Listed: []string{"1.0.0"}, Old: old, Named: map[string]bool{"3.0.0": true}},
			"keep 1.0.0"},
		{"3: a zero hint (tag delete) resolves only the tags not recorded yet",
			tagsView{Listed: []string{"1.0.0", "3.0.0"}, Old: old},
			"keep 1.0.0; resolve 3.0.0"},
		{"3: tags that are not package versions get no step",
			tagsView{Listed: []string{"latest", "sha256-" + strings.Repeat("ab", 32), "1.0.0.sig", "not-semver", "1.0.0"}, Old: old},
			"keep 1.0.0"},
		{"4: an empty listing (repository gone) plans no tag, so every recorded key is gone",
			tagsView{Old: old, All: true},
			""},
		{"5: a resync resolves every tag (a HEAD each), it does not fetch",
			tagsView{Listed: []string{"1.0.0", "2.0.0"}, Old: old, All: true},
			"resolve 1.0.0; resolve 2.0.0"},
		{"5: a resync keeps, without a HEAD, the tags whose digest the search index confirms",
			tagsView{Listed: []string{"1.0.0", "2.0.0"}, Old: old, All: true, Searched: map[string]string{"1.0.0": "sha256:a1", "2.0.0": "sha256:ff"}},
			"keep 1.0.0 (vouched); resolve 2.0.0"},
		{"5: the search index does not vouch for a tag an event named",
			tagsView{Listed: []string{"1.0.0"}, Old: old, Named: map[string]bool{"1.0.0": true}, Searched: map[string]string{"1.0.0": "sha256:a1"}},
			"resolve 1.0.0"},
		{"5: a tag read under another policy is read again",
			tagsView{Listed: []string{"1.0.0", "2.0.0"}, Old: old, Policy: "novalidation"},
			"resolve 1.0.0; resolve 2.0.0"},
		{"6: a referrer's subject is resolved again, even on an event for another tag",
			tagsView{Listed: []string{"1.0.0", "2.0.0"}, Old: old, Forced: map[string]*ocispec.Descriptor{"sha256:b2": sig}},
			"keep 1.0.0; resolve 2.0.0"},
		{"6: a resync looks again for the signature a version awaits",
			tagsView{Listed: []string{"1.0.0"}, Old: awaiting, All: true, Policy: "signed",
				Forced: withAwaited(map[string]*ocispec.Descriptor{}, awaiting, true)},
			"resolve 1.0.0"},
		{"6: an event reconcile does not look again for an awaited signature",
			tagsView{Listed: []string{"1.0.0"}, Old: awaiting, Policy: "signed",
				Forced: withAwaited(map[string]*ocispec.Descriptor{}, awaiting, false)},
			"keep 1.0.0"},
	} {
		t.Run(row.name, func(t *testing.T) {
			row.v.Repository, row.v.Layout = repo, Layout{Base: "packages"}
			if got := show(planTags(row.v)); got != row.want {
				t.Fatalf("steps\n  %s\nwant\n  %s", got, row.want)
			}
		})
	}
}

func TestPlanDigest(t *testing.T) {
	sig := &ocispec.Descriptor{Digest: "sha256:5e"}
	prev := indexed("sha256:a1", "flip/1.0.0")
	stored := &store.ManifestState{Key: "flip/1.0.0", Record: []byte("r")}
	rejected := &store.ManifestState{Rejected: "broken"}
	for _, row := range []struct {
		name string
		v    digestView
		want string
	}{
		{"5: an unchanged digest costs nothing more than its HEAD",
			digestView{Prev: prev, Known: true, Digest: "sha256:a1"}, "keep 1.0.0"},
		{"5: a digest seen before for this key (a re-tag, a restart) is not fetched",
			digestView{Prev: prev, Known: true, Digest: "sha256:b2", Stored: stored}, "use 1.0.0"},
		{"5: a new digest is fetched and parsed",
			digestView{Prev: prev, Known: true, Digest: "sha256:b2"}, "fetch 1.0.0"},
		{"5: a tag not recorded yet with a new digest is fetched",
			digestView{Digest: "sha256:a1"}, "fetch 1.0.0"},
		{"5: a policy change reads again a digest not parsed under it",
			digestView{Prev: prev, Known: true, Digest: "sha256:a1", Policy: "signed"}, "fetch 1.0.0"},
		{"6: a rejected digest is not fetched again for another tag",
			digestView{Digest: "sha256:bad", Stored: rejected}, "use 1.0.0"},
		{"6: a referrer's subject is fetched again, with the signature the referrer carries",
			digestView{Prev: prev, Known: true, Digest: "sha256:a1", Stored: stored, Forced: map[string]*ocispec.Descriptor{"sha256:a1": sig}},
			"fetch 1.0.0 +sig"},
	} {
		t.Run(row.name, func(t *testing.T) {
			row.v.Tag = "1.0.0"
			if got := show([]Step{planDigest(row.v)}); got != row.want {
				t.Fatalf("step %s, want %s", got, row.want)
			}
		})
	}
}

func TestPlanParsed(t *testing.T) {
	prev := indexed("sha256:a1", "flip/1.0.0")
	unsigned := store.ManifestState{Key: "flip/1.0.0", Record: []byte("unsigned")}
	signed := store.ManifestState{Key: "flip/1.0.0", Signature: "sha256:5e", Record: []byte("signed")}
	for _, row := range []struct {
		name              string
		v                 digestView
		fresh             store.ManifestState
		wantUse           store.ManifestState
		wantStore, wantKP bool
	}{
		{"5: a first parse is stored", digestView{Digest: "sha256:a1"}, unsigned, unsigned, true, false},
		{"6: read again for a signature it already had: nothing to publish",
			digestView{Prev: prev, Known: true, Digest: "sha256:a1", Stored: &signed}, signed, signed, false, true},
		{"6: a signature that arrived is stored and published",
			digestView{Prev: prev, Known: true, Digest: "sha256:a1", Stored: &unsigned}, signed, signed, true, false},
		{"6: read again for another tag with the same signature: the stored record is used",
			digestView{Digest: "sha256:a1", Stored: &signed}, signed, signed, false, false},
	} {
		t.Run(row.name, func(t *testing.T) {
			use, save, keep := planParsed(row.v, row.fresh)
			if string(use.Record) != string(row.wantUse.Record) || save != row.wantStore || keep != row.wantKP {
				t.Fatalf("use %s, store %v, keep %v; want %s, %v, %v", use.Record, save, keep, row.wantUse.Record, row.wantStore, row.wantKP)
			}
		})
	}
}

func TestPlanWrite(t *testing.T) {
	const perPackage, single = "packages/flip", "packages"
	key := index.Key("flip", "1.0.0")
	rec := func(digest string) store.Published {
		return store.Published{Repository: perPackage, Tag: "1.0.0", Digest: digest, Revision: 7}
	}
	changed := outcome{tag: "1.0.0", state: indexed("sha256:b2", key), changed: true, record: []byte("r")}
	unchanged := outcome{tag: "1.0.0", state: indexed("sha256:a1", key)}
	rejectedNow := outcome{tag: "1.0.0", state: store.TagState{Digest: "sha256:bad", Rejected: "broken"}, changed: true}
	old := map[string]store.TagState{"1.0.0": indexed("sha256:a1", key)}
	snap := func(rev uint64, wrote bool) *snapshot {
		s := &snapshot{revisions: index.Revisions{}, wroteSince: map[string]bool{key: wrote}}
		if rev > 0 {
			s.revisions[key] = rev
		}
		return s
	}
	singleCopy := &provider{repository: single, tag: "flip-1.0.0", digest: "sha256:c3"}
	perPackageCopy := &provider{repository: perPackage, tag: "1.0.0", digest: "sha256:a1"}
	for _, row := range []struct {
		name string
		v    writeView
		want string
	}{
		{"4: a re-pushed version is published over the old record",
			writeView{Outs: []outcome{changed}, Old: old, Next: map[string]store.TagState{"1.0.0": changed.state}}, "publish flip/1.0.0"},
		{"4: a tag gone from a complete listing is deleted",
			writeView{Old: old, Next: map[string]store.TagState{}}, "delete flip/1.0.0"},
		{"4: a tag kept after a failed resolve is not deleted",
			writeView{Outs: nil, Old: old, Next: old, Recorded: map[string]store.Published{key: rec("sha256:a1")}}, ""},
		{"6: a version now rejected is removed, not published",
			writeView{Outs: []outcome{rejectedNow}, Old: old, Next: map[string]store.TagState{"1.0.0": rejectedNow.state}}, "delete flip/1.0.0"},
		{"8: the per-package copy is published and the single repository's copy kept out",
			writeView{Outs: []outcome{changed}, Old: old, Next: map[string]store.TagState{"1.0.0": changed.state},
				Rivals: map[string]*provider{key: singleCopy}},
			"publish flip/1.0.0; keep-out flip/1.0.0 from packages"},
		{"8: the single repository's copy is kept out while the per-package one is served",
			writeView{Repository: single, Outs: []outcome{{tag: "flip-1.0.0", state: indexed("sha256:c3", key), changed: true}},
				Next: map[string]store.TagState{"flip-1.0.0": indexed("sha256:c3", key)}, Rivals: map[string]*provider{key: perPackageCopy}},
			"keep-out flip/1.0.0 from packages"},
		{"8: the per-package copy gone, the single repository's takes over",
			writeView{Old: old, Next: map[string]store.TagState{}, Rivals: map[string]*provider{key: singleCopy}, Stored: map[string]bool{key: true}},
			"hand-over flip/1.0.0 to packages"},
		{"8: the per-package copy gone and the other's record not stored: deleted (its repository reads it again)",
			writeView{Old: old, Next: map[string]store.TagState{}, Rivals: map[string]*provider{key: singleCopy}},
			"delete flip/1.0.0"},
		{"8: the kept-out copy gone: the served one stays",
			writeView{Repository: single, Old: map[string]store.TagState{"flip-1.0.0": indexed("sha256:c3", key)}, Next: map[string]store.TagState{},
				Rivals: map[string]*provider{key: perPackageCopy}},
			"forget-kept-out flip/1.0.0 from packages"},
		{"18: an unchanged tag whose write is recorded, outside a sync, writes nothing",
			writeView{Outs: []outcome{unchanged}, Old: old, Next: old, Recorded: map[string]store.Published{key: rec("sha256:a1")}}, ""},
		{"18: a resync finds the bucket at the recorded revision: nothing",
			writeView{Outs: []outcome{unchanged}, Old: old, Next: old, Recorded: map[string]store.Published{key: rec("sha256:a1")}, Snapshot: snap(7, false)}, ""},
		{"18: a resync finds another revision (a crash hid a write, or a foreign one): republished",
			writeView{Outs: []outcome{unchanged}, Old: old, Next: old, Recorded: map[string]store.Published{key: rec("sha256:a1")}, Snapshot: snap(9, false)},
			"republish flip/1.0.0"},
		{"18: a resync finds the key missing (the bucket lost it): republished",
			writeView{Outs: []outcome{unchanged}, Old: old, Next: old, Recorded: map[string]store.Published{key: rec("sha256:a1")}, Snapshot: snap(0, false)},
			"republish flip/1.0.0"},
		{"18: a key written since the resync read the bucket is not judged by that read",
			writeView{Outs: []outcome{unchanged}, Old: old, Next: old, Recorded: map[string]store.Published{key: rec("sha256:a1")}, Snapshot: snap(0, true)}, ""},
		{"18: the last recorded write is of another digest (the tag moved back while the store lagged): republished",
			writeView{Outs: []outcome{unchanged}, Old: old, Next: old, Recorded: map[string]store.Published{key: rec("sha256:b2")}}, "republish flip/1.0.0"},
		{"18: no write recorded (a store from before the record existed): republished once",
			writeView{Outs: []outcome{unchanged}, Old: old, Next: old}, "republish flip/1.0.0"},
		{"18: an unchanged kept-out copy is neither republished nor reported again",
			writeView{Repository: single, Outs: []outcome{{tag: "flip-1.0.0", state: indexed("sha256:c3", key)}},
				Old: map[string]store.TagState{"flip-1.0.0": indexed("sha256:c3", key)}, Next: map[string]store.TagState{"flip-1.0.0": indexed("sha256:c3", key)},
				Rivals: map[string]*provider{key: perPackageCopy}},
			""},
	} {
		t.Run(row.name, func(t *testing.T) {
			if row.v.Repository == "" {
				row.v.Repository = perPackage
			}
			row.v.Layout = Layout{Base: "packages"}
			if got := show(planWrite(row.v)); got != row.want {
				t.Fatalf("steps\n  %s\nwant\n  %s", got, row.want)
			}
		})
	}
}
