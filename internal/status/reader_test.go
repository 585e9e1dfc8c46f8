package status

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

func put(t *testing.T, s Store, key string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put(context.Background(), key, b); err != nil {
		t.Fatal(err)
	}
}

type servedIndex map[string][3]string

func (s servedIndex) Served(name, version string) (string, string, string, bool) {
	v, ok := s[name+"@"+version]
	return v[0], v[1], v[2], ok
}

func TestKeysAndFilters(t *testing.T) {
	tag := Tag{Repository: "pkgs.v2/nginx", Tag: "1.2.0", Name: "nginx", Version: "1.2.0", State: Rejected}
	key := TagKey(tag)
	repo, tg, err := ParseTagKey(key)
	if err != nil || repo != tag.Repository || tg != tag.Tag {
		t.Fatalf("ParseTagKey(%q) = %q %q %v", key, repo, tg, err)
	}
	for _, c := range []struct {
		f    Filter
		want bool
	}{
		{Filter{}, true},
		{Filter{State: Rejected}, true},
		{Filter{State: Served}, false},
		{Filter{Name: "nginx"}, true},
		{Filter{Name: "apache"}, false},
		{Filter{Repository: "pkgs.v2/nginx"}, true},
		{Filter{Repository: "pkgs.v2"}, false},
	} {
		if got := Match(TagFilter(c.f), key); got != c.want {
			t.Errorf("Match(TagFilter(%+v), %q) = %v, want %v", c.f, key, got, c.want)
		}
	}
	if Match(FilterRepos, key) || !Match(FilterAll, key) || !Match(FilterTags, key) {
		t.Error("prefix filters")
	}
	if got := ReplicaKey("api-0.ns/x"); got != "replica.api-0_ns_x" {
		t.Errorf("ReplicaKey = %q", got)
	}
	if NotAPackage.Rank() >= Served.Rank() || Failing.Rank() != 0 || State("x").Valid() {
		t.Error("ranks")
	}
}

func TestReaderOrdersProblemsFirstAndFillsWhatTheIndexServes(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)
	m := NewMemory()
	tags := []Tag{
		{Repository: "p/nginx", Tag: "1.0.0", Name: "nginx", Version: "1.0.0", State: Served, Digest: "sha256:a"},
		{Repository: "p/nginx", Tag: "1.1.0", Name: "nginx", Version: "1.1.0", State: Rejected, Rule: "manifest", Message: "manifest.yml: version: not semver", Digest: "sha256:b"},
		{Repository: "p/nginx", Tag: "latest", State: NotAPackage},
		{Repository: "p", Tag: "nginx-1.0.0", Name: "nginx", Version: "1.0.0", State: Shadowed, ShadowedBy: "p/nginx"},
		{Repository: "p/apache", Tag: "2.0.0", Name: "apache", Version: "2.0.0", State: Failing, Error: "fetch zip: 503"},
	}
	for _, tg := range tags {
		put(t, m, TagKey(tg), tg)
	}
	put(t, m, KeyIndexer, Indexer{RegistryReachable: true, IndexRevision: 10})
	put(t, m, ReplicaKey("a"), Replica{ID: "a", AppliedRevision: 7, UpdatedAt: now})
	put(t, m, ReplicaKey("b"), Replica{ID: "b", AppliedRevision: 10, UpdatedAt: now.Add(-time.Hour)})
	put(t, m, RepositoryKey("p/nginx"), Repository{Repository: "p/nginx", Counts: map[State]int{Served: 1, Rejected: 1}})
	put(t, m, RepositoryKey("p/apache"), Repository{Repository: "p/apache", LastReconcile: &Reconcile{Outcome: OutcomeFailed}})
	put(t, m, RepositoryKey("p/zzz"), Repository{Repository: "p/zzz", Counts: map[State]int{Served: 3}})

	r := Reader{Store: m, Now: func() time.Time { return now }, Index: servedIndex{"nginx@1.0.0": {"p/nginx", "1.0.0", "sha256:a"}}}
	o, err := r.Overall(ctx, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if o.Indexer == nil || o.Indexer.IndexRevision != 10 {
		t.Fatalf("indexer: %+v", o.Indexer)
	}
	if len(o.Replicas) != 2 || *o.Replicas[0].Lag != 3 || o.Replicas[0].Stale || !o.Replicas[1].Stale {
		t.Errorf("replicas: %+v", o.Replicas)
	}
	if got := []string{o.Repositories[0].Repository, o.Repositories[1].Repository, o.Repositories[2].Repository}; got[0] != "p/apache" || got[1] != "p/nginx" || got[2] != "p/zzz" {
		t.Errorf("repositories order: %v", got)
	}
	var states []State
	for _, p := range o.Problems {
		states = append(states, p.State)
	}
	if len(states) != 4 || states[0] != Failing || states[1] != Rejected || states[2] != Shadowed || states[3] != NotAPackage {
		t.Errorf("problems: %v", states)
	}

	p, err := r.Package(ctx, "nginx", Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Tags) != 3 || p.Tags[2].State != Served || p.Tags[2].InSync == nil || !*p.Tags[2].InSync {
		t.Errorf("package: %+v", p.Tags)
	}
	p, _ = r.Package(ctx, "nginx", Filter{Version: "1.1.0"})
	if len(p.Tags) != 1 || p.Tags[0].Rule != "manifest" {
		t.Errorf("package version filter: %+v", p.Tags)
	}
	rs, found, err := r.Repository(ctx, "p/nginx", Filter{Limit: 2})
	if err != nil || !found || len(rs.Tags) != 2 || rs.Truncated != 1 || rs.Repository.Counts[Rejected] != 1 {
		t.Errorf("repository: %+v %v %v", rs, found, err)
	}
	if _, found, _ := r.Repository(ctx, "nope", Filter{}); found {
		t.Error("unknown repository found")
	}
	o, _ = r.Overall(ctx, Filter{Query: "503"})
	if len(o.Problems) != 1 || o.Problems[0].Name != "apache" {
		t.Errorf("query: %+v", o.Problems)
	}
	// A search finds served tags too, and narrows the repositories to those it names.
	o, _ = r.Overall(ctx, Filter{Query: "NGINX"})
	if len(o.Problems) != 4 || o.Problems[len(o.Problems)-1].State != Served || len(o.Repositories) != 1 || o.Repositories[0].Repository != "p/nginx" {
		t.Errorf("query nginx: problems %+v, repositories %+v", o.Problems, o.Repositories)
	}
}

