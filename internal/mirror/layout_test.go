package mirror_test

import (
	"bytes"
	"context"
	"slices"
	"sort"
	"testing"
	"time"

	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content/oci"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/oci-epr/package-registry/internal/mirror"
	"github.com/oci-epr/package-registry/internal/service"
	"github.com/oci-epr/package-registry/internal/testkit"
)

// servedAndEmptyLayout serves fx from an instance over a registry of its own, and opens an
// empty layout directory to mirror into.
func servedAndEmptyLayout(t *testing.T, fx []fixture) (*instance, string, mirror.Destination) {
	t.Helper()
	reg, c := startRegistry(t)
	pushFixtures(t, c, fx)
	a := startInstance(t, reg, len(fx))
	dir := t.TempDir()
	dest, err := mirror.Layout(dir)
	if err != nil {
		t.Fatal(err)
	}
	return a, dir, dest
}

// TestMirrorThroughLayout is the air-gapped path: mirror into a layout directory, carry it,
// copy it into a registry as `oras cp --from-oci-layout` does, and serve that.
func TestMirrorThroughLayout(t *testing.T) {
	key := newKey(t, "signer")
	fx := []fixture{{"nginx", "1.0.0", key}, {"nginx", "1.1.0+build.2", key}, {"apache", "2.0.0", nil}, {"mysql", "1.0.0", key}}
	a, dir, dest := servedAndEmptyLayout(t, fx)
	opts := mirror.Options{From: a.base, To: dest, Selection: mirror.Selection{Packages: []string{"nginx", "apache"}, AllVersions: true}}
	first := run(t, opts)
	figures(t, "into a layout", first)
	if first.Count(mirror.Copied) != 3 || first.Err() != nil {
		t.Fatalf("first run: %+v", first.Results)
	}
	a.zipGets.Store(0)
	// A fresh store reads what the first one wrote, as a second process would.
	dest, err := mirror.Layout(dir)
	if err != nil {
		t.Fatal(err)
	}
	opts.To = dest
	second := run(t, opts)
	if second.Count(mirror.Present) != 3 || a.zipGets.Load() != 0 {
		t.Fatalf("second run into the layout: %+v, %d zip downloads", second.Results, a.zipGets.Load())
	}

	ctx := context.Background()
	store, err := oci.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	var tags []string
	if err := store.Tags(ctx, "", func(ts []string) error { tags = append(tags, ts...); return nil }); err != nil {
		t.Fatal(err)
	}
	sort.Strings(tags)
	if want := []string{"apache-2.0.0", "nginx-1.0.0", "nginx-1.1.0_build.2"}; !slices.Equal(tags, want) {
		t.Fatalf("layout tags %v, want %v", tags, want)
	}

	reg2, _ := startRegistry(t)
	repo, err := remote.NewRepository(reg2.Host() + "/packages")
	if err != nil {
		t.Fatal(err)
	}
	repo.PlainHTTP = true
	for _, tag := range tags {
		if _, err := oras.Copy(ctx, store, tag, repo, tag, oras.DefaultCopyOptions); err != nil {
			t.Fatal(err)
		}
	}
	b := startInstance(t, reg2, 3)
	want := []searchItem{{"apache", "2.0.0"}, {"nginx", "1.0.0"}, {"nginx", "1.1.0+build.2"}}
	if got := b.search(t, "all=true"); !slices.Equal(got, want) {
		t.Fatalf("served from the carried layout: %v, want %v", got, want)
	}
	for _, it := range want {
		for _, p := range []string{"/package/" + it.Name + "/" + it.Version + "/", "/epr/" + it.Name + "/" + it.Name + "-" + it.Version + ".zip", "/epr/" + it.Name + "/" + it.Name + "-" + it.Version + ".zip.sig"} {
			ca, ba := getBody(t, a.base+p)
			cb, bb := getBody(t, b.base+p)
			if ca != cb || string(ba) != string(bb) {
				t.Errorf("%s: A %d (%d bytes), B %d (%d bytes)", p, ca, len(ba), cb, len(bb))
			}
		}
	}

	// The same layout pushed with the mirror itself, into the per-package layout.
	c3reg, c3 := startRegistry(t)
	pushed, err := mirror.RunLayout(ctx, dir, mirror.Options{To: mirror.Registry(c3, ""), Log: testLogger(t)})
	if err != nil || pushed.Count(mirror.Copied) != 3 || pushed.Err() != nil {
		t.Fatalf("RunLayout: %v %+v", err, pushed.Results)
	}
	again, err := mirror.RunLayout(ctx, dir, mirror.Options{To: mirror.Registry(c3, ""), Log: testLogger(t)})
	if err != nil || again.Count(mirror.Present) != 3 {
		t.Fatalf("RunLayout again: %v %+v", err, again.Results)
	}
	c := startInstance(t, c3reg, 3)
	for _, it := range want {
		p := "/epr/" + it.Name + "/" + it.Name + "-" + it.Version + ".zip"
		_, ba := getBody(t, a.base+p)
		cc, bc := getBody(t, c.base+p)
		if cc != 200 || string(ba) != string(bc) {
			t.Errorf("%s from the layout pushed by RunLayout: %d, %d bytes (A %d)", p, cc, len(bc), len(ba))
		}
	}
}

// A site without any registry: the all-in-one mode reads the mirrored layout itself
// (-oci-layout), serves exactly what was mirrored, byte for byte, and picks up what is added to
// the layout at the next resync.
func TestAllInOneServesLayout(t *testing.T) {
	key := newKey(t, "signer")
	fx := []fixture{{"nginx", "1.0.0", key}, {"nginx", "1.1.0", key}, {"apache", "2.0.0", nil}, {"mysql", "1.0.0", key}}
	a, dir, dest := servedAndEmptyLayout(t, fx)
	run(t, mirror.Options{From: a.base, To: dest, Selection: mirror.Selection{Packages: []string{"nginx", "apache"}, AllVersions: true}})

	b := startInstanceWith(t, service.IndexerOptions{Layout: dir, Repository: "packages", ResyncInterval: 200 * time.Millisecond}, 3)
	want := []searchItem{{"apache", "2.0.0"}, {"nginx", "1.0.0"}, {"nginx", "1.1.0"}}
	if got := b.search(t, "all=true&prerelease=true"); !slices.Equal(got, want) {
		t.Fatalf("served from the layout: %v, want %v", got, want)
	}
	for _, path := range []string{"/package/nginx/1.1.0/", "/epr/nginx/nginx-1.1.0.zip", "/epr/nginx/nginx-1.1.0.zip.sig"} {
		codeA, bodyA := getBody(t, a.base+path)
		codeB, bodyB := getBody(t, b.base+path)
		if codeA != 200 || codeB != 200 || !bytes.Equal(bodyA, bodyB) {
			t.Fatalf("%s: %d from the source, %d from the layout, equal %v", path, codeA, codeB, bytes.Equal(bodyA, bodyB))
		}
	}

	// What a later mirror run adds to the layout is served after the next resync.
	run(t, mirror.Options{From: a.base, To: dest, Selection: mirror.Selection{Packages: []string{"mysql"}, AllVersions: true}})
	testkit.Eventually(t, 10*time.Second, "mysql from the layout", func() bool {
		return slices.Contains(b.search(t, "all=true"), searchItem{"mysql", "1.0.0"})
	})
}
