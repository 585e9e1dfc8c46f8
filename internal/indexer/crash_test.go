package indexer

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/oci-epr/package-registry/internal/index"
	"github.com/oci-epr/package-registry/internal/oci"
	"github.com/oci-epr/package-registry/internal/packages/packagetest"
)

// errCrash stands for the process dying at a fault point: the reconcile stops there and
// nothing after it runs.
var errCrash = errors.New("crash")

// crashAt makes the nth time a reconcile reaches point the one where it stops.
func crashAt(point FaultPoint, nth int) func(FaultPoint, string, string) error {
	var mu sync.Mutex
	seen := 0
	return func(p FaultPoint, _, _ string) error {
		mu.Lock()
		defer mu.Unlock()
		if p != point {
			return nil
		}
		seen++
		if seen == nth {
			return errCrash
		}
		return nil
	}
}

// expectBucketIsRegistry checks that the bucket holds exactly the package versions the
// registry's tags hold in repos, each the record of the manifest its tag resolves to now, whose
// zip is byte for byte the zip pushed (zips: package key → bytes pushed last).
func (h *harness) expectBucketIsRegistry(zips map[string][]byte, repos ...string) {
	h.t.Helper()
	ctx := h.t.Context()
	want := map[string]string{} // key → manifest digest
	for _, repo := range repos {
		tags, err := h.client.Tags(ctx, repo)
		if errors.Is(err, oci.ErrRepositoryNotFound) {
			continue
		}
		if err != nil {
			h.t.Fatal(err)
		}
		for _, tag := range tags {
			name, version, ok := Layout{Base: "packages"}.Candidate(repo, tag)
			if !ok {
				continue
			}
			desc, err := h.client.Resolve(ctx, repo, tag)
			if err != nil {
				h.t.Fatal(err)
			}
			want[index.Key(name, version)] = desc.Digest.String()
		}
	}
	docs := h.bucketDocs()
	if got, exp := sortedKeys(docs), sortedKeys(want); strings.Join(got, ",") != strings.Join(exp, ",") {
		h.t.Fatalf("bucket holds %v, the registry %v", got, exp)
	}
	for key, rec := range docs {
		if rec.ManifestDigest != want[key] {
			h.t.Fatalf("%s: bucket holds the record of %s, the registry's tag holds %s", key, rec.ManifestDigest, want[key])
		}
		if d := fmt.Sprintf("sha256:%x", sha256.Sum256(zips[key])); rec.Zip.Digest != d {
			h.t.Fatalf("%s: bucket serves zip %s, the zip pushed is %s", key, rec.Zip.Digest, d)
		}
		expectDoc(h.t, rec, zips[key])
	}
}

