package api

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/oci-epr/package-registry/internal/index"
	"github.com/oci-epr/package-registry/internal/packages"
	"github.com/oci-epr/package-registry/internal/packages/packagetest"
)

var (
	wantIndexCC = []string{"max-age=10", "public"}
	wantLongCC  = []string{"max-age=600", "public"}
	wantNoStore = []string{"max-age=0", "private, no-store"}
)

type httpCase struct {
	name     string
	method   string
	target   string
	hdr      []string
	status   int
	body     *string // exact body
	golden   string
	contains string
	cc       []string // nil: no Cache-Control
	cors     bool
	ctype    string // "": no Content-Type
	nosniff  bool
	headers  map[string]string // exact values; "" = absent
}

func str(s string) *string { return &s }

func errCase(name, target string, status int, msg string, cc []string) httpCase {
	return httpCase{name: name, target: target, status: status, body: str(msg + "\n"), cc: cc, cors: true,
		ctype: "text/plain; charset=utf-8", nosniff: true}
}

func notFoundCase(target string) httpCase {
	c := errCase("unmatched "+target, target, 404, "404 page not found", wantNoStore)
	c.cors = false
	return c
}

func (tc httpCase) check(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	if w.Code != tc.status {
		t.Errorf("status %d, want %d (body %q)", w.Code, tc.status, truncate(w.Body.String()))
	}
	h := w.Header()
	if got := h["Cache-Control"]; !reflect.DeepEqual(got, tc.cc) {
		t.Errorf("Cache-Control lines %q, want %q", got, tc.cc)
	}
	if got := h.Get("Access-Control-Allow-Origin"); (got == "*") != tc.cors || (got != "" && got != "*") {
		t.Errorf("CORS header %q, want present=%v", got, tc.cors)
	}
	if got := h["Content-Type"]; tc.ctype == "" && len(got) != 0 || tc.ctype != "" && (len(got) != 1 || got[0] != tc.ctype) {
		t.Errorf("Content-Type %q, want %q", got, tc.ctype)
	}
	if got := h.Get("X-Content-Type-Options"); (got == "nosniff") != tc.nosniff {
		t.Errorf("X-Content-Type-Options %q, want nosniff=%v", got, tc.nosniff)
	}
	if got := h.Get("X-Package-Source"); got != "" {
		t.Errorf("X-Package-Source %q on real packages", got)
	}
	for k, v := range tc.headers {
		if got := h.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if tc.body != nil && w.Body.String() != *tc.body {
		t.Errorf("body %q, want %q", truncate(w.Body.String()), *tc.body)
	}
	if tc.contains != "" && !strings.Contains(w.Body.String(), tc.contains) {
		t.Errorf("body does not contain %q:\n%s", tc.contains, truncate(w.Body.String()))
	}
	if tc.golden != "" {
		checkGolden(t, tc.golden, w.Body.Bytes())
	}
}

func truncate(s string) string {
	if len(s) > 400 {
		return s[:400] + "…"
	}
	return s
}

func runHTTP(t *testing.T, ts *testServer, cases []httpCase) {
	t.Helper()
	for _, tc := range cases {
		name := tc.name
		if name == "" {
			name = tc.target
		}
		t.Run(name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = http.MethodGet
			}
			tc.check(t, ts.do(method, tc.target, tc.hdr...))
		})
	}
}

