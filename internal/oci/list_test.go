package oci

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
)

func TestTagsFollowsPagination(t *testing.T) {
	reg := startRegistry(t, nil)
	ct := newCountingTransport()
	c := newTestClient(t, reg, ct, func(c *Config) { c.PageSize = 100 })
	ctx := testCtx(t)

	pushTestPackage(t, c, "packages/nginx", "1.0.0", "nginx-1.0.0")
	want := []string{"1.0.0"}
	for i := 1; i < 250; i++ {
		tag := fmt.Sprintf("1.0.%d", 1000+i)
		if err := c.Tag(ctx, "packages/nginx", "1.0.0", tag); err != nil {
			t.Fatal(err)
		}
		want = append(want, tag)
	}
	ct.reset()
	got, err := c.Tags(ctx, "packages/nginx")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("got %d tags, want %d", len(got), len(want))
	}
	if n := ct.count("GET tags"); n != 3 {
		t.Errorf("tag list requests = %d, want 3 pages of at most 100", n)
	}
}

func TestTagsOfMissingRepository(t *testing.T) {
	reg := startRegistry(t, nil)
	c := newTestClient(t, reg, nil, nil)
	pushTestPackage(t, c, "packages/nginx", "1.0.0", "nginx-1.0.0")

	tags, err := c.Tags(testCtx(t), "packages/absent")
	if !errors.Is(err, ErrRepositoryNotFound) {
		t.Fatalf("want ErrRepositoryNotFound, got %v", err)
	}
	if tags != nil {
		t.Errorf("tags = %v, want nil", tags)
	}
}

// failingTags makes tags/list answer status with body: every page, or only continuation pages.
type failingTags struct {
	status atomic.Int32 // 0: pass through
	body   atomic.Value // string
	page2  atomic.Bool  // fail only requests that continue a listing (have "last")
}

func (f *failingTags) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status := int(f.status.Load())
		continued := r.URL.Query().Get("last") != ""
		if status != 0 && strings.HasSuffix(r.URL.Path, "/tags/list") && (!f.page2.Load() || continued) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			body, _ := f.body.Load().(string)
			io.WriteString(w, body)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// TestTagsFailures: nothing but a registry's "no such repository" may read as an empty
// repository, and no failure may return part of a listing.
func TestTagsFailures(t *testing.T) {
	f := &failingTags{}
	reg := startRegistry(t, f.wrap)
	c := newTestClient(t, reg, nil, func(c *Config) { c.PageSize = 2 })
	pushTestPackage(t, c, "packages/nginx", "1.0.0", "nginx-1.0.0")
	for _, tag := range []string{"1.0.1", "1.0.2", "1.0.3", "1.0.4"} {
		if err := c.Tag(testCtx(t), "packages/nginx", "1.0.0", tag); err != nil {
			t.Fatal(err)
		}
	}

	tests := []struct {
		name     string
		status   int
		body     string
		page2    bool
		notFound bool
	}{
		{name: "500", status: 500, body: `{"errors":[{"code":"UNKNOWN","message":"boom"}]}`},
		{name: "500 on the second page", status: 500, page2: true},
		{name: "503 without body", status: 503},
		{name: "bare 404 is not proof of absence", status: 404},
		{name: "404 with another code", status: 404, body: `{"errors":[{"code":"MANIFEST_UNKNOWN"}]}`},
		{name: "NAME_UNKNOWN on the second page", status: 404, page2: true, notFound: true,
			body: `{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}`},
		{name: "Harbor NOT_FOUND", status: 404, notFound: true,
			body: `{"errors":[{"code":"NOT_FOUND","message":"repository packages/nginx not found"}]}`},
		{name: "invalid JSON", status: 200, body: `{"tags":[`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.status.Store(int32(tt.status))
			f.body.Store(tt.body)
			f.page2.Store(tt.page2)
			defer f.status.Store(0)
			tags, err := c.Tags(testCtx(t), "packages/nginx")
			if err == nil {
				t.Fatalf("want error, got tags %v", tags)
			}
			if tags != nil {
				t.Errorf("partial listing returned: %v", tags)
			}
			if errors.Is(err, ErrRepositoryNotFound) != tt.notFound {
				t.Errorf("errors.Is(ErrRepositoryNotFound) = %t, want %t: %v", !tt.notFound, tt.notFound, err)
			}
		})
	}
	// And with the failure gone, the full listing is back.
	tags, err := c.Tags(testCtx(t), "packages/nginx")
	if err != nil || len(tags) != 5 {
		t.Fatalf("Tags = %v, %v; want 5 tags", tags, err)
	}
}

// catalogRegistry runs distribution itself with a catalog page of two entries. devregistry
// cannot serve here: it leaves Catalog.MaxEntries at 0, so its catalog is always empty.
func catalogRegistry(t *testing.T) string {
	t.Helper()
	cfg := &configuration.Configuration{}
	cfg.Log.Level = "error"
	cfg.Log.AccessLog.Disabled = true
	cfg.HTTP.Secret = "test"
	cfg.Storage = configuration.Storage{
		"inmemory":    configuration.Parameters{},
		"maintenance": configuration.Parameters{"uploadpurging": map[any]any{"enabled": false}},
	}
	cfg.Catalog.MaxEntries = 2
	app := handlers.NewApp(context.Background(), cfg)
	srv := httptest.NewServer(app)
	t.Cleanup(func() { srv.Close(); app.Shutdown() })
	return srv.URL
}

func TestCatalog(t *testing.T) {
	ct := newCountingTransport()
	c, err := New(Config{Registry: catalogRegistry(t), HTTPClient: &http.Client{Transport: ct}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"packages", "packages/apache", "packages/nginx", "packages/system", "x"}
	for _, repo := range want {
		pushTestPackage(t, c, repo, "1.0.0", "nginx-1.0.0")
	}
	ct.reset()
	got, err := c.Catalog(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("Catalog = %v, want %v", got, want)
	}
	if n := ct.count("GET catalog"); n != 3 {
		t.Errorf("catalog requests = %d, want 3 pages of 2", n)
	}
}

func TestCatalogUnsupported(t *testing.T) {
	var status atomic.Int32
	reg := startRegistry(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/v2/_catalog" {
				w.WriteHeader(int(status.Load()))
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	c := newTestClient(t, reg, nil, nil)
	for _, tt := range []struct {
		status      int
		unsupported bool
	}{{401, true}, {403, true}, {404, true}, {405, true}, {500, false}, {502, false}} {
		status.Store(int32(tt.status))
		repos, err := c.Catalog(testCtx(t))
		if err == nil || repos != nil {
			t.Errorf("%d: want error and no repositories, got %v, %v", tt.status, repos, err)
			continue
		}
		if errors.Is(err, ErrCatalogUnsupported) != tt.unsupported {
			t.Errorf("%d: errors.Is(ErrCatalogUnsupported) = %t: %v", tt.status, !tt.unsupported, err)
		}
	}
}
