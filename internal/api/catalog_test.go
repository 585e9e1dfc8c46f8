package api

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/oci-epr/package-registry/internal/index"
	"github.com/oci-epr/package-registry/internal/packages"
)

// TestApplyMatchesRebuild applies random batches of puts and deletes and checks every snapshot
// against a model, across many overlay compactions: names sorted, counts, and lookups.
func TestApplyMatchesRebuild(t *testing.T) {
	for _, tc := range []struct {
		name             string
		names, batches   int
		maxBatch         int
		deleteOneInEvery int
	}{
		{name: "single changes", names: 40, batches: 600, maxBatch: 1, deleteOneInEvery: 3},
		{name: "small batches", names: 200, batches: 300, maxBatch: 8, deleteOneInEvery: 4},
		{name: "catch-up batches", names: 300, batches: 20, maxBatch: 400, deleteOneInEvery: 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, uint64(tc.names)))
			c, err := NewCatalog(nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			model := map[string]map[string]bool{}
			versions := []string{"0.1.0", "1.0.0", "1.1.0", "2.0.0-beta1"}
			for b := 0; b < tc.batches; b++ {
				var changes []index.Change
				for k := 1 + r.IntN(tc.maxBatch); k > 0; k-- {
					name, version := fmt.Sprintf("p_%03d", r.IntN(tc.names)), versions[r.IntN(len(versions))]
					if r.IntN(tc.deleteOneInEvery) == 0 {
						changes = append(changes, index.Change{Key: index.Key(name, version)})
						if model[name] != nil {
							delete(model[name], version)
							if len(model[name]) == 0 {
								delete(model, name)
							}
						}
						continue
					}
					changes = append(changes, index.Change{Key: index.Key(name, version), Record: docRecord(t, pk(name, version))})
					if model[name] == nil {
						model[name] = map[string]bool{}
					}
					model[name][version] = true
				}
				c.Apply(changes)
				checkSnapshot(t, b, c.Snapshot(), model, tc.names, versions)
			}
		})
	}
}

func checkSnapshot(t *testing.T, batch int, s *Snapshot, model map[string]map[string]bool, names int, versions []string) {
	t.Helper()
	var wantNames []string
	want := 0
	for n, vs := range model {
		wantNames = append(wantNames, n)
		want += len(vs)
	}
	sort.Strings(wantNames)
	if s.Len() != want || !slices.Equal(s.names, wantNames) {
		t.Fatalf("batch %d: %d versions, names %v; want %d, %v", batch, s.Len(), s.names, want, wantNames)
	}
	for i := 0; i < names; i++ {
		name := fmt.Sprintf("p_%03d", i)
		for _, v := range versions {
			if _, ok := s.Lookup(name, v); ok != model[name][v] {
				t.Fatalf("batch %d: Lookup(%s, %s) = %v", batch, name, v, ok)
			}
		}
		if g := s.group(name); (g != nil) != (model[name] != nil) || (g != nil && len(g.versions) != len(model[name])) {
			t.Fatalf("batch %d: group %s holds %v, want %v", batch, name, g, model[name])
		}
	}
}

func TestConcurrentMissesRenderOnce(t *testing.T) {
	// In a synctest bubble, Wait returns once every caller is blocked: the renderer on release,
	// the others on its flight. No sleep guesses when they got there.
	synctest.Test(t, func(t *testing.T) { concurrentMissesRenderOnce(t) })
}

func concurrentMissesRenderOnce(t *testing.T) {
	var c responseCache
	var calls atomic.Int32
	release := make(chan struct{})
	k := cacheKey{kindSearch, "all=true"}
	const callers = 8
	got := make(chan *cachedResponse, callers)
	for range callers {
		go func() {
			r, err := c.render(k, 1<<20, true, func() ([]byte, error) {
				calls.Add(1)
				<-release
				return []byte("[]"), nil
			})
			if err != nil {
				t.Error(err)
			}
			got <- r
		}()
	}
	synctest.Wait()
	if len(got) != 0 {
		t.Fatal("a caller finished before the render was released")
	}
	close(release)
	first := <-got
	for range callers - 1 {
		if r := <-got; r != first {
			t.Error("callers got different responses")
		}
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("rendered %d times, want 1", n)
	}
	if r, ok := c.get(k); !ok || r != first {
		t.Error("the render was not cached")
	}
	if _, err := c.render(cacheKey{kindSearch, "x"}, 1<<20, true, func() ([]byte, error) { return nil, errors.New("boom") }); err == nil {
		t.Error("a failed render gave no error")
	}
}

// An unrelated change keeps a version's rendered document: it lives with the entry, which the
// next snapshot shares.
func TestPackageResponseSurvivesUnrelatedChange(t *testing.T) {
	c, err := NewCatalog(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Load([]*index.Record{docRecord(t, pk("a", "1.0.0")), docRecord(t, pk("b", "1.0.0"))})
	e, _ := c.Snapshot().Lookup("a", "1.0.0")
	before, err := e.packageResponse(true)
	if err != nil {
		t.Fatal(err)
	}
	c.Apply([]index.Change{{Key: "b/1.1.0", Record: docRecord(t, pk("b", "1.1.0"))}})
	e, _ = c.Snapshot().Lookup("a", "1.0.0")
	if after, _ := e.packageResponse(true); after != before {
		t.Error("a's document was rendered again after a change to b")
	}
	c.Apply([]index.Change{{Key: "a/1.0.0", Record: docRecord(t, pk("a", "1.0.0", func(p *packages.Package) { p.Description = "new" }))}})
	e, _ = c.Snapshot().Lookup("a", "1.0.0")
	if after, _ := e.packageResponse(true); after == before || !bytes.Contains(after.body, []byte(`"new"`)) {
		t.Error("a's changed document was not rendered again")
	}
}