func TestRoutes(t *testing.T) {
	ts := newTestServer(t, DefaultConfig(), false)
	zip := ts.zipBytes(t, "acme_logs", "1.2.0")
	rec := ts.record("acme_logs", "1.2.0")
	lastMod := fixedIndexedAt.Format(http.TimeFormat)
	fileMod := packagetest.FixedTime.Format(http.TimeFormat)
	info := "{\n  \"service.name\": \"oci-epr\",\n  \"service.version\": \"1.0.0-test\"\n}\n"
	file := func(rel, ctype string) httpCase {
		return httpCase{name: "file " + rel, target: "/package/acme_logs/1.2.0/" + rel, status: 200, cc: wantLongCC, cors: true,
			ctype: ctype, headers: map[string]string{"Last-Modified": fileMod, "Accept-Ranges": "bytes"}}
	}
	readme := file("docs/README.md", "text/markdown; charset=utf-8")
	readme.body = str("# Acme Logs\n")
	runHTTP(t, ts, []httpCase{
		{target: "/", status: 200, body: &info, cc: wantIndexCC, cors: true, ctype: "application/json"},
		{target: "/index.json", status: 200, body: &info, cc: wantIndexCC, cors: true, ctype: "application/json"},
		{target: "/?x=1", status: 200, body: &info, cc: wantIndexCC, cors: true, ctype: "application/json"},
		{target: "/health", status: 200, body: str(""), cors: true},
		{target: "/health?ready=true", status: 200, body: str(""), cors: true},
		{target: "/health?ready=false&x=y", status: 200, body: str(""), cors: true},
		{target: "/search", status: 200, golden: "search_default.json", cc: wantLongCC, cors: true, ctype: "application/json"},
		{target: "/search?all=true&prerelease=true", status: 200, golden: "search_all_prerelease.json", cc: wantLongCC, cors: true, ctype: "application/json"},
		{target: "/search?category=observability", status: 200, golden: "search_category_observability.json", cc: wantLongCC, cors: true, ctype: "application/json"},
		{target: "/search?package=acme_logs&kibana.version=8.12.0", status: 200, contains: `"version": "1.1.0"`, cc: wantLongCC, cors: true, ctype: "application/json"},
		{target: "/search?package=acme_logs&prerelease=true", status: 200, contains: `"version": "1.3.0-rc1"`, cc: wantLongCC, cors: true, ctype: "application/json"},
		{target: "/search?package=nothing", status: 200, body: str("[]"), cc: wantLongCC, cors: true, ctype: "application/json"},
		{target: "/search?unknown=1&internal=true", status: 200, golden: "search_default.json", cc: wantLongCC, cors: true, ctype: "application/json"},
		{target: "/categories", status: 200, golden: "categories.json", cc: wantLongCC, cors: true, ctype: "application/json"},
		{target: "/categories?include_policy_templates=true&prerelease=true", status: 200, golden: "categories_templates.json", cc: wantLongCC, cors: true, ctype: "application/json"},
		{target: "/categories?spec.max=1.0", status: 200, body: str("[]\n"), cc: wantLongCC, cors: true, ctype: "application/json"},
		{target: "/favicon.ico", status: 200, body: str(string(favicon)), cc: wantLongCC, cors: true, ctype: "image/x-icon"},
		{target: "/epr/acme_logs/acme_logs-1.2.0.zip", status: 200, body: str(string(zip)), cc: wantLongCC, cors: true, ctype: "application/zip",
			headers: map[string]string{"Content-Length": fmt.Sprint(len(zip)), "Etag": `"` + rec.Zip.Digest + `"`, "Last-Modified": lastMod, "Accept-Ranges": "bytes"}},
		{target: "/epr/anything/acme_logs-1.2.0.zip", status: 200, body: str(string(zip)), cc: wantLongCC, cors: true, ctype: "application/zip"},
		{target: "/epr/acme_logs/acme_logs-1.2.0.zip.sig", status: 200, contains: "BEGIN PGP SIGNATURE", cc: wantLongCC, cors: true,
			ctype: "application/pgp-signature", headers: map[string]string{"Etag": `"` + rec.Signature.Digest + `"`}},
		{target: "/epr/acme_logs/acme_logs-1.3.0-rc1.zip", status: 200, cc: wantLongCC, cors: true, ctype: "application/zip"},
		{target: "/package/acme_logs/1.2.0/", status: 200, golden: "package_acme_logs.json", cc: wantIndexCC, cors: true, ctype: "application/json"},
		{target: "/package/acme_old/1.5.0/", status: 200, golden: "package_deprecated.json", cc: wantIndexCC, cors: true, ctype: "application/json"},
		{target: "/package/acme_dotted/1.0.0/", status: 200, golden: "package_dotted.json", cc: wantIndexCC, cors: true, ctype: "application/json"},
		{target: "/package/acme_lab/1.0.0/?ignored=query", status: 200, contains: `"release": "experimental"`, cc: wantIndexCC, cors: true, ctype: "application/json"},
		readme,
		file("img/logo.svg", "image/svg+xml"),
		file("img/dashboard.png", "image/png"),
		file("changelog.yml", "text/yaml; charset=UTF-8"),
		file("kibana/dashboard/acme-overview.json", "application/json"),
		file("data_stream/access/elasticsearch/ingest_pipeline/default.yml", "text/yaml; charset=UTF-8"),
		file("img/photo.jpg", "image/jpeg"),
		file("img/anim.gif", "image/gif"),
		file("img/pic.webp", "image/webp"),
		file("img/fav.ico", "image/x-icon"),
		// Not in the table: sniffed, never the host's MIME table.
		file("LICENSE.txt", "text/plain; charset=utf-8"),
		file("docs/notes.txt", "text/plain; charset=utf-8"),
		file("agent/stream/x.hbs", "text/plain; charset=utf-8"),
		file("docs/data.bin", "application/octet-stream"),
		file("docs/escape%20%3C&%3E.md", "text/markdown; charset=utf-8"),
		// Trailing-slash redirects keep the query; no cache headers.
		{target: "/search/?package=acme_logs&all=true", status: 301, cors: true, ctype: "text/html; charset=utf-8",
			headers: map[string]string{"Location": "/search?package=acme_logs&all=true"}},
		{target: "/categories/", status: 301, cors: true, ctype: "text/html; charset=utf-8", headers: map[string]string{"Location": "/categories"}},
		{target: "/index.json/", status: 301, cors: true, ctype: "text/html; charset=utf-8", headers: map[string]string{"Location": "/index.json"}},
		{target: "/health/", status: 301, cors: true, ctype: "text/html; charset=utf-8", headers: map[string]string{"Location": "/health"}},
		{target: "/package/acme_logs/1.2.0", status: 301, cors: true, ctype: "text/html; charset=utf-8", headers: map[string]string{"Location": "/package/acme_logs/1.2.0/"}},
		{target: "/package/acme_logs/1.2.0?a=b", status: 301, cors: true, ctype: "text/html; charset=utf-8", headers: map[string]string{"Location": "/package/acme_logs/1.2.0/?a=b"}},
		{target: "/epr/x/acme_logs-1.2.0.zip/", status: 301, cors: true, ctype: "text/html; charset=utf-8", headers: map[string]string{"Location": "/epr/x/acme_logs-1.2.0.zip"}},
	})
}

