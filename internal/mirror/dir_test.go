package mirror_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/oci-epr/package-registry/internal/mirror"
	"github.com/oci-epr/package-registry/internal/packages"
	"github.com/oci-epr/package-registry/internal/packages/packagetest"
)

// TestMirrorFromDirectory copies what `elastic-package build` leaves in a directory: valid zips
// (one signed) are pushed and served, broken ones are refused before anything is pushed.
func TestMirrorFromDirectory(t *testing.T) {
	key := newKey(t, "signer")
	dir := t.TempDir()
	write := func(name string, data []byte) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	nginx := packagetest.Integration()
	nginx.Name, nginx.Version, nginx.ExtraFiles = "nginx", "1.0.0", nil
	nginxZip := packagetest.Build(nginx)
	write("nginx-1.0.0.zip", nginxZip)
	write("nginx-1.0.0.zip.sig", sign(t, key, nginxZip))
	// The file name does not matter; the manifest does.
	write("renamed.zip", packagetest.Build(packagetest.InputPackage()))
	bad := packagetest.Invalid()
	write("bad-1.0.0.zip", bad[0].Zip)

	reg2, c2 := startRegistry(t)
	opts := mirror.Options{To: mirror.Registry(c2, ""), Log: testLogger(t)}
	s, err := mirror.RunDir(context.Background(), dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]mirror.Outcome{}
	for _, r := range s.Results {
		got[r.Name] = r.Outcome
		if r.Outcome == mirror.Failed && !errors.Is(r.Err, packages.ErrRejected) {
			t.Errorf("%s failed, but not as a rejection: %v", r.Name, r.Err)
		}
	}
	input := packagetest.InputPackage().Name
	if got["nginx"] != mirror.Copied || got[input] != mirror.Copied || got["bad-1.0.0.zip"] != mirror.Failed {
		t.Fatalf("outcomes %v", got)
	}
	if tags, _ := c2.Tags(context.Background(), "packages/bad"); len(tags) != 0 {
		t.Errorf("broken package pushed: %v", tags)
	}
	again, err := mirror.RunDir(context.Background(), dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if again.Count(mirror.Present) != 2 || again.Count(mirror.Copied) != 0 {
		t.Fatalf("second run: %+v", again.Results)
	}

	b := startInstance(t, reg2, 2)
	items := b.search(t, "all=true")
	if !slices.ContainsFunc(items, func(it searchItem) bool { return it.Name == "nginx" }) || len(items) != 2 {
		t.Fatalf("served %v", items)
	}
	code, sig := getBody(t, b.base+"/epr/nginx/nginx-1.0.0.zip.sig")
	if code != 200 || !strings.Contains(string(sig), "PGP SIGNATURE") {
		t.Errorf("signature not served: %d %q", code, sig)
	}
}
