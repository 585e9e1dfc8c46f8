package api

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/oci-epr/package-registry/internal/index"
	"github.com/oci-epr/package-registry/internal/packages"
	"github.com/oci-epr/package-registry/internal/store"
)

func TestLoadStore(t *testing.T) {
	db, err := store.Open(filepath.Join(t.TempDir(), "replica.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	blobs := newFakeBlobs(t)
	var changes []store.PackageChange
	for _, r := range fixtureRecords(t, blobs) {
		enc, err := index.Encode(r)
		if err != nil {
			t.Fatal(err)
		}
		changes = append(changes, store.PackageChange{Key: r.Key(), Value: enc})
	}
	changes = append(changes, store.PackageChange{Key: "broken/1.0.0", Value: []byte("not gzip")})
	if err := db.ApplyPackages(changes, 7); err != nil {
		t.Fatal(err)
	}
	s, err := New(DefaultConfig(), blobs, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.LoadStore(db); err != nil {
		t.Fatal(err)
	}
	if snap := s.Catalog().Snapshot(); snap.Mock() || snap.Len() != len(changes)-1 {
		t.Errorf("loaded %d (mock %v), want %d", snap.Len(), snap.Mock(), len(changes)-1)
	}
}

// Rendering cannot fail for documents that came through JSON, so the
// failure row of §6 is exercised with a hand-made snapshot.
func TestRenderFailures(t *testing.T) {
	ts := newTestServer(t, DefaultConfig(), true)
	bad := pk("bad", "1.0.0")
	bad.Vars = []packages.Variable{{Name: "v", Type: "text", Default: json.RawMessage("{not json")}}
	f := &facts{rec: docRecord(t, pk("bad", "1.0.0")), doc: bad}
	f.ver, _ = packages.ParseVersion("1.0.0")
	e := &Entry{facts: f, Package: bad}
	g := &group{versions: []*Entry{e}, byVersion: map[string]*Entry{"1.0.0": e}}
	ts.Catalog().cur.Store(&Snapshot{gen: 99, names: []string{"bad"}, groups: map[string]*group{"bad": g}, count: 1})

	// Search items hold no free-form JSON, so /search cannot fail this way
	// (its 404 "fetching package failed" row is unreachable from memory).
	if w := ts.get("/search"); w.Code != 200 {
		t.Errorf("search: %d", w.Code)
	}
	w := ts.get("/package/bad/1.0.0/")
	if w.Code != 500 || w.Body.String() != "internal server error\n" || w.Header().Get("Cache-Control") != "" {
		t.Errorf("package: %d %q %v", w.Code, w.Body.String(), w.Header())
	}
}