func TestErrors(t *testing.T) {
	ts := newTestServer(t, DefaultConfig(), false)
	runHTTP(t, ts, []httpCase{
		errCase("kibana", "/search?kibana.version=abc", 400, "invalid Kibana version 'abc': invalid semantic version", wantNoStore),
		errCase("kibana categories", "/categories?kibana.version=abc", 400, "invalid Kibana version 'abc': invalid semantic version", wantNoStore),
		errCase("agent", "/search?agent.version=abc", 400, "invalid agent version 'abc': invalid semantic version", wantNoStore),
		errCase("all", "/search?all=maybe", 400, "invalid 'all' query param: 'maybe'", wantNoStore),
		errCase("prerelease", "/search?prerelease=maybe", 400, "invalid 'prerelease' query param: 'maybe'", wantNoStore),
		errCase("experimental", "/categories?experimental=maybe", 400, "invalid 'experimental' query param: 'maybe'", wantNoStore),
		errCase("include_policy_templates", "/categories?include_policy_templates=maybe", 400, "invalid 'include_policy_templates' query param: 'maybe'", wantNoStore),
		errCase("spec.max", "/search?spec.max=2.10.1", 400, "invalid 'spec.max' version: invalid version '2.10.1': it should be <major.version>", wantNoStore),
		errCase("spec.min", "/search?spec.min=a.b", 400, "invalid 'spec.min' version: invalid spec version 'a.b': invalid semantic version", wantNoStore),
		errCase("discovery", "/search?discovery=foo", 400, `invalid 'discovery' query param: 'foo': could not parse filter "foo"`, wantNoStore),
		errCase("discovery kind", "/categories?discovery=x:y", 400, `invalid 'discovery' query param: 'x:y': unknown discovery filter "x"`, wantNoStore),
		// A query that does not parse is refused, not read as the part that did.
		errCase("bad escape", "/search?kibana.version=7.0.0%zz", 400, `invalid query: invalid URL escape "%zz"`, wantNoStore),
		errCase("bad escape categories", "/categories?prerelease=true&x=%g1", 400, `invalid query: invalid URL escape "%g1"`, wantNoStore),
		errCase("semicolon", "/search?all=true;package=acme_logs", 400, "invalid query: invalid semicolon separator in query", wantNoStore),
		errCase("version /package", "/package/acme_logs/1.2/", 400, "invalid package version", wantNoStore),
		errCase("version /package v", "/package/acme_logs/v1.2.0/", 400, "invalid package version", wantNoStore),
		errCase("version /epr", "/epr/acme_logs/acme_logs-1.2.zip", 400, "invalid package version", wantNoStore),
		errCase("version .sig", "/epr/acme_logs/acme_logs-latest.zip.sig", 400, "invalid package version", wantNoStore),
		errCase("version file", "/package/acme_logs/abc/docs/README.md", 400, "invalid package version", wantNoStore),
		errCase("no package", "/package/no_such/1.0.0/", 404, "package revision not found", wantNoStore),
		errCase("no package file", "/package/no_such/1.0.0/img/x.png", 404, "package revision not found", wantNoStore),
		errCase("upper case", "/package/Acme/1.0.0/", 404, "package revision not found", wantNoStore),
		errCase("upper case file", "/package/Acme_Logs/1.2.0/docs/README.md", 404, "package revision not found", wantNoStore),
		errCase("no file", "/package/acme_logs/1.2.0/docs/absent.md", 404, "resource not found", wantNoStore),
		errCase("directory", "/package/acme_logs/1.2.0/docs/", 404, "resource not found", wantNoStore),
		errCase("unclean path", "/package/acme_logs/1.2.0/docs/../manifest.yml", 404, "resource not found", wantNoStore),
		errCase("double slash", "/package/acme_logs/1.2.0//manifest.yml", 404, "resource not found", wantNoStore),
		errCase("inner double slash", "/package/acme_logs/1.2.0/docs//README.md", 404, "resource not found", wantNoStore),
		// An escaped slash would give docs/README.md a second URL.
		errCase("escaped slash", "/package/acme_logs/1.2.0/docs%2fREADME.md", 404, "resource not found", wantNoStore),
		errCase("escaped slash upper", "/package/acme_logs/1.2.0/docs%2FREADME.md", 404, "resource not found", wantNoStore),
		errCase("escaped slash dir", "/package/acme_logs/1.2.0/data_stream%2Faccess/manifest.yml", 404, "resource not found", wantNoStore),
		errCase("no artifact", "/epr/acme_logs/acme_logs-9.9.9.zip", 404, "artifact not found", wantNoStore),
		errCase("no signature", "/epr/acme_logs/acme_logs-9.9.9.zip.sig", 404, "signature file not found", wantNoStore),
		errCase("unsigned", "/epr/acme_logs/acme_logs-1.1.0.zip.sig", 404, "signature file not found", wantNoStore),
		notFoundCase("/nope"),
		notFoundCase("/searchx"),
		notFoundCase("/epr/acme_logs"),
		notFoundCase("/epr/acme_logs/acme_logs.zip"),
		notFoundCase("/epr/acme_logs/Acme-1.0.0.zip"),
		notFoundCase("/epr/acme_logs/acme_logs-1.2.0.tar.gz"),
		notFoundCase("/epr/a/b/acme_logs-1.2.0.zip"),
		notFoundCase("/package/acme_logs"),
		notFoundCase("/package/acme_logs/"),
		notFoundCase("/webhooks/zot"),
	})
}

