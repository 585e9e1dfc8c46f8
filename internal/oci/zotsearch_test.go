package oci

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
)

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "zot", name))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestParseZotImageList(t *testing.T) {
	tests := []struct {
		fixture      string
		body         string // instead of a fixture
		wantErr      bool
		total, items int
		tags         map[string]string // tag → artifact type
	}{
		{fixture: "imagelist.json", total: 2, items: 2, tags: map[string]string{
			"1.20.0": "application/vnd.elastic.package.v1",
			"sha256-5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270": ""}},
		{fixture: "imagelist-page1.json", total: 3, items: 1, tags: map[string]string{"1.19.0": "application/vnd.elastic.package.v1"}},
		{fixture: "imagelist-error.json", wantErr: true},
		{fixture: "imagelist-bad-digest.json", wantErr: true},
		{fixture: "repolist.json", wantErr: true},                                                            // the other query's answer
		{body: `{"data":{"ImageList":{"Results":[]}}}`, wantErr: true},                                       // no Page
		{body: `{"data":{"ImageList":{"Page":{"TotalCount":5,"ItemCount":2},"Results":[]}}}`, wantErr: true}, // claims more than it holds
		{body: `{"data":{"ImageList":{"Page":{"TotalCount":0,"ItemCount":0},"Results":[]}}}`},
		{body: `not json`, wantErr: true},
	}
	for _, tt := range tests {
		name := tt.fixture
		if name == "" {
			name = tt.body
		}
		t.Run(name, func(t *testing.T) {
			body := []byte(tt.body)
			if tt.fixture != "" {
				body = readFixture(t, tt.fixture)
			}
			page, err := ParseZotImageList(body)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("want error, got %+v", page)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if page.Total != tt.total || page.Items != tt.items || len(page.Images) != len(tt.tags) {
				t.Fatalf("page %+v", page)
			}
			for _, img := range page.Images {
				if at, ok := tt.tags[img.Tag]; !ok || at != img.ArtifactType || img.Repository != "packages/nginx" || img.Digest.Validate() != nil {
					t.Errorf("unexpected image %+v", img)
				}
			}
		})
	}
}

func TestParseZotRepoList(t *testing.T) {
	page, err := ParseZotRepoList(readFixture(t, "repolist.json"))
	if err != nil || fmt.Sprint(page.Names) != "[packages/nginx packages/apache]" || page.Total != 2 {
		t.Fatalf("repolist.json: %+v, %v", page, err)
	}
	for _, bad := range []string{`{"data":{"RepoListWithNewestImage":{"Page":{"TotalCount":1,"ItemCount":1},"Results":[{"Name":"Bad Name"}]}}}`,
		string(readFixture(t, "imagelist.json")), `{"errors":[{"message":"boom"}]}`} {
		if _, err := ParseZotRepoList([]byte(bad)); err == nil {
			t.Errorf("ParseZotRepoList(%s): want error", bad)
		}
	}
}

func FuzzParseZotImageList(f *testing.F) {
	for _, n := range []string{"imagelist.json", "imagelist-page1.json", "imagelist-error.json", "imagelist-bad-digest.json"} {
		f.Add(readFixture(f, n))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		page, err := ParseZotImageList(body)
		if err != nil {
			return
		}
		if page.Items != len(page.Images) {
			t.Fatalf("page holds %d images, says %d", len(page.Images), page.Items)
		}
		for _, img := range page.Images {
			if img.Digest.Validate() != nil || img.Tag == "" {
				t.Fatalf("accepted an invalid image %+v", img)
			}
		}
	})
}

func FuzzParseZotRepoList(f *testing.F) {
	f.Add(readFixture(f, "repolist.json"))
	f.Fuzz(func(t *testing.T, body []byte) {
		page, err := ParseZotRepoList(body)
		if err == nil && page.Items != len(page.Names) {
			t.Fatalf("page holds %d names, says %d", len(page.Names), page.Items)
		}
	})
}

