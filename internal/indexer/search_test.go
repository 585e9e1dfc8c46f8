package indexer

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/oci-epr/package-registry/internal/packages/packagetest"
)

// zotSearchStandIn answers Zot's ImageList query from a map the test fills (repository → tag →
// digest). Zot cannot be installed here: this stands in for its search extension in front of
// the real distribution registry, answering in the form of Zot's documented schema. The plain
// OCI path is the one every other test runs against the real registry.
type zotSearchStandIn struct {
	mu      sync.Mutex
	digests map[string]map[string]string
	fail    atomic.Bool
}

var imageListRepo = regexp.MustCompile(`ImageList\(repo: "([^"]+)"`)

func (z *zotSearchStandIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if z.fail.Load() {
		http.Error(w, "search is down", http.StatusInternalServerError)
		return
	}
	raw, _ := io.ReadAll(r.Body)
	var req struct{ Query string }
	json.Unmarshal(raw, &req)
	m := imageListRepo.FindStringSubmatch(req.Query)
	if m == nil {
		w.Write([]byte(`{"errors":[{"message":"unsupported query"}],"data":null}`))
		return
	}
	z.mu.Lock()
	var results []map[string]string
	for tag, d := range z.digests[m[1]] {
		results = append(results, map[string]string{"RepoName": m[1], "Tag": tag, "Digest": d,
			"MediaType": "application/vnd.oci.image.manifest.v1+json", "ArtifactType": "application/vnd.elastic.package.v1"})
	}
	z.mu.Unlock()
	json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"ImageList": map[string]any{
		"Page": map[string]int{"TotalCount": len(results), "ItemCount": len(results)}, "Results": results}}})
}

// TestResyncUsesSearchDigests: with a search index, a resync of unchanged tags resolves
// nothing (no HEAD per tag); a digest the index reports differently is resolved; a failing
// index falls back to a HEAD per tag; nothing is deleted on the way.
func TestResyncUsesSearchDigests(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	zot := &zotSearchStandIn{digests: map[string]map[string]string{}}
	h.counter.mu.Lock()
	h.counter.search = zot
	h.counter.mu.Unlock()
	h.tagDigests = func(ctx context.Context, repo string) (map[string]string, error) {
		found, err := h.client.SearchTagDigests(ctx, repo)
		if err != nil {
			return nil, err
		}
		out := map[string]string{}
		for tag, d := range found {
			out[tag] = d.Digest.String()
		}
		return out, nil
	}
	h.stop()
	h.start()

	pkgs := packagetest.Many(6)
	for _, a := range pkgs {
		h.push("packages/"+a.Name, a.Version, a.Zip)
	}
	if err := h.ix.SyncAll(ctx); err != nil {
		t.Fatal(err)
	}
	want := strings.Join(sortedKeys(h.bucketDocs()), ",")
	if len(sortedKeys(h.bucketDocs())) != len(pkgs) {
		t.Fatalf("indexed %v", want)
	}
	// The search index now knows what the registry holds.
	zot.mu.Lock()
	for _, a := range pkgs {
		desc, err := h.client.Resolve(ctx, "packages/"+a.Name, a.Version)
		if err != nil {
			t.Fatal(err)
		}
		if zot.digests["packages/"+a.Name] == nil {
			zot.digests["packages/"+a.Name] = map[string]string{}
		}
		zot.digests["packages/"+a.Name][a.Version] = desc.Digest.String()
	}
	zot.mu.Unlock()

	tests := []struct {
		name      string
		prepare   func()
		wantHeads int
	}{
		{name: "index confirms every digest", prepare: func() {}, wantHeads: 0},
		{name: "index disagrees on one tag", wantHeads: 1, prepare: func() {
			zot.mu.Lock()
			zot.digests["packages/"+pkgs[0].Name][pkgs[0].Version] = "sha256:" + strings.Repeat("0", 64)
			zot.mu.Unlock()
		}},
		{name: "index fails", wantHeads: len(pkgs), prepare: func() { zot.fail.Store(true) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.prepare()
			skipped := testutil.ToFloat64(h.metrics.SearchSkippedResolves)
			h.counter.reset()
			if err := h.ix.SyncAll(ctx); err != nil {
				t.Fatal(err)
			}
			got := h.counter.reset()
			if got["HEAD manifest"] != tt.wantHeads || got["GET manifest"] != 0 || got["GET blob"] != 0 {
				t.Errorf("requests %v, want %d HEADs and no downloads", got, tt.wantHeads)
			}
			if got["tags"] != len(zot.digests)+1 { // listings stay the registry's (+ the base repository)
				t.Errorf("tag listings = %d, want %d", got["tags"], len(zot.digests)+1)
			}
			if n := testutil.ToFloat64(h.metrics.SearchSkippedResolves) - skipped; int(n) != len(pkgs)-tt.wantHeads {
				t.Errorf("resolves skipped = %v, want %d", n, len(pkgs)-tt.wantHeads)
			}
			if keys := strings.Join(sortedKeys(h.bucketDocs()), ","); keys != want {
				t.Errorf("bucket %v, want %v", keys, want)
			}
		})
	}
}