func TestUnknownQueryParametersRejected(t *testing.T) {
	cfg := DefaultConfig()
	cfg.AllowUnknownQueryParameters = false
	ts := newTestServer(t, cfg, false)
	runHTTP(t, ts, []httpCase{
		errCase("sorted", "/search?zzz=1&foo=2&all=true", 400, `unknown query parameter: "foo"`, wantNoStore),
		errCase("search include_policy_templates", "/search?include_policy_templates=true", 400, `unknown query parameter: "include_policy_templates"`, wantNoStore),
		errCase("categories category", "/categories?category=security", 400, `unknown query parameter: "category"`, wantNoStore),
		errCase("categories all", "/categories?all=true", 400, `unknown query parameter: "all"`, wantNoStore),
		// More parameters than net/url parses must not drop the query and with it this check.
		errCase("too many parameters", "/search?"+strings.Repeat("foo=1&", 10001)+"all=true", 400, "invalid query: number of URL query parameters exceeded limit", wantNoStore),
		{target: "/search?internal=true&all=true&package=acme_logs", status: 200, contains: `"version": "1.1.0"`, cc: wantLongCC, cors: true, ctype: "application/json"},
		{target: "/categories?include_policy_templates=true&prerelease=true", status: 200, golden: "categories_templates.json", cc: wantLongCC, cors: true, ctype: "application/json"},
		// Only /search and /categories read the query.
		{target: "/package/acme_logs/1.2.0/?foo=1", status: 200, golden: "package_acme_logs.json", cc: wantIndexCC, cors: true, ctype: "application/json"},
		{target: "/?foo=1", status: 200, cc: wantIndexCC, cors: true, ctype: "application/json"},
	})
}

