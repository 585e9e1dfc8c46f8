package oci

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-epr/package-registry/internal/testkit"
)

// returnsWithin runs fn under testkit.Returns: the defects these tests cover made calls run for
// ever, so the old code fails there rather than at the global test timeout.
func returnsWithin[T any](t *testing.T, what string, fn func() (T, error)) (v T, err error) {
	t.Helper()
	testkit.Returns(t, 2*time.Minute, what, func() { v, err = fn() })
	return v, err
}

func wantLimit(t *testing.T, err error, bound string) {
	t.Helper()
	le, ok := errors.AsType[*LimitError](err)
	if !ok || le.Bound != bound || !errors.Is(err, ErrTooLarge) {
		t.Fatalf("want a %s LimitError, got %v", bound, err)
	}
}

// A referrers listing of empty pages, each linking onward, ends at the page bound.
func TestLoopingReferrersListingEnds(t *testing.T) {
	h := &testkit.HostileRegistry{}
	reg := startRegistry(t, h.Wrap)
	c := newTestClient(t, reg, nil, nil)
	pushTestPackage(t, c, "packages/nginx", "1.0.0", "nginx-1.0.0")
	subject, err := c.Resolve(testCtx(t), "packages/nginx", "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	h.LoopReferrers("packages/nginx")
	sig, err := returnsWithin(t, "SignatureOf", func() (*ocispec.Descriptor, error) {
		return c.SignatureOf(context.Background(), "packages/nginx", subject)
	})
	if sig != nil {
		t.Fatalf("signature %v from a looping listing", sig)
	}
	wantLimit(t, err, "referrer_pages")
	if n := h.Served.Load(); n != maxReferrerPages {
		t.Errorf("%d pages read, want the bound %d", n, maxReferrerPages)
	}
}

// Referrers of other artifact types count towards the bound too: a registry that does not
// filter must not make the client read them without end.
func TestReferrersOfAnyTypeAreBounded(t *testing.T) {
	var pages int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/" {
			return
		}
		pages++
		w.Header().Set("Content-Type", ocispec.MediaTypeImageIndex)
		if pages < 3 {
			w.Header().Set("Link", fmt.Sprintf(`<%s?page=%d>; rel="next"`, r.URL.Path, pages))
		}
		fmt.Fprint(w, `{"schemaVersion":2,"manifests":[`)
		for i := range 500 {
			if i > 0 {
				fmt.Fprint(w, ",")
			}
			fmt.Fprintf(w, `{"mediaType":%q,"digest":"sha256:%064x","size":1,"artifactType":"application/spdx+json"}`, ocispec.MediaTypeImageManifest, pages*1000+i)
		}
		fmt.Fprint(w, `]}`)
	}))
	defer srv.Close()
	c, err := New(Config{Registry: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	subject := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.Digest(fmt.Sprintf("sha256:%064x", 1)), Size: 1}
	_, err = c.Referrers(testCtx(t), "packages/nginx", subject, MediaTypeSignature)
	wantLimit(t, err, "referrers")
}

// A tag listing that never ends fails at the tag or byte bound, keeping nothing.
func TestEndlessTagListingFails(t *testing.T) {
	h := &testkit.HostileRegistry{}
	reg := startRegistry(t, h.Wrap)
	c := newTestClient(t, reg, nil, nil)
	pushTestPackage(t, c, "packages/nginx", "1.0.0", "nginx-1.0.0")
	pushTestPackage(t, c, "packages/apache", "1.0.0", "apache-1.0.0")
	// Short tags hit the tag bound, long ones the byte bound; both with the default bounds.
	h.EndlessTags("packages/nginx", 50_000, 8)
	h.EndlessTags("packages/apache", 4_000, 128)
	for repo, bound := range map[string]string{"packages/nginx": "tags", "packages/apache": "tag_bytes"} {
		tags, err := returnsWithin(t, "Tags", func() ([]string, error) { return c.Tags(context.Background(), repo) })
		if tags != nil {
			t.Errorf("%s: a failed listing returned %d tags", repo, len(tags))
		}
		wantLimit(t, err, bound)
	}
}

// Every registry request but blob transfers has a deadline: a registry that trickles a tag list
// or holds a HEAD back fails the call, with the caller's context having none.
func TestTricklingRegistryRequestsHaveADeadline(t *testing.T) {
	h := &testkit.HostileRegistry{}
	reg := startRegistry(t, h.Wrap)
	c := newTestClient(t, reg, nil, func(c *Config) { c.RequestTimeout = 300 * time.Millisecond })
	pushTestPackage(t, c, "packages/nginx", "1.0.0", "nginx-1.0.0")
	h.Trickle("packages/nginx", "/tags/list", 50*time.Millisecond)
	h.Trickle("packages/nginx", "/manifests/", 50*time.Millisecond)

	_, err := returnsWithin(t, "Tags", func() ([]string, error) { return c.Tags(context.Background(), "packages/nginx") })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Tags of a trickled listing: %v, want a deadline error", err)
	}
	_, err = returnsWithin(t, "Resolve", func() (ocispec.Descriptor, error) {
		return c.Resolve(context.Background(), "packages/nginx", "1.0.0")
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Resolve held back: %v, want a deadline error", err)
	}
}

// Blob transfers are bounded by their caller (BlobCache.FetchTimeout), not by the request
// deadline: a zip that takes longer than it still arrives.
func TestBlobDownloadsOutliveTheRequestDeadline(t *testing.T) {
	const timeout = 200 * time.Millisecond
	reg := startRegistry(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") {
				time.Sleep(3 * timeout) // the answer's headers come after the request deadline
			}
			next.ServeHTTP(w, r)
		})
	})
	c := newTestClient(t, reg, nil, func(c *Config) { c.RequestTimeout = timeout })
	data := pushTestPackage(t, c, "packages/nginx", "1.0.0", "nginx-1.0.0")
	desc, err := c.Resolve(testCtx(t), "packages/nginx", "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	m, _, err := c.FetchManifest(testCtx(t), "packages/nginx", desc)
	if err != nil {
		t.Fatal(err)
	}
	zip, _, err := PickLayers(m)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := c.FetchBlob(testCtx(t), "packages/nginx", zip)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("blob: %d bytes, err %v; want the %d bytes pushed", len(got), err, len(data))
	}
}
