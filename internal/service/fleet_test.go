package service

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/oci-epr/package-registry/internal/packages/packagetest"
)

// Kibana Fleet's requests, in the order it sends them (docs/epr-api.md §1), against versions
// pushed through the real registry: each version but one is out of Fleet's reach for a reason of
// its own, and results[0] must be the one Fleet may install.
func TestFleetRequestSequence(t *testing.T) {
	s := startStack(t)
	versions := []struct {
		version string
		edit    func(*packagetest.Spec)
	}{
		{"1.1.0", func(p *packagetest.Spec) { p.KibanaVersion = "^8.13.0" }},
		{"1.2.0", func(*packagetest.Spec) {}}, // the one Fleet may install
		{"1.3.0-rc1", func(*packagetest.Spec) {}},
		{"1.4.0", func(p *packagetest.Spec) { p.KibanaVersion = "^9.0.0" }},
		{"1.5.0", func(p *packagetest.Spec) { p.FormatVersion = "3.7.0" }},
		{"1.6.0", func(p *packagetest.Spec) { p.Capabilities = []string{"a", "c"} }},
	}
	zips := map[string][]byte{}
	sigs := map[string][]byte{}
	for _, v := range versions {
		spec := packagetest.Integration()
		spec.Version = v.version
		spec.ExtraFiles["changelog.yml"] = []byte("- version: " + v.version + "\n  changes: []\n")
		v.edit(&spec)
		zips[v.version] = packagetest.Build(spec)
		sigs[v.version] = []byte("-----BEGIN PGP SIGNATURE-----\n" + v.version + "\n-----END PGP SIGNATURE-----\n")
		if _, err := s.client.PushPackage(s.ctx, "packages/acme_logs", v.version, zips[v.version], sigs[v.version], nil); err != nil {
			t.Fatal(err)
		}
	}
	other := packagetest.ContentPackage()
	if _, err := s.client.PushPackage(s.ctx, "packages/"+other.Name, other.Version, packagetest.Build(other), nil, nil); err != nil {
		t.Fatal(err)
	}
	s.eventually("every version indexed", 20*time.Second, func() bool {
		items, _, _ := search(t, s.base, "all=true&prerelease=true")
		return len(items) == len(versions)+1
	})

	// What Kibana 8.15 with spec 2.3–3.6 and capabilities a,b adds to every query.
	const constraints = "kibana.version=8.15.0&spec.min=2.3&spec.max=3.6&capabilities=a%2Cb"
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	fleet := func(path string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, s.base+path, nil)
		req.Header.Set("User-Agent", "Kibana/8.15.0 node-fetch")
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, body
	}
	mustStatus := func(path string, want int) (*http.Response, []byte) {
		t.Helper()
		resp, body := fleet(path)
		if resp.StatusCode != want {
			t.Fatalf("GET %s: %d, want %d\n%s", path, resp.StatusCode, want, body)
		}
		return resp, body
	}
	type item struct {
		Name          string `json:"name"`
		Version       string `json:"version"`
		Download      string `json:"download"`
		SignaturePath string `json:"signature_path"`
		Icons         []struct {
			Path string `json:"path"`
		} `json:"icons"`
	}
	decode := func(body []byte, v any) {
		t.Helper()
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("%v\n%s", err, body)
		}
	}

	// 1. The integrations list: the newest version per name Fleet may install.
	_, body := mustStatus("/search?"+constraints, http.StatusOK)
	var list []item
	decode(body, &list)
	got := map[string]string{}
	for _, it := range list {
		got[it.Name] = it.Version
	}
	if got["acme_logs"] != "1.2.0" || got[other.Name] != other.Version || len(got) != 2 {
		t.Fatalf("integrations list: %v", got)
	}

	// 2. Categories of what the list shows.
	_, body = mustStatus("/categories?"+constraints, http.StatusOK)
	var cats []struct {
		ID    string `json:"id"`
		Count int    `json:"count"`
	}
	decode(body, &cats)
	counts := map[string]int{}
	for _, c := range cats {
		counts[c.ID] = c.Count
	}
	if counts["security"] != 1 || counts["monitoring"] != 1 {
		t.Fatalf("categories: %s", body)
	}

	// 3. The latest version of one package, without and with prereleases.
	for _, tt := range []struct{ prerelease, want string }{{"false", "1.2.0"}, {"true", "1.3.0-rc1"}} {
		_, body = mustStatus("/search?package=acme_logs&prerelease="+tt.prerelease+"&"+constraints, http.StatusOK)
		var latest []item
		decode(body, &latest)
		if len(latest) == 0 || latest[0].Version != tt.want {
			t.Fatalf("prerelease=%s: results %s, want results[0] = %s", tt.prerelease, body, tt.want)
		}
	}

	// 4. The package itself, and Kibana 7.x's form without the slash.
	_, body = mustStatus("/package/acme_logs/1.2.0/", http.StatusOK)
	var pkg item
	decode(body, &pkg)
	if pkg.Download != "/epr/acme_logs/acme_logs-1.2.0.zip" || pkg.SignaturePath != "/epr/acme_logs/acme_logs-1.2.0.zip.sig" {
		t.Fatalf("download %q, signature_path %q", pkg.Download, pkg.SignaturePath)
	}
	resp, _ := mustStatus("/package/acme_logs/1.2.0", http.StatusMovedPermanently)
	if loc := resp.Header.Get("Location"); loc != "/package/acme_logs/1.2.0/" {
		t.Fatalf("Location %q", loc)
	}

	// 5. The zip (Fleet pre-sizes its buffer from Content-Length) and its signature.
	resp, body = mustStatus(pkg.Download, http.StatusOK)
	if !bytes.Equal(body, zips["1.2.0"]) || resp.ContentLength != int64(len(zips["1.2.0"])) || resp.Header.Get("Content-Type") != "application/zip" {
		t.Fatalf("zip: %d bytes, Content-Length %d, Content-Type %q", len(body), resp.ContentLength, resp.Header.Get("Content-Type"))
	}
	if _, body = mustStatus(pkg.SignaturePath, http.StatusOK); !bytes.Equal(body, sigs["1.2.0"]) {
		t.Fatalf("signature: %q", body)
	}

	// 6. README and icon.
	if _, body = mustStatus("/package/acme_logs/1.2.0/docs/README.md", http.StatusOK); !strings.Contains(string(body), "Acme Logs") {
		t.Fatalf("README: %q", body)
	}
	if len(pkg.Icons) == 0 {
		t.Fatal("package has no icons")
	}
	resp, body = mustStatus(pkg.Icons[0].Path, http.StatusOK)
	if ct := resp.Header.Get("Content-Type"); ct != "image/svg+xml" || len(body) == 0 {
		t.Fatalf("icon %s: Content-Type %q, %d bytes", pkg.Icons[0].Path, ct, len(body))
	}
}