// Every method is answered like GET; HEAD has no body.
func TestMethods(t *testing.T) {
	ts := newTestServer(t, DefaultConfig(), false)
	get := ts.get("/search?all=true")
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodOptions, "PURGE", "FOO"} {
		w := ts.do(m, "/search?all=true")
		if w.Code != 200 || w.Body.String() != get.Body.String() || w.Header().Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("%s /search: %d, body equal %v", m, w.Code, w.Body.String() == get.Body.String())
		}
		w = ts.do(m, "/package/acme_logs/1.2.0/docs/README.md")
		if w.Code != 200 || w.Body.String() != "# Acme Logs\n" {
			t.Errorf("%s file: %d %q", m, w.Code, w.Body.String())
		}
		w = ts.do(m, "/nope")
		if w.Code != 404 || w.Body.String() != "404 page not found\n" || w.Header().Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("%s /nope: %d %q", m, w.Code, w.Body.String())
		}
	}
	srv := httptest.NewServer(ts)
	defer srv.Close()
	resp, err := http.Head(srv.URL + "/epr/acme_logs/acme_logs-1.2.0.zip")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(body) != 0 || resp.ContentLength != ts.record("acme_logs", "1.2.0").Zip.Size {
		t.Errorf("HEAD zip: %d, %d body bytes, length %d", resp.StatusCode, len(body), resp.ContentLength)
	}
	resp, err = http.Head(srv.URL + "/search")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("HEAD search: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

// Routes mounted on the Echo later (the webhooks in all-in-one mode) are
// not shadowed by the API's 404 and get none of its headers.
func TestLaterRoutesNotShadowed(t *testing.T) {
	ts := newTestServer(t, DefaultConfig(), false)
	e := ts.Echo()
	e.POST("/webhooks/distribution", func(c echo.Context) error { return c.String(http.StatusAccepted, "ok") })
	e.POST("/webhooks/zot", func(c echo.Context) error { return c.NoContent(http.StatusNoContent) })
	e.GET("/metrics-like", func(c echo.Context) error { return c.String(http.StatusOK, "m") })
	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{http.MethodPost, "/webhooks/distribution", http.StatusAccepted},
		{http.MethodPost, "/webhooks/zot", http.StatusNoContent},
		{http.MethodGet, "/metrics-like", http.StatusOK},
	} {
		w := ts.do(tc.method, tc.path)
		if w.Code != tc.status {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, w.Code, tc.status)
		}
		for _, h := range []string{"Access-Control-Allow-Origin", "Cache-Control", "X-Package-Source"} {
			if v := w.Header().Get(h); v != "" {
				t.Errorf("%s %s has %s: %q", tc.method, tc.path, h, v)
			}
		}
	}
	// The API still answers, and a GET on a POST-only webhook is not
	// turned into an API route.
	if w := ts.get("/search?package=acme_logs"); w.Code != 200 {
		t.Errorf("search %d", w.Code)
	}
	if w := ts.get("/webhooks/zot"); w.Code == 200 {
		t.Errorf("GET webhook: %d", w.Code)
	}
	// An exotic method on a webhook path is not rerouted to its GET twin.
	if w := ts.do("PURGE", "/metrics-like"); w.Code != 404 {
		t.Errorf("PURGE /metrics-like: %d", w.Code)
	}
}

