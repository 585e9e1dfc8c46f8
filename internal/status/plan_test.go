package status

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

var (
	t0 = time.Date(2026, 12, 8, 1, 0, 0, 0, time.UTC)
	t1 = t0.Add(time.Minute)
)

func served(tag, digest string) Tag {
	return Tag{Repository: "p/nginx", Tag: tag, Name: "nginx", Version: tag, State: Served, Digest: digest}
}

func with(t Tag, f func(*Tag)) Tag { f(&t); return t }

func since(t Tag, at time.Time) Tag { t.Since = at; return t }

func TestPlan(t *testing.T) {
	next := t0.Add(10 * time.Minute)
	failing := with(served("1.0.0", "sha256:b"), func(t *Tag) { t.State, t.Error, t.NextAttempt = Failing, "fetch zip: 503", &next })
	rows := []struct {
		name     string
		prev     []Tag
		prevRepo *Repository
		report   Report
		// want: the tags after, by tag; puts and dels: the keys written.
		want       []Tag
		puts, dels []string
		repo       *Repository
	}{
		{name: "a new tag is put with Since the reconcile's start",
			report: Report{Repository: "p/nginx", At: t1, Listed: true, TagsListed: 1, Tags: []Tag{served("1.0.0", "sha256:a")}},
			want:   []Tag{since(served("1.0.0", "sha256:a"), t1)},
			puts:   []string{RepositoryKey("p/nginx"), TagKey(served("1.0.0", ""))},
			repo: &Repository{Repository: "p/nginx", TagsListed: 1, Counts: map[State]int{Served: 1},
				LastReconcile: &Reconcile{At: t1, Outcome: OutcomeOK}}},
		{name: "an unchanged tag keeps Since and is not written again",
			prev:     []Tag{since(served("1.0.0", "sha256:a"), t0)},
			prevRepo: &Repository{Repository: "p/nginx", TagsListed: 1, Counts: map[State]int{Served: 1}, LastReconcile: &Reconcile{At: t0, Outcome: OutcomeOK}},
			report:   Report{Repository: "p/nginx", At: t1, Listed: true, TagsListed: 1, Tags: []Tag{served("1.0.0", "sha256:a")}},
			want:     []Tag{since(served("1.0.0", "sha256:a"), t0)},
			puts:     []string{RepositoryKey("p/nginx")}},
		{name: "a new digest in the same state is written with a new Since",
			prev:   []Tag{since(served("1.0.0", "sha256:a"), t0)},
			report: Report{Repository: "p/nginx", At: t1, Listed: true, TagsListed: 1, Tags: []Tag{served("1.0.0", "sha256:b")}},
			want:   []Tag{since(served("1.0.0", "sha256:b"), t1)},
			puts:   []string{RepositoryKey("p/nginx"), TagKey(served("1.0.0", ""))}},
		{name: "a state change moves the entry to its new key",
			prev: []Tag{since(served("1.0.0", "sha256:a"), t0)},
			report: Report{Repository: "p/nginx", At: t1, Listed: true, TagsListed: 1,
				Tags: []Tag{with(served("1.0.0", "sha256:b"), func(t *Tag) { t.State, t.Rule, t.Message = Rejected, "manifest", "manifest.yml: version" })}},
			want: []Tag{since(with(served("1.0.0", "sha256:b"), func(t *Tag) { t.State, t.Rule, t.Message = Rejected, "manifest", "manifest.yml: version" }), t1)},
			puts: []string{RepositoryKey("p/nginx"), "tag.rejected.nginx.cC9uZ2lueA.MS4wLjA"},
			dels: []string{TagKey(served("1.0.0", ""))}},
		{name: "a tag gone from a complete listing loses its entry",
			prev:   []Tag{since(served("1.0.0", "sha256:a"), t0), since(served("1.1.0", "sha256:c"), t0)},
			report: Report{Repository: "p/nginx", At: t1, Listed: true, TagsListed: 1, Tags: []Tag{served("1.0.0", "sha256:a")}},
			want:   []Tag{since(served("1.0.0", "sha256:a"), t0)},
			puts:   []string{RepositoryKey("p/nginx")},
			dels:   []string{TagKey(served("1.1.0", ""))}},
		{name: "a repository with no tags loses its entry",
			prev:     []Tag{since(served("1.0.0", "sha256:a"), t0)},
			prevRepo: &Repository{Repository: "p/nginx"},
			report:   Report{Repository: "p/nginx", At: t1, Listed: true},
			dels:     []string{RepositoryKey("p/nginx"), TagKey(served("1.0.0", ""))}},
		{name: "a failed listing keeps every tag and says why on the repository",
			prev:     []Tag{since(served("1.0.0", "sha256:a"), t0)},
			prevRepo: &Repository{Repository: "p/nginx", TagsListed: 1},
			report:   Report{Repository: "p/nginx", At: t1, Took: 2 * time.Second, Error: "list tags: GET https://u:secret@r.example/v2/p/nginx/tags/list?token=abc: 401"},
			want:     []Tag{since(served("1.0.0", "sha256:a"), t0)},
			puts:     []string{RepositoryKey("p/nginx")},
			repo: &Repository{Repository: "p/nginx", TagsListed: 1, Counts: map[State]int{Served: 1},
				LastReconcile: &Reconcile{At: t1, TookMS: 2000, Outcome: OutcomeFailed, Error: "list tags: GET https://[redacted]@r.example/v2/p/nginx/tags/list?[redacted]: 401"}}},
		{name: "a failed listing of a repository never read still has an entry",
			report: Report{Repository: "p/nginx", At: t1, Error: "401"},
			puts:   []string{RepositoryKey("p/nginx")},
			repo:   &Repository{Repository: "p/nginx", LastReconcile: &Reconcile{At: t1, Outcome: OutcomeFailed, Error: "401"}}},
		{name: "a failing tag not resolved again stays failing",
			prev:   []Tag{since(failing, t0)},
			report: Report{Repository: "p/nginx", At: t1, Listed: true, TagsListed: 1, Tags: []Tag{served("1.0.0", "sha256:a")}, Kept: map[string]bool{"1.0.0": true}},
			want:   []Tag{since(failing, t0)},
			puts:   []string{RepositoryKey("p/nginx")}},
		{name: "a failing tag resolved again is served",
			prev:   []Tag{since(failing, t0)},
			report: Report{Repository: "p/nginx", At: t1, Listed: true, TagsListed: 1, Tags: []Tag{served("1.0.0", "sha256:b")}},
			want:   []Tag{since(served("1.0.0", "sha256:b"), t1)},
			puts:   []string{RepositoryKey("p/nginx"), TagKey(served("1.0.0", ""))},
			dels:   []string{TagKey(failing)}},
		{name: "a partial report changes only its tags and not the last reconcile",
			prev:     []Tag{since(served("1.0.0", "sha256:a"), t0), since(served("1.1.0", "sha256:c"), t0)},
			prevRepo: &Repository{Repository: "p/nginx", TagsListed: 2, Counts: map[State]int{Served: 2}, LastReconcile: &Reconcile{At: t0, Outcome: OutcomeOK}},
			report: Report{Repository: "p/nginx", At: t1, Partial: true,
				Tags: []Tag{with(served("1.1.0", "sha256:c"), func(t *Tag) { t.State, t.ShadowedBy = Shadowed, "p/nginx-other" })}},
			want: []Tag{since(served("1.0.0", "sha256:a"), t0), since(with(served("1.1.0", "sha256:c"), func(t *Tag) { t.State, t.ShadowedBy = Shadowed, "p/nginx-other" }), t1)},
			puts: []string{RepositoryKey("p/nginx"), "tag.shadowed.nginx.cC9uZ2lueA.MS4xLjA"},
			dels: []string{TagKey(served("1.1.0", ""))},
			repo: &Repository{Repository: "p/nginx", TagsListed: 2, Counts: map[State]int{Served: 1, Shadowed: 1}, LastReconcile: &Reconcile{At: t0, Outcome: OutcomeOK}}},
		{name: "texts are clipped and redacted",
			report: Report{Repository: "p/nginx", At: t1, Listed: true, TagsListed: 1,
				Tags: []Tag{with(served("1.0.0", "sha256:a"), func(t *Tag) { t.State, t.Error = Failing, strings.Repeat("x", 2*MaxText) })}},
			want: []Tag{since(with(served("1.0.0", "sha256:a"), func(t *Tag) { t.State, t.Error = Failing, Clip(strings.Repeat("x", 2*MaxText)) }), t1)},
			puts: []string{RepositoryKey("p/nginx"), "tag.failing.nginx.cC9uZ2lueA.MS4wLjA"}},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			prev := map[string]Tag{}
			for _, tg := range row.prev {
				prev[tg.Tag] = tg
			}
			next, repo, changes := plan(prev, row.prevRepo, row.report)
			want := map[string]Tag{}
			for _, tg := range row.want {
				want[tg.Tag] = tg
			}
			if !equalJSON(next, want) {
				t.Errorf("tags:\n got %+v\nwant %+v", next, want)
			}
			var puts, dels []string
			for _, c := range changes {
				if c.Tag != nil || c.Repo != nil {
					puts = append(puts, c.Key)
				} else {
					dels = append(dels, c.Key)
				}
			}
			if !slices.Equal(puts, row.puts) || !slices.Equal(dels, row.dels) {
				t.Errorf("puts %v dels %v, want %v %v", puts, dels, row.puts, row.dels)
			}
			if row.repo != nil && !equalJSON(repo, row.repo) {
				t.Errorf("repository:\n got %+v\nwant %+v", repo, row.repo)
			}
		})
	}
}

