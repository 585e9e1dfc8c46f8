package mirror_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oci-epr/package-registry/internal/mirror"
	"github.com/oci-epr/package-registry/internal/packages/packagetest"
	"github.com/oci-epr/package-registry/internal/status"
	"github.com/oci-epr/package-registry/internal/status/statustest"
)

// TestMirrorFromDirectoryWaits: after pushing, -wait asks the status for each version by the
// manifest digest pushed, and reports a served one as served, a rejected one with its rule and
// message, and one whose push the indexer has not read as not served; the run then fails.
// The status routes are statustest's stand-in, over a store this test fills as the indexer
// would.
func TestMirrorFromDirectoryWaits(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"nginx", "apache", "redis"} {
		p := packagetest.Integration()
		p.Name, p.Version, p.ExtraFiles = name, "1.0.0", nil
		if err := os.WriteFile(filepath.Join(dir, name+"-1.0.0.zip"), packagetest.Build(p), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, c := startRegistry(t)
	s, err := mirror.RunDir(context.Background(), dir, mirror.Options{To: mirror.Registry(c, ""), Log: testLogger(t)})
	if err != nil || s.Count(mirror.Copied) != 3 {
		t.Fatalf("%+v %v", s.Results, err)
	}
	pushed := map[string]string{}
	for _, r := range s.Results {
		desc, err := c.Resolve(context.Background(), "packages/"+r.Name, "1.0.0")
		if err != nil || desc.Digest != r.Digest {
			t.Fatalf("%s: result digest %s, the registry holds %s (%v)", r.Name, r.Digest, desc.Digest, err)
		}
		pushed[r.Name] = r.Digest.String()
	}

	store := status.NewMemory()
	tag := func(name string, st status.State, digest string) status.Tag {
		return status.Tag{Repository: "packages/" + name, Tag: "1.0.0", Name: name, Version: "1.0.0", State: st, Digest: digest, Since: time.Now()}
	}
	statustest.Put(t, store, tag("nginx", status.Served, pushed["nginx"]))
	rej := tag("apache", status.Rejected, pushed["apache"])
	rej.Rule, rej.Message = "max_zip_size", "zip of 9000 bytes is over the indexer's 4096"
	statustest.Put(t, store, rej)
	// redis: the status still holds what was there before this push.
	statustest.Put(t, store, tag("redis", status.Served, "sha256:0000000000000000000000000000000000000000000000000000000000000000"))

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	mirror.WaitServed(ctx, &s, status.Waiter{Asker: &status.Client{BaseURL: statustest.Server(t, store, "")}, Log: testLogger(t)})

	got := map[string]status.Verdict{}
	for _, r := range s.Results {
		if r.Served == nil {
			t.Fatalf("%s not waited for", r.Name)
		}
		got[r.Name] = r.Served.Verdict
	}
	if got["nginx"] != status.Done || got["apache"] != status.Refused || got["redis"] != status.Pending {
		t.Fatalf("verdicts %v", got)
	}
	err = s.Err()
	if err == nil || strings.Contains(err.Error(), "nginx") || !strings.Contains(err.Error(), "apache-1.0.0: not served") ||
		!strings.Contains(err.Error(), "rule max_zip_size: zip of 9000 bytes") || !strings.Contains(err.Error(), "redis-1.0.0") {
		t.Fatalf("Err() = %v", err)
	}
	var b strings.Builder
	mirror.WriteSummary(&b, s)
	for _, want := range []string{
		"waited for 3: served 1, refused 1, not served in time 1",
		"refused apache-1.0.0: apache@1.0.0: rejected in packages/apache:1.0.0: rule max_zip_size: zip of 9000 bytes",
		"not served redis-1.0.0: redis@1.0.0: the indexer has not read the push yet",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, b.String())
		}
	}
}