// A served tag that the answering process does not serve (not applied yet, or the other
// layout's copy still served) is not in sync.
func TestServedTagNotYetServedHereIsNotInSync(t *testing.T) {
	m := NewMemory()
	put(t, m, TagKey(Tag{Repository: "p/nginx", Tag: "1.0.0", Name: "nginx", Version: "1.0.0", State: Served}),
		Tag{Repository: "p/nginx", Tag: "1.0.0", Name: "nginx", Version: "1.0.0", State: Served, Digest: "sha256:a"})
	put(t, m, TagKey(Tag{Repository: "p/nginx", Tag: "2.0.0", Name: "nginx", Version: "2.0.0", State: Served}),
		Tag{Repository: "p/nginx", Tag: "2.0.0", Name: "nginx", Version: "2.0.0", State: Served, Digest: "sha256:b"})
	r := Reader{Store: m, Index: servedIndex{"nginx@2.0.0": {"p", "nginx-2.0.0", "sha256:c"}}}
	p, err := r.Package(context.Background(), "nginx", Filter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range p.Tags {
		if tg.InSync == nil || *tg.InSync || tg.IndexDigest != "" {
			t.Errorf("%s: in sync %v, index digest %q; want not in sync, no digest", tg.Tag, tg.InSync, tg.IndexDigest)
		}
	}
}

func TestClip(t *testing.T) {
	long := string(make([]byte, MaxText*2))
	if got := Clip(long); len(got) > MaxText {
		t.Errorf("Clip kept %d bytes", len(got))
	}
	if Clip("short") != "short" {
		t.Error("Clip changed a short text")
	}
}

// listCounter records every key a Store's List returned.
type listCounter struct {
	*Memory
	keys []string
}

func (l *listCounter) List(ctx context.Context, filter string) (map[string][]byte, error) {
	m, err := l.Memory.List(ctx, filter)
	for k := range m {
		l.keys = append(l.keys, k)
	}
	return m, err
}

// The overview reads the tags of the problem states by key: served tags, most of a registry's,
// are not read unless a state or a search asks for them.
func TestOverviewDoesNotReadServedTags(t *testing.T) {
	ctx := context.Background()
	store := &listCounter{Memory: NewMemory()}
	for i, st := range []State{Served, Served, Rejected, Failing} {
		tg := Tag{Repository: "p/nginx", Tag: fmt.Sprintf("1.%d.0", i), Name: "nginx", Version: fmt.Sprintf("1.%d.0", i), State: st}
		put(t, store, TagKey(tg), tg)
	}
	o, err := Reader{Store: store}.Overall(ctx, Filter{})
	if err != nil || len(o.Problems) != 2 {
		t.Fatalf("problems %+v, %v", o.Problems, err)
	}
	for _, k := range store.keys {
		if strings.HasPrefix(k, prefixTag+string(Served)+".") {
			t.Errorf("the overview read the served tag %s", k)
		}
	}
	store.keys = nil
	if o, _ := (Reader{Store: store}).Overall(ctx, Filter{State: Served}); len(o.Problems) != 2 {
		t.Errorf("state=served: %+v", o.Problems)
	}
}
