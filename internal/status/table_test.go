package status

import (
	"strings"
	"testing"
	"time"
)

// The tables put problems first, keep every tag on its line, and say what was left out.
func TestTables(t *testing.T) {
	at := time.Date(2026, 12, 8, 1, 2, 3, 0, time.UTC)
	yes := true
	tags := []Tag{
		{Repository: "packages/nginx", Tag: "1.19.0", Name: "nginx", Version: "1.19.0", State: Served, Digest: "sha256:0123456789abcdef", Since: at, InSync: &yes},
		{Repository: "packages/nginx", Tag: "1.20.0", Name: "nginx", Version: "1.20.0", State: Rejected, Rule: "manifest",
			Message: "manifest.yml:\n\tline 3\x1b[2J", Since: at},
		{Repository: "packages/nginx", Tag: "1.21.0", Name: "nginx", Version: "1.21.0", State: Failing, Error: "registry: 503", Since: at},
	}
	var b strings.Builder
	if err := WritePackage(&b, PackageStatus{Name: "nginx", Tags: tags, Truncated: 7}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 5 {
		t.Fatalf("%d lines:\n%s", len(lines), b.String())
	}
	for i, want := range []string{"STATE", "failing", "rejected", "served", "… and 7 more"} {
		if !strings.HasPrefix(lines[i], want) {
			t.Errorf("line %d = %q, want it to start with %q", i, lines[i], want)
		}
	}
	if !strings.Contains(lines[2], "rule manifest: manifest.yml:  line 3 [2J") || !strings.Contains(lines[3], "sha256:0123456789ab ") ||
		!strings.Contains(lines[3], "in sync") || !strings.Contains(lines[1], "2026-12-08T01:02:03Z") {
		t.Errorf("cells:\n%s", b.String())
	}

	b.Reset()
	start, end := at, at.Add(1500*time.Millisecond)
	err := WriteOverall(&b, Overall{
		Indexer: &Indexer{RegistryReachable: false, RegistryError: "dial tcp: refused", LastResync: Resync{Start: &start, End: &end, Failed: 1},
			StreamPending: 3, IndexRevision: 42, Counts: map[State]int{Served: 10, Rejected: 2}, UpdatedAt: at},
		Replicas:     []Replica{{ID: "api-0", AppliedRevision: 40, Lag: new(uint64(2)), UpdatedAt: at, Stale: true}},
		Repositories: []Repository{{Repository: "packages/nginx", TagsListed: 12, Counts: map[State]int{Served: 10, Rejected: 2}, LastReconcile: &Reconcile{At: at, TookMS: 12, Outcome: OutcomeOK}}},
		Problems:     tags[1:2],
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"UNREACHABLE: dial tcp: refused", "took 1.5s, 1 repositories failed", "events pending  3", "rejected 2, served 10",
		"rejected  nginx@1.20.0", "packages/nginx  2026-12-08T01:02:03Z  12ms", "api-0    40                2    2026-12-08T01:02:03Z (STALE)"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("overall lacks %q:\n%s", want, b.String())
		}
	}
}