// A reconcile that dies after any of its steps, during a re-push of an existing version with
// other content (plus a new version and a deleted one in the same reconcile), leaves a bucket
// that a restart and its resync make equal to the registry, byte for byte, whatever the
// registry did while the indexer was down.
func TestCrashAtEachStepOfAReconcileIsRepairedByTheResync(t *testing.T) {
	const repo = "packages/flip"
	build := func(version, title string) []byte {
		return packagetest.Build(packagetest.Spec{Name: "flip", Version: version, Title: title})
	}
	older, before, after, added := build("0.9.0", "Older"), build("1.0.0", "Before"), build("1.0.0", "After"), build("2.0.0", "Added")
	meanwhile := map[string]func(h *harness, zips map[string][]byte){
		"registry unchanged": func(*harness, map[string][]byte) {},
		"tag moved back": func(h *harness, zips map[string][]byte) {
			h.push(repo, "1.0.0", before)
			zips["flip/1.0.0"] = before
		},
		"tags deleted": func(h *harness, zips map[string][]byte) {
			for _, tag := range []string{"1.0.0", "2.0.0"} {
				if err := h.client.DeleteTag(h.t.Context(), repo, tag); err != nil {
					h.t.Fatal(err)
				}
				delete(zips, "flip/"+tag)
			}
		},
	}
	for _, point := range []FaultPoint{FaultParsed, FaultPut, FaultDeleted, FaultCommitted} {
		for nth := 1; nth <= 2; nth++ {
			for what, change := range meanwhile {
				t.Run(fmt.Sprintf("%s#%d/%s", point, nth, what), func(t *testing.T) {
					h := newHarness(t)
					ctx := t.Context()
					zips := map[string][]byte{"flip/0.9.0": older, "flip/1.0.0": before}
					h.push(repo, "0.9.0", older)
					h.push(repo, "1.0.0", before)
					if err := h.ix.SyncAll(ctx); err != nil {
						t.Fatal(err)
					}
					h.expectBucketIsRegistry(zips, repo)

					// One reconcile sees a re-push, a new version and a deleted one.
					h.push(repo, "1.0.0", after)
					h.push(repo, "2.0.0", added)
					if err := h.client.DeleteTag(ctx, repo, "0.9.0"); err != nil {
						t.Fatal(err)
					}
					zips["flip/1.0.0"], zips["flip/2.0.0"] = after, added
					delete(zips, "flip/0.9.0")
					h.ix.cfg.Fault = crashAt(point, nth)
					err := h.ix.Request(ctx, repo, "1.0.0", "2.0.0")
					if err != nil && !errors.Is(err, errCrash) {
						t.Fatal(err)
					}
					h.ix.Close()
					h.stop()

					change(h, zips)
					h.start()
					if err := h.ix.SyncAll(ctx); err != nil {
						t.Fatal(err)
					}
					h.expectBucketIsRegistry(zips, repo)
				})
			}
		}
	}
}

// A bucket entry that holds another digest's record, and a key no tag provides, written behind
// the indexer's back (as a write decided on a stale read, or an operator, would leave them), are
// repaired by the next resync without any download.
func TestResyncRepairsADivergentBucket(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	const repo = "packages/flip"
	one := packagetest.Build(packagetest.Spec{Name: "flip", Version: "1.0.0", Title: "One"})
	two := packagetest.Build(packagetest.Spec{Name: "flip", Version: "2.0.0", Title: "Two"})
	h.push(repo, "1.0.0", one)
	h.push(repo, "2.0.0", two)
	if err := h.ix.SyncAll(ctx); err != nil {
		t.Fatal(err)
	}
	zips := map[string][]byte{"flip/1.0.0": one, "flip/2.0.0": two}
	h.expectBucketIsRegistry(zips, repo)

	// flip/1.0.0 now holds a record claiming 2.0.0's manifest and zip; ghost/1.0.0 appears.
	docs := h.bucketDocs()
	wrong := *docs["flip/1.0.0"]
	wrong.ManifestDigest, wrong.Zip, wrong.Document = docs["flip/2.0.0"].ManifestDigest, docs["flip/2.0.0"].Zip, docs["flip/2.0.0"].Document
	ghost := *docs["flip/2.0.0"]
	ghost.Name = "ghost"
	for key, rec := range map[string]*index.Record{"flip/1.0.0": &wrong, "ghost/2.0.0": &ghost} {
		enc, err := index.Encode(rec)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.bucket.Put(ctx, key, enc); err != nil {
			t.Fatal(err)
		}
	}
	h.counter.reset()
	if err := h.ix.SyncAll(ctx); err != nil {
		t.Fatal(err)
	}
	h.expectBucketIsRegistry(zips, repo)
	if got := h.counter.reset(); got["GET manifest"] != 0 || got["GET blob"] != 0 {
		t.Fatalf("repair downloaded: %v", got)
	}
	// Once repaired, a resync writes nothing.
	before, err := h.bucket.Revisions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.ix.SyncAll(ctx); err != nil {
		t.Fatal(err)
	}
	after, err := h.bucket.Revisions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(before) != fmt.Sprint(after) {
		t.Fatalf("a resync of a repaired bucket wrote: %v → %v", before, after)
	}
}