// countingStore counts the writes reaching a Memory.
type countingStore struct {
	*Memory
	mu         sync.Mutex
	puts, dels int
	fail       error
}

func (c *countingStore) Put(ctx context.Context, k string, v []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail != nil {
		return c.fail
	}
	c.puts++
	return c.Memory.Put(ctx, k, v)
}

func (c *countingStore) Delete(ctx context.Context, k string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail != nil {
		return c.fail
	}
	c.dels++
	return c.Memory.Delete(ctx, k)
}

func TestPublisherWritesChangesOnlyAndARestartNothing(t *testing.T) {
	ctx := context.Background()
	store := &countingStore{Memory: NewMemory()}
	report := Report{Repository: "p/nginx", At: t0, Listed: true, TagsListed: 3, Tags: []Tag{
		served("1.0.0", "sha256:a"), served("1.1.0", "sha256:b"),
		{Tag: "latest", State: NotAPackage}}}
	p := &Publisher{Store: store}
	p.Report(report)
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if store.puts != 4 || store.Len() != 4 {
		t.Fatalf("first reconcile: %d puts, %d entries, want 4", store.puts, store.Len())
	}

	// A NATS that is away: nothing lost, written when it is back.
	store.fail = fmt.Errorf("nats: timeout")
	moved := report
	moved.At = t1
	moved.Tags = slices.Clone(report.Tags)
	moved.Tags[1] = with(moved.Tags[1], func(t *Tag) { t.State, t.Rule = Rejected, "manifest" })
	p.Report(moved)
	if err := p.Flush(ctx); err == nil {
		t.Fatal("flush to a failing store succeeded")
	}
	store.fail = nil
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if store.puts != 6 || store.dels != 1 || store.Len() != 4 {
		t.Fatalf("move: %d puts %d dels %d entries", store.puts, store.dels, store.Len())
	}
	if got, _ := store.List(ctx, TagFilter(Filter{State: Rejected})); len(got) != 1 {
		t.Errorf("rejected entries: %v", got)
	}

	// A restart: seeded from the store, the same reconcile writes only its repository entry.
	restarted := &Publisher{Store: store}
	if err := restarted.Seed(ctx); err != nil {
		t.Fatal(err)
	}
	before := store.puts
	again := moved
	again.At = t1.Add(time.Hour)
	restarted.Report(again)
	if err := restarted.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if store.puts-before != 1 {
		t.Errorf("restart wrote %d entries, want the repository's only", store.puts-before)
	}
	if c := restarted.Counts(); c[Served] != 1 || c[Rejected] != 1 || c[NotAPackage] != 1 {
		t.Errorf("counts %v", c)
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"GET https://user:pw@reg.example/v2/x?token=s3cret: 401": "GET https://[redacted]@reg.example/v2/x?[redacted]: 401",
		"manifest.yml: is this right?":                           "manifest.yml: is this right?",
		"http://reg:5000/v2/":                                    "http://reg:5000/v2/",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPublisherCountsRefusedEntriesAndTagsByState(t *testing.T) {
	ctx := context.Background()
	store := &countingStore{Memory: NewMemory()}
	m := NewPublisherMetrics(prometheus.NewRegistry())
	p := &Publisher{Store: store, Metrics: m}
	p.Report(Report{Repository: "p/nginx", At: t0, Listed: true, TagsListed: 2, Tags: []Tag{
		served("1.0.0", "sha256:a"), with(served("1.1.0", "sha256:b"), func(t *Tag) { t.State = Rejected })}})
	store.fail = fmt.Errorf("%w: test", ErrTooBig)
	if err := p.Flush(ctx); err != nil {
		t.Fatalf("a refused entry stopped the writes: %v", err)
	}
	if got := testutil.ToFloat64(m.WriteRefused); got != 3 {
		t.Errorf("refused entries counted %v, want 3", got)
	}
	store.fail = nil
	if err := p.Flush(ctx); err != nil || store.puts != 0 {
		t.Errorf("refused entries written again: %d puts, %v", store.puts, err)
	}
	p.reportIndexer(ctx)
	if testutil.ToFloat64(m.Tags.WithLabelValues("served")) != 1 || testutil.ToFloat64(m.Tags.WithLabelValues("rejected")) != 1 ||
		testutil.ToFloat64(m.Tags.WithLabelValues("failing")) != 0 {
		t.Error("epr_indexer_tags by state")
	}
	if _, ok := store.Snapshot()[KeyIndexer]; !ok {
		t.Error("no indexer entry")
	}
}

// A status bucket that lost entries, or holds some not written by the indexer, is written
// again as the Publisher decided.
func TestPublisherVerifyRepairsTheStore(t *testing.T) {
	ctx := context.Background()
	store := &countingStore{Memory: NewMemory()}
	p := &Publisher{Store: store}
	p.Report(Report{Repository: "p/nginx", At: t0, Listed: true, TagsListed: 2, Tags: []Tag{served("1.0.0", "sha256:a"), served("1.1.0", "sha256:b")}})
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	want := store.Snapshot()
	_ = store.Memory.Delete(ctx, TagKey(served("1.0.0", "")))
	_ = store.Memory.Put(ctx, TagKey(served("9.9.9", "")), []byte(`{}`))
	_ = store.Memory.Put(ctx, RepositoryKey("p/nginx"), []byte(`{"repository":"p/nginx"}`))
	if err := p.Verify(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := store.Snapshot(); !equalJSON(got, want) {
		t.Errorf("after verify:\n got %s\nwant %s", got, want)
	}
	puts, dels := store.puts, store.dels
	if err := p.Verify(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Flush(ctx); err != nil || store.puts != puts || store.dels != dels {
		t.Errorf("a store as decided was written again: %v", err)
	}
}

// Redact never fails, leaves no user info before a host, and is stable.
func FuzzRedact(f *testing.F) {
	for _, s := range []string{"GET https://user:pw@reg.example/v2/x?token=s3cret: 401", "no url", "http://a@b@c/?", "x://", "https://h?q"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r := Redact(s)
		if Redact(r) != r {
			t.Errorf("Redact(%q) = %q, again %q", s, r, Redact(r))
		}
		for _, u := range urls.FindAllString(r, -1) {
			_, rest, _ := strings.Cut(u, "://")
			host, _, _ := strings.Cut(rest, "/")
			if at := strings.LastIndexByte(host, '@'); at >= 0 && host[:at] != "[redacted]" {
				t.Errorf("Redact(%q) = %q keeps user info %q", s, r, host[:at])
			}
		}
	})
}
