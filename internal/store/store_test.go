package store

import (
	"path/filepath"
	"reflect"
	"testing"
)

func TestPackagesAndRevisionSurviveReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db", "state.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if rev, _ := db.KVRevision(); rev != 0 {
		t.Fatalf("fresh revision = %d", rev)
	}
	if err := db.ApplyPackages([]PackageChange{{Key: "a@1.0.0", Value: []byte("A1")}, {Key: "b@2.0.0", Value: []byte("B2")}}, 5); err != nil {
		t.Fatal(err)
	}
	if err := db.ApplyPackages([]PackageChange{{Key: "a@1.0.0"}, {Key: "c@0.1.0", Value: []byte("C")}}, 7); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rev, err := db.KVRevision()
	if err != nil || rev != 7 {
		t.Fatalf("revision = %d, %v; want 7", rev, err)
	}
	got := map[string]string{}
	if err := db.ForEachPackage(func(k string, v []byte) error { got[k] = string(v); return nil }); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"b@2.0.0": "B2", "c@0.1.0": "C"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("packages = %v, want %v", got, want)
	}
	if v, _ := db.Package("a@1.0.0"); v != nil {
		t.Fatalf("deleted package still present: %q", v)
	}
	if err := db.ReplacePackages(map[string][]byte{"z@1.0.0": []byte("Z")}, 9); err != nil {
		t.Fatal(err)
	}
	got = map[string]string{}
	_ = db.ForEachPackage(func(k string, v []byte) error { got[k] = string(v); return nil })
	if !reflect.DeepEqual(got, map[string]string{"z@1.0.0": "Z"}) {
		t.Fatalf("after replace: %v", got)
	}
	if rev, _ := db.KVRevision(); rev != 9 {
		t.Fatalf("revision after replace = %d", rev)
	}
}

func TestIndexerState(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tags := map[string]TagState{
		"1.0.0": {Digest: "sha256:aa", Key: "nginx@1.0.0"},
		"1.1.0": {Digest: "sha256:bb", Rejected: "docs/README.md missing"},
	}
	if err := db.SetTags("packages/nginx", tags); err != nil {
		t.Fatal(err)
	}
	got, err := db.Tags("packages/nginx")
	if err != nil || !reflect.DeepEqual(got, tags) {
		t.Fatalf("tags = %v, %v", got, err)
	}
	repos, _ := db.Repositories()
	if !reflect.DeepEqual(repos, []string{"packages/nginx"}) {
		t.Fatalf("repositories = %v", repos)
	}
	if err := db.SetTags("packages/nginx", map[string]TagState{"1.0.0": tags["1.0.0"]}); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.Tags("packages/nginx"); len(got) != 1 {
		t.Fatalf("SetTags did not replace: %v", got)
	}
	if err := db.SetTags("packages/nginx", nil); err != nil {
		t.Fatal(err)
	}
	if repos, _ := db.Repositories(); len(repos) != 0 {
		t.Fatalf("empty SetTags kept the repository: %v", repos)
	}
	ms := ManifestState{Key: "nginx/1.0.0", Record: []byte("encoded")}
	if err := db.PutManifest(ManifestID{Digest: "sha256:aa", Key: "nginx/1.0.0"}, ms); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := db.Manifest(ManifestID{Digest: "sha256:aa", Key: "nginx/1.0.0"}); err != nil || !ok || !reflect.DeepEqual(got, ms) {
		t.Fatalf("manifest = %+v %v %v", got, ok, err)
	}
	if _, ok, _ := db.Manifest(ManifestID{Digest: "sha256:zz", Key: "nginx/1.0.0"}); ok {
		t.Fatal("unknown manifest found")
	}
}

func TestSecondOpenWaitsThenFails(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := Open(path); err == nil {
		t.Fatal("second open of a locked file succeeded")
	}
}

func TestConflictIsNewOncePerCopy(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c := Conflict{Winner: "packages/victim", Digest: "sha256:aa"}
	for i, want := range []bool{true, false} {
		if isNew, err := db.RecordConflict("victim/1.0.0", "packages", c); err != nil || isNew != want {
			t.Fatalf("record %d: new %v, %v; want %v", i, isNew, err, want)
		}
	}
	c.Digest = "sha256:bb" // another copy in the same repository
	if isNew, _ := db.RecordConflict("victim/1.0.0", "packages", c); !isNew {
		t.Fatal("another digest is not news")
	}
	if err := db.ClearConflict("victim/1.0.0", "packages"); err != nil {
		t.Fatal(err)
	}
	if isNew, _ := db.RecordConflict("victim/1.0.0", "packages", c); !isNew {
		t.Fatal("a cleared conflict recorded again is not news")
	}
}

// Commit records tag states and bucket writes together; a nil write forgets the key.
func TestCommitRecordsTagsAndWrites(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "indexer.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tags := map[string]TagState{"1.0.0": {Digest: "sha256:a1", Key: "flip/1.0.0"}, "2.0.0": {Digest: "sha256:b2", Rejected: "broken"}}
	pub := map[string]*Published{"flip/1.0.0": {Repository: "packages/flip", Tag: "1.0.0", Digest: "sha256:a1", Revision: 7}}
	if err := db.Commit("packages/flip", tags, pub); err != nil {
		t.Fatal(err)
	}
	got, err := db.PublishedOf([]string{"flip/1.0.0", "flip/2.0.0"})
	if err != nil || !reflect.DeepEqual(got, map[string]Published{"flip/1.0.0": *pub["flip/1.0.0"]}) {
		t.Fatalf("published %v %v", got, err)
	}
	if keys, err := db.ProvidedKeys(); err != nil || !reflect.DeepEqual(keys, map[string]bool{"flip/1.0.0": true}) {
		t.Fatalf("provided %v %v", keys, err)
	}
	if err := db.Commit("packages/flip", nil, map[string]*Published{"flip/1.0.0": nil}); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.PublishedOf([]string{"flip/1.0.0"}); len(got) != 0 {
		t.Fatalf("a nil write kept %v", got)
	}
	if keys, _ := db.ProvidedKeys(); len(keys) != 0 {
		t.Fatalf("forgotten repository still provides %v", keys)
	}
}

// A ManifestID's stored key is the one stores written before the type held, so an upgrade
// reads what they parsed instead of downloading it again.
func TestManifestIDKeepsTheStoredKey(t *testing.T) {
	for id, want := range map[ManifestID]string{
		{Digest: "sha256:aa", Key: "nginx/1.0.0"}:                                "sha256:aa nginx/1.0.0",
		{Digest: "sha256:aa", Key: "nginx/1.0.0", Policy: "novalidation,signed"}: "sha256:aa nginx/1.0.0 novalidation,signed",
	} {
		if got := string(id.bytes()); got != want {
			t.Errorf("%+v stored as %q, want %q", id, got, want)
		}
	}
}
