package status

import (
	"testing"
	"time"
)

// fixtureNow is the clock of the fixture: ages on the page are told from it.
var fixtureNow = time.Date(2026, 12, 8, 1, 30, 0, 0, time.UTC)

// fixture is a store holding a tag in every state, repositories that failed and that did not,
// an indexer report and two replicas (one stale), as the indexer and the replicas write them.
func fixture(t *testing.T) (Reader, *Memory) {
	t.Helper()
	m := NewMemory()
	ago := func(d time.Duration) time.Time { return fixtureNow.Add(-d) }
	next := fixtureNow.Add(40 * time.Second)
	start, end := ago(4*time.Minute), ago(3*time.Minute)
	digest := func(c string) string {
		b := make([]byte, 64)
		for i := range b {
			b[i] = c[0]
		}
		return "sha256:" + string(b)
	}
	tags := []Tag{
		{Repository: "packages/nginx", Tag: "1.20.0", Name: "nginx", Version: "1.20.0", State: Served, Digest: digest("a"), Since: ago(2 * time.Hour)},
		{Repository: "packages/nginx", Tag: "1.21.0", Name: "nginx", Version: "1.21.0", State: Rejected, Digest: digest("b"),
			Rule: "manifest", Message: `manifest.yml: field "version": "1.21" is not a semantic version`, Since: ago(5 * time.Minute)},
		{Repository: "packages/nginx", Tag: "1.22.0", Name: "nginx", Version: "1.22.0", State: AwaitingSignature, Digest: digest("c"),
			Rule: "missing_signature", Message: "no signature referrer yet", Since: ago(10 * time.Minute)},
		{Repository: "packages", Tag: "nginx-1.20.0", Name: "nginx", Version: "1.20.0", State: Shadowed, Digest: digest("d"),
			ShadowedBy: "packages/nginx", Since: ago(time.Hour)},
		{Repository: "packages/nginx", Tag: "latest", State: NotAPackage, Digest: digest("e"),
			ArtifactType: "application/vnd.oci.image.config.v1+json", Since: ago(3 * time.Hour)},
		{Repository: "packages/apache", Tag: "2.4.1", Name: "apache", Version: "2.4.1", State: Failing, Digest: digest("f"),
			Error: "fetching the zip: registry answered 503 Service Unavailable", NextAttempt: &next, Since: ago(90 * time.Second)},
		{Repository: "packages/apache", Tag: "2.4.0", Name: "apache", Version: "2.4.0", State: Served, Digest: digest("0"), Since: ago(26 * time.Hour)},
		{Repository: "teams/security/endpoint", Tag: "8.17.0", Name: "endpoint", Version: "8.17.0", State: Served, Digest: digest("1"), Since: ago(48 * time.Hour)},
	}
	for _, tg := range tags {
		put(t, m, TagKey(tg), tg)
	}
	put(t, m, KeyIndexer, Indexer{RegistryReachable: true, LastResync: Resync{Start: &start, End: &end, Failed: 1},
		StreamPending: 2, IndexRevision: 42, UpdatedAt: ago(5 * time.Second),
		Counts: map[State]int{Served: 3, Rejected: 1, AwaitingSignature: 1, Shadowed: 1, NotAPackage: 1, Failing: 1}})
	put(t, m, ReplicaKey("api-0"), Replica{ID: "api-0", AppliedRevision: 42, UpdatedAt: ago(3 * time.Second)})
	put(t, m, ReplicaKey("api-1"), Replica{ID: "api-1", AppliedRevision: 39, UpdatedAt: ago(5 * time.Minute)})
	put(t, m, RepositoryKey("packages/nginx"), Repository{Repository: "packages/nginx", TagsListed: 4,
		LastReconcile: &Reconcile{At: ago(5 * time.Minute), TookMS: 212, Outcome: OutcomeOK},
		Counts:        map[State]int{Served: 1, Rejected: 1, AwaitingSignature: 1, NotAPackage: 1}})
	put(t, m, RepositoryKey("packages/apache"), Repository{Repository: "packages/apache", TagsListed: 2,
		LastReconcile: &Reconcile{At: ago(90 * time.Second), TookMS: 1530, Outcome: OutcomeFailed, Error: "2.4.1: fetching the zip: registry answered 503 Service Unavailable"},
		Counts:        map[State]int{Served: 1, Failing: 1}})
	put(t, m, RepositoryKey("packages"), Repository{Repository: "packages", TagsListed: 1,
		LastReconcile: &Reconcile{At: ago(4 * time.Minute), TookMS: 48, Outcome: OutcomeOK}, Counts: map[State]int{Shadowed: 1}})
	put(t, m, RepositoryKey("teams/security/endpoint"), Repository{Repository: "teams/security/endpoint", TagsListed: 1,
		LastReconcile: &Reconcile{At: ago(4 * time.Minute), TookMS: 35, Outcome: OutcomeOK}, Counts: map[State]int{Served: 1}})
	idx := servedIndex{
		"nginx@1.20.0":    {"packages/nginx", "1.20.0", digest("a")},
		"apache@2.4.0":    {"packages/apache", "2.4.0", digest("0")},
		"endpoint@8.17.0": {"teams/security/endpoint", "8.17.0", digest("9")}, // the index lags behind a re-push
	}
	return Reader{Store: m, Index: idx, Now: func() time.Time { return fixtureNow }}, m
}