// The search body is exactly packages.Encode of the search items, so the
// key order and formatting come from the package document types.
func TestSearchBodyMatchesEncode(t *testing.T) {
	ts := newTestServer(t, DefaultConfig(), false)
	c := catalogOf(t,
		pk("tpl", "1.0.0", cats("network"), templates(tpl("a", "security"), tpl("b", "iam"))),
		pk("html", "1.0.0", func(p *packages.Package) { p.Description = "a <b> & c" }),
	)
	for _, snap := range []*Snapshot{ts.Catalog().Snapshot(), c.Snapshot()} {
		for _, q := range []string{"", "all=true&prerelease=true", "category=security", "category=observability", "experimental=true"} {
			v, _ := url.ParseQuery(q)
			f, _ := ParseSearchQuery(v, true)
			res := snap.Search(f)
			if len(res) == 0 {
				continue
			}
			items := make([]packages.SearchItem, len(res))
			for i, r := range res {
				items[i] = r.SearchItem()
			}
			want, _ := packages.Encode(items)
			got, err := searchBody(res)
			if err != nil || string(got) != string(want) {
				t.Errorf("query %q: assembled body differs from packages.Encode\n got %s\nwant %s", q, truncate(string(got)), truncate(string(want)))
			}
		}
	}
	// Narrowing shows only the kept templates, and HTML is not escaped.
	srv := newTestServer(t, DefaultConfig(), true)
	srv.Load([]*index.Record{
		docRecord(t, pk("tpl", "1.0.0", cats("network"), templates(tpl("a", "security"), tpl("b", "iam")))),
		docRecord(t, pk("html", "1.0.0", func(p *packages.Package) { p.Description = "a <b> & c" })),
	})
	w := srv.get("/search?category=security")
	if !strings.Contains(w.Body.String(), `"name": "a"`) || strings.Contains(w.Body.String(), `"name": "b"`) {
		t.Errorf("narrowed templates: %s", w.Body.String())
	}
	if w := srv.get("/search?package=html"); !strings.Contains(w.Body.String(), `"description": "a <b> & c"`) {
		t.Errorf("HTML escaped: %s", w.Body.String())
	}
}

