package api

import (
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oci-epr/package-registry/internal/index"
	"github.com/oci-epr/package-registry/internal/store"
	"github.com/oci-epr/package-registry/internal/testkit"
)

const mockWarning = "no package is indexed"

// startFromStore builds a server as a replica starts: New, then Load of what index.Load reads from its bbolt file
// holding recs. It returns the server and its log.
func startFromStore(t *testing.T, recs []*index.Record) (*testServer, *testkit.SyncBuffer) {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "replica.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var changes []store.PackageChange
	for _, r := range recs {
		enc, err := index.Encode(r)
		if err != nil {
			t.Fatal(err)
		}
		changes = append(changes, store.PackageChange{Key: r.Key(), Value: enc})
	}
	if len(changes) > 0 {
		if err := db.ApplyPackages(changes, 3); err != nil {
			t.Fatal(err)
		}
	}
	logs := &testkit.SyncBuffer{}
	blobs := newFakeBlobs(t)
	s, err := New(DefaultConfig(), blobs, slog.New(slog.NewTextHandler(logs, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := index.Load(db, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	s.Load(loaded)
	s.SetReady(true)
	return &testServer{Server: s, blobs: blobs}, logs
}

// A replica whose store holds an index does not announce mock packages at start; one with an
// empty store does, once.
func TestMockWarningOnlyWithoutAnIndex(t *testing.T) {
	recs := fixtureRecords(t, newFakeBlobs(t))
	_, logs := startFromStore(t, recs)
	if strings.Contains(logs.String(), mockWarning) {
		t.Errorf("a replica with %d stored records warned about mock packages:\n%s", len(recs), logs)
	}
	_, logs = startFromStore(t, nil)
	if n := strings.Count(logs.String(), mockWarning); n != 1 {
		t.Errorf("an empty replica warned %d times, want once:\n%s", n, logs)
	}
}

// Mock answers are not cacheable: the real index replaces them as soon as the replica reaches
// it. Real answers keep their configured cache time.
func TestMockAnswersAreNotCached(t *testing.T) {
	ts, _ := startFromStore(t, nil)
	for _, target := range []string{"/search", "/categories", "/", "/package/mock_logs/1.0.0/", "/epr/mock_logs/mock_logs-1.0.0.zip", "/health"} {
		w := ts.get(target)
		if w.Header().Get(hSource) != "mock" {
			t.Fatalf("%s: %d, %s=%q; want a mock answer", target, w.Code, hSource, w.Header().Get(hSource))
		}
		if got := strings.Join(w.Header().Values(hCacheControl), ", "); w.Code == 200 && got != "max-age=0, private, no-store" {
			t.Errorf("%s (mock): Cache-Control %q, want max-age=0, private, no-store", target, got)
		}
	}
	ts.Load(fixtureRecords(t, ts.blobs))
	w := ts.get("/search")
	if w.Header().Get(hSource) == "mock" || !strings.Contains(strings.Join(w.Header().Values(hCacheControl), ", "), "public") {
		t.Errorf("real /search: %s=%q, Cache-Control %q", hSource, w.Header().Get(hSource), w.Header().Values(hCacheControl))
	}
}