// fakeZot answers Zot's search queries for one repository of n tags, paged as Zot pages
// (limit and offset). Zot cannot be installed here, so this httptest server stands in for its
// search extension, answering in the form of its documented schema; the plain OCI path is
// the one tested against the real registry.
func fakeZot(t *testing.T, repo string, n int) (*httptest.Server, *int) {
	t.Helper()
	queries := 0
	pageArgs := regexp.MustCompile(`limit: (\d+), offset: (\d+)`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != zotSearchPath || r.Method != http.MethodPost {
			http.NotFound(w, r)
			return
		}
		queries++
		var req struct{ Query string }
		raw, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(raw, &req); err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		m := pageArgs.FindStringSubmatch(req.Query)
		if m != nil && regexp.MustCompile(`^\{ RepoListWithNewestImage\(`).MatchString(req.Query) {
			// Two repositories, one per page of one, to exercise paging.
			offset, _ := strconv.Atoi(m[2])
			names := []string{repo, repo + "-other"}
			var results []map[string]string
			if offset < len(names) {
				results = append(results, map[string]string{"Name": names[offset]})
			}
			json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"RepoListWithNewestImage": map[string]any{
				"Page": map[string]int{"TotalCount": len(names), "ItemCount": len(results)}, "Results": results}}})
			return
		}
		if m == nil || !regexp.MustCompile(`ImageList\(repo: "`+regexp.QuoteMeta(repo)+`"`).MatchString(req.Query) {
			w.Write([]byte(`{"errors":[{"message":"unexpected query"}],"data":null}`))
			return
		}
		limit, _ := strconv.Atoi(m[1])
		offset, _ := strconv.Atoi(m[2])
		var results []map[string]string
		for i := offset; i < n && i < offset+limit; i++ {
			results = append(results, map[string]string{"RepoName": repo, "Tag": fmt.Sprintf("1.0.%d", i),
				"Digest": fmt.Sprintf("sha256:%064x", i), "MediaType": "application/vnd.oci.image.manifest.v1+json",
				"ArtifactType": "application/vnd.elastic.package.v1"})
		}
		json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"ImageList": map[string]any{
			"Page": map[string]int{"TotalCount": n, "ItemCount": len(results)}, "Results": results}}})
	}))
	t.Cleanup(srv.Close)
	return srv, &queries
}

func TestSearchTagDigestsPagesToTheEnd(t *testing.T) {
	srv, queries := fakeZot(t, "packages/nginx", 1234)
	c, err := New(Config{Registry: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.SearchTagDigests(testCtx(t), "packages/nginx")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1234 || got["1.0.1233"].Digest.String() != fmt.Sprintf("sha256:%064x", 1233) ||
		got["1.0.7"].ArtifactType != "application/vnd.elastic.package.v1" {
		t.Fatalf("%d tags, 1.0.1233 = %+v", len(got), got["1.0.1233"])
	}
	if *queries != 3 { // 500 + 500 + 234
		t.Errorf("queries = %d, want 3", *queries)
	}
	if _, err := c.SearchTagDigests(testCtx(t), "packages/other"); err == nil {
		t.Error("a GraphQL error must be an error")
	}
}

// The stand-in answers one repository per page although asked for 500: the client follows
// TotalCount, not its own page size.
func TestSearchRepositoriesPages(t *testing.T) {
	srv, queries := fakeZot(t, "packages/nginx", 0)
	c, err := New(Config{Registry: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	repos, err := c.Repositories(testCtx(t))
	if err != nil || fmt.Sprint(repos) != "[packages/nginx packages/nginx-other]" {
		t.Fatalf("Repositories = %v, %v", repos, err)
	}
	if *queries != 2 {
		t.Errorf("queries = %d, want 2", *queries)
	}
}

// TestSearchAbsentOnRealRegistry: distribution has no search extension; the client says so,
// does not ask again for an hour, and Repositories falls back to the catalog.
func TestSearchAbsentOnRealRegistry(t *testing.T) {
	reg := startRegistry(t, nil)
	ct := newCountingTransport()
	c := newTestClient(t, reg, ct, nil)
	pushTestPackage(t, c, "packages/nginx", "1.20.0", "nginx-1.20.0")
	ct.reset()
	if _, err := c.SearchTagDigests(testCtx(t), "packages/nginx"); !errors.Is(err, ErrSearchUnsupported) {
		t.Fatalf("want ErrSearchUnsupported, got %v", err)
	}
	if ct.totalCount() != 1 {
		t.Fatalf("first search: %d requests, want 1", ct.totalCount())
	}
	ct.reset()
	repos, err := c.Repositories(testCtx(t))
	if err != nil || fmt.Sprint(repos) != "[packages/nginx]" {
		t.Fatalf("Repositories = %v, %v", repos, err)
	}
	if ct.count("POST other") != 0 || ct.count("GET catalog") != 1 {
		t.Errorf("after the extension was found absent: search again %d times, catalog %d", ct.count("POST other"), ct.count("GET catalog"))
	}
}