// Free-form values survive index.Encode (which escapes HTML) unescaped.
func TestFreeFormNotEscaped(t *testing.T) {
	blobs := newFakeBlobs(t)
	s := packagetest.Integration()
	s.Vars = []packagetest.Var{{Name: "tpl", Type: "text", Default: "<a href='x'>&</a>"}}
	rec := specRecord(t, blobs, s, false)
	srv, err := New(DefaultConfig(), blobs, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv.Load([]*index.Record{rec})
	w := httptest.NewRecorder()
	srv.ServeHTTP(w, httptest.NewRequest("GET", "/package/acme_logs/1.2.0/", nil))
	if !strings.Contains(w.Body.String(), `"default": "<a href='x'>&</a>"`) {
		t.Errorf("default escaped or missing:\n%s", w.Body.String())
	}
}

func TestBackendFailure(t *testing.T) {
	ts := newTestServer(t, DefaultConfig(), false)
	ts.blobs.setFail(errors.New("registry down"))
	// Once the package was found, the catch-all cache headers are already
	// set (§6).
	for _, target := range []string{
		"/epr/acme_logs/acme_logs-1.2.0.zip",
		"/epr/acme_logs/acme_logs-1.2.0.zip.sig",
		"/package/acme_logs/1.2.0/docs/README.md",
	} {
		errCase("", target, 500, "internal server error", wantLongCC).check(t, ts.get(target))
	}
	// Not cached: the next request tries again.
	ts.blobs.setFail(nil)
	if w := ts.get("/package/acme_logs/1.2.0/docs/README.md"); w.Code != 200 {
		t.Errorf("after recovery: %d", w.Code)
	}
	// A server without a blob store fails the same way.
	s, _ := New(DefaultConfig(), nil, nil, nil)
	s.Load(ts.recs)
	w := httptest.NewRecorder()
	s.ServeHTTP(w, httptest.NewRequest("GET", "/epr/x/acme_logs-1.2.0.zip", nil))
	if w.Code != 500 || w.Body.String() != "internal server error\n" {
		t.Errorf("no blobs: %d %q", w.Code, w.Body.String())
	}
}

func TestHealthReadiness(t *testing.T) {
	ts := newTestServer(t, DefaultConfig(), false)
	ts.SetReady(false)
	w := ts.get("/health?ready=true")
	errCase("", "", 503, "not ready", wantNoStore).check(t, w)
	if w := ts.get("/health"); w.Code != 200 {
		t.Errorf("liveness while not ready: %d", w.Code)
	}
	ts.SetReady(true)
	if w := ts.get("/health?ready=1"); w.Code != 200 || w.Body.Len() != 0 || w.Header().Get("Content-Type") != "" {
		t.Errorf("ready: %d %q", w.Code, w.Body.String())
	}
}

func TestConfig(t *testing.T) {
	cfg := DefaultConfig()
	cfg.CacheTimeIndex = -1
	if _, err := New(cfg, nil, nil, nil); err == nil {
		t.Error("negative cache time accepted")
	}
	cfg.CacheTimeIndex = 500 * time.Millisecond // would be sent as max-age=0
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "-cache-time-index") {
		t.Errorf("sub-second cache time: err = %v, want it refused by its flag name", err)
	}
	cfg = Config{CacheTimeSearch: 90_500_000_000, ServiceName: "x"} // 90.5s
	ts := newTestServer(t, cfg, false)
	w := ts.get("/search")
	if got := w.Header()["Cache-Control"]; !reflect.DeepEqual(got, []string{"max-age=90", "public"}) {
		t.Errorf("custom cache time: %q", got)
	}
	if got := ts.get("/").Header()["Cache-Control"]; !reflect.DeepEqual(got, wantIndexCC) {
		t.Errorf("default index time: %q", got)
	}
	// The zero Config is strict: unknown parameters are rejected, no mocks.
	if w := ts.get("/search?foo=1"); w.Code != 400 {
		t.Errorf("zero config allowed unknown parameter: %d", w.Code)
	}
}
