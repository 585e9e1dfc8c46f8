package api

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/oci-epr/package-registry/docs"
	"github.com/oci-epr/package-registry/internal/upstream"
)

// openAPIDoc loads and validates docs/openapi.yaml (the bytes the server embeds).
func openAPIDoc(t *testing.T) *openapi3.T {
	t.Helper()
	registerRawDecoders()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(docs.OpenAPI)
	if err != nil {
		t.Fatalf("load docs/openapi.yaml: %v", err)
	}
	if !doc.IsOpenAPI31OrLater() || doc.IsOpenAPI32OrLater() {
		t.Fatalf("docs/openapi.yaml declares %q, want 3.1", doc.OpenAPI)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("docs/openapi.yaml is not a valid OpenAPI document: %v", err)
	}
	return doc
}

var registerOnce sync.Once

// registerRawDecoders lets kin-openapi read the bodies the API serves as bytes (zips,
// signatures, images, markdown); it knows only JSON, YAML and plain text itself.
func registerRawDecoders() {
	registerOnce.Do(func() {
		for _, ct := range []string{"application/zip", "application/pgp-signature", "image/x-icon",
			"image/svg+xml", "image/png", "image/jpeg", "image/gif", "image/webp", "text/markdown",
			"text/yaml", "multipart/byteranges"} {
			openapi3filter.RegisterBodyDecoder(ct, openapi3filter.FileBodyDecoder)
		}
	})
}

// docPath is the path of the document that describes a route template of Server.routes.
func docPath(template string) string {
	r := strings.NewReplacer("{n}", "{name}", "{v}", "{version}", "{file...}", "{file}")
	return r.Replace(template)
}

// matchPath returns the path parameters of target under a document path. The parameter an
// operation names in x-path-parameter-multi-segment, last in its path, takes the rest of the path,
// slashes included, as the file route does (OpenAPI path templates cannot say so).
func matchPath(path, target, multi string) (map[string]string, bool) {
	tp := strings.Split(path, "/")
	rp := strings.Split(target, "/")
	params := map[string]string{}
	for i, seg := range tp {
		if i >= len(rp) {
			return nil, false
		}
		if multi != "" && seg == "{"+multi+"}" && i == len(tp)-1 {
			params[multi] = strings.Join(rp[i:], "/")
			return params, true
		}
		if strings.HasPrefix(seg, "{") {
			params[strings.Trim(seg, "{}")] = rp[i]
			continue
		}
		if seg != rp[i] {
			return nil, false
		}
	}
	return params, len(tp) == len(rp)
}

// contract validates responses against the document and remembers which (path, status) pairs
// real responses covered.
type contract struct {
	t       *testing.T
	doc     *openapi3.T
	covered map[string]bool // "<path> <status>"
}

// check validates one response: its status must be documented for path, and its headers and
// body must match the response object. The request is validated too when the answer is not a
// client error, so the documented parameters accept what real clients send.
func (c *contract) check(path string, req *http.Request, w *httptest.ResponseRecorder) {
	t := c.t
	t.Helper()
	item := c.doc.Paths.Value(path)
	if item == nil || item.Get == nil {
		t.Errorf("%s: path %s not in the document", req.URL, path)
		return
	}
	multi, _ := item.Get.Extensions["x-path-parameter-multi-segment"].(string)
	params, ok := matchPath(path, req.URL.Path, multi)
	if !ok {
		t.Fatalf("test bug: %s does not match %s", req.URL.Path, path)
	}
	route := &routers.Route{Spec: c.doc, Path: path, PathItem: item, Method: http.MethodGet, Operation: item.Get}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	ctx := context.Background()
	if w.Code < 400 || w.Code >= 500 {
		if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
			t.Errorf("%s: the document rejects a request the API answers %d: %v", req.URL, w.Code, err)
		}
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: w.Code, Header: w.Header(),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}}
	out.SetBodyBytes(w.Body.Bytes())
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		t.Errorf("%s → %d does not match the document: %v\nbody: %s", req.URL, w.Code, err, truncate(w.Body.String()))
	}
	c.covered[path+" "+strconv.Itoa(w.Code)] = true
}

type contractCase struct {
	path   string // document path
	target string
	hdr    []string
	status int
	// revalidate repeats the request with the response's ETag and expects 304.
	revalidate bool
}

func (c *contract) run(ts *testServer, cases []contractCase) {
	c.t.Helper()
	for _, tc := range cases {
		req := httptest.NewRequest(http.MethodGet, tc.target, nil)
		for i := 0; i+1 < len(tc.hdr); i += 2 {
			req.Header.Set(tc.hdr[i], tc.hdr[i+1])
		}
		w := httptest.NewRecorder()
		ts.ServeHTTP(w, req)
		if w.Code != tc.status {
			c.t.Errorf("%s: status %d, want %d (%q)", tc.target, w.Code, tc.status, truncate(w.Body.String()))
		}
		c.check(tc.path, req, w)
		if !tc.revalidate {
			continue
		}
		etag := w.Header().Get("ETag")
		if etag == "" {
			c.t.Errorf("%s: no ETag to revalidate with", tc.target)
			continue
		}
		req = httptest.NewRequest(http.MethodGet, tc.target, nil)
		req.Header.Set("If-None-Match", etag)
		w = httptest.NewRecorder()
		ts.ServeHTTP(w, req)
		if w.Code != http.StatusNotModified {
			c.t.Errorf("%s with If-None-Match: status %d, want 304", tc.target, w.Code)
		}
		c.check(tc.path, req, w)
	}
}

// TestResponsesMatchOpenAPI runs the API over the fixture packages (and over the mock packages,
// and with failing blobs) and validates every response against docs/openapi.yaml: every route,
// every documented status, error bodies included, so the document cannot drift from the code.
func TestResponsesMatchOpenAPI(t *testing.T) {
	doc := openAPIDoc(t)
	c := &contract{t: t, doc: doc, covered: map[string]bool{}}
	ts := newTestServer(t, DefaultConfig(), false)

	// Every route the server registers is documented.
	for _, template := range ts.routes {
		if doc.Paths.Value(docPath(template)) == nil {
			t.Errorf("route %s is not in docs/openapi.yaml (as %s)", template, docPath(template))
		}
	}

	zip := "/epr/acme_logs/acme_logs-1.2.0.zip"
	c.run(ts, []contractCase{
		{path: "/", target: "/", status: 200, revalidate: true},
		{path: "/index.json", target: "/index.json", status: 200, revalidate: true},
		{path: "/index.json/", target: "/index.json/", status: 301},
		{path: "/health", target: "/health", status: 200},
		{path: "/health", target: "/health?ready=true", status: 200},
		{path: "/health/", target: "/health/", status: 301},
		{path: "/search", target: "/search", status: 200, revalidate: true},
		{path: "/search", target: "/search?all=true&prerelease=true", status: 200},
		{path: "/search", target: "/search?experimental=true&category=security", status: 200},
		{path: "/search", target: "/search?package=acme_logs&prerelease=false&kibana.version=8.15.0&capabilities=apm%2Cobservability&spec.min=2.3&spec.max=3.6", status: 200},
		{path: "/search", target: "/search?discovery=fields:host.ip,process.pid&discovery=datasets:x", status: 200},
		{path: "/search", target: "/search?category=observability&type=integration&agent.version=8.15.0&internal=true", status: 200},
		{path: "/search", target: "/search?package=nothing", status: 200},
		{path: "/search", target: "/search?kibana.version=abc", status: 400},
		{path: "/search", target: "/search?all=maybe", status: 400},
		{path: "/search", target: "/search?spec.max=2.10.1", status: 400},
		{path: "/search", target: "/search?discovery=foo", status: 400},
		{path: "/search", target: "/search?q=%zz", status: 400},
		{path: "/search/", target: "/search/?all=true", status: 301},
		{path: "/categories", target: "/categories", status: 200, revalidate: true},
		{path: "/categories", target: "/categories?prerelease=true&include_policy_templates=true&kibana.version=8.15.0", status: 200},
		{path: "/categories", target: "/categories?experimental=true", status: 200},
		{path: "/categories", target: "/categories?spec.min=a.b", status: 400},
		{path: "/categories/", target: "/categories/", status: 301},
		{path: "/favicon.ico", target: "/favicon.ico", status: 200},
		{path: "/favicon.ico/", target: "/favicon.ico/", status: 301},
		{path: "/openapi.yaml", target: "/openapi.yaml", status: 200, revalidate: true},
		{path: "/openapi.yaml/", target: "/openapi.yaml/", status: 301},
		{path: "/epr/{any}/{file}", target: zip, status: 200},
		{path: "/epr/{any}/{file}", target: "/epr/x/acme_logs-1.2.0.zip", status: 200},
		{path: "/epr/{any}/{file}", target: zip, hdr: []string{"Range", "bytes=0-9"}, status: 206},
		{path: "/epr/{any}/{file}", target: zip, hdr: []string{"Range", "bytes=0-1,4-5"}, status: 206},
		{path: "/epr/{any}/{file}", target: zip, hdr: []string{"Range", "bytes=99999999-"}, status: 416},
		{path: "/epr/{any}/{file}", target: zip, hdr: []string{"If-Modified-Since", "Mon, 01 Jan 2035 00:00:00 GMT"}, status: 304},
		{path: "/epr/{any}/{file}", target: zip + ".sig", status: 200},
		{path: "/epr/{any}/{file}/", target: zip + "/", status: 301},
		{path: "/epr/{any}/{file}", target: "/epr/acme_logs/acme_logs-1.1.0.zip.sig", status: 404},
		{path: "/epr/{any}/{file}", target: "/epr/acme_logs/acme_logs-9.9.9.zip", status: 404},
		{path: "/epr/{any}/{file}", target: "/epr/acme_logs/acme_logs-9.9.9.zip.sig", status: 404},
		{path: "/epr/{any}/{file}", target: "/epr/acme_logs/acme_logs.tar", status: 404},
		{path: "/epr/{any}/{file}", target: "/epr/acme_logs/acme_logs-1.2.zip", status: 400},
		{path: "/package/{name}/{version}/", target: "/package/acme_logs/1.2.0/", status: 200, revalidate: true},
		{path: "/package/{name}/{version}/", target: "/package/acme_input/1.0.0/", status: 200},
		{path: "/package/{name}/{version}/", target: "/package/acme_content/0.1.0/", status: 200},
		{path: "/package/{name}/{version}/", target: "/package/acme_old/1.5.0/", status: 200},
		{path: "/package/{name}/{version}/", target: "/package/acme_gold/2.0.0/", status: 200},
		{path: "/package/{name}/{version}/", target: "/package/acme_disco/1.1.0/", status: 200},
		{path: "/package/{name}/{version}/", target: "/package/acme_dotted/1.0.0/", status: 200},
		{path: "/package/{name}/{version}/", target: "/package/acme_logs/1.3.0-rc1/", status: 200},
		{path: "/package/{name}/{version}/", target: "/package/no_such/1.0.0/", status: 404},
		{path: "/package/{name}/{version}/", target: "/package/Acme/1.0.0/", status: 404},
		{path: "/package/{name}/{version}/", target: "/package/acme_logs/1.2/", status: 400},
		{path: "/package/{name}/{version}", target: "/package/acme_logs/1.2.0", status: 301},
		{path: "/package/{name}/{version}/{file}", target: "/package/acme_logs/1.2.0/docs/README.md", status: 200},
		{path: "/package/{name}/{version}/{file}", target: "/package/acme_logs/1.2.0/img/logo.svg", status: 200},
		{path: "/package/{name}/{version}/{file}", target: "/package/acme_logs/1.2.0/img/dashboard.png", status: 200},
		{path: "/package/{name}/{version}/{file}", target: "/package/acme_logs/1.2.0/manifest.yml", status: 200},
		{path: "/package/{name}/{version}/{file}", target: "/package/acme_logs/1.2.0/docs/notes.txt", status: 200},
		{path: "/package/{name}/{version}/{file}", target: "/package/acme_logs/1.2.0/docs/data.bin", status: 200},
		{path: "/package/{name}/{version}/{file}", target: "/package/acme_logs/1.2.0/img/fav.ico", status: 200},
		{path: "/package/{name}/{version}/{file}", target: "/package/acme_logs/1.2.0/kibana/dashboard/acme-overview.json", status: 200},
		{path: "/package/{name}/{version}/{file}", target: "/package/acme_logs/1.2.0/docs/README.md", hdr: []string{"Range", "bytes=0-0"}, status: 206},
		{path: "/package/{name}/{version}/{file}", target: "/package/acme_logs/1.2.0/docs/README.md", hdr: []string{"Range", "bytes=99999-"}, status: 416},
		{path: "/package/{name}/{version}/{file}", target: "/package/acme_logs/1.2.0/docs/README.md", revalidate: true, status: 200},
		{path: "/package/{name}/{version}/{file}", target: "/package/acme_logs/1.2.0/docs/absent.md", status: 404},
		{path: "/package/{name}/{version}/{file}", target: "/package/no_such/1.0.0/img/x.png", status: 404},
		{path: "/package/{name}/{version}/{file}", target: "/package/acme_logs/x/docs/README.md", status: 400},
	})

	// Served bytes are the embedded document.
	if w := ts.get("/openapi.yaml"); !bytes.Equal(w.Body.Bytes(), docs.OpenAPI) || w.Header().Get("Content-Type") != "application/yaml" {
		t.Errorf("/openapi.yaml: %q, %d bytes, want the embedded document as application/yaml", w.Header().Get("Content-Type"), w.Body.Len())
	}

	// Strict query parameters.
	strict := DefaultConfig()
	strict.AllowUnknownQueryParameters = false
	c.run(newTestServer(t, strict, false), []contractCase{
		{path: "/search", target: "/search?foo=1", status: 400},
		{path: "/categories", target: "/categories?package=acme_logs", status: 400},
	})

	// Not ready yet.
	notReady := newTestServer(t, DefaultConfig(), false)
	notReady.SetReady(false)
	c.run(notReady, []contractCase{{path: "/health", target: "/health?ready=true", status: 503}})

	// The registry fails: the package is known but its blobs cannot be read.
	failing := newTestServer(t, DefaultConfig(), false)
	failing.blobs.setFail(errors.New("registry unreachable"))
	c.run(failing, []contractCase{
		{path: "/epr/{any}/{file}", target: zip, status: 500},
		{path: "/package/{name}/{version}/{file}", target: "/package/acme_input/1.0.0/docs/README.md", status: 500},
	})

	// The mock packages, served while nothing is indexed.
	mock := newTestServer(t, DefaultConfig(), true)
	c.run(mock, []contractCase{
		{path: "/search", target: "/search?all=true&prerelease=true", status: 200},
		{path: "/categories", target: "/categories?include_policy_templates=true", status: 200},
		{path: "/package/{name}/{version}/", target: "/package/mock_logs/1.0.0/", status: 200},
		{path: "/package/{name}/{version}/", target: "/package/mock_input/0.1.0/", status: 200},
		{path: "/epr/{any}/{file}", target: "/epr/mock_logs/mock_logs-1.0.0.zip", status: 200},
		{path: "/health", target: "/health?ready=true", status: 200},
	})

	// Proxy mode: merged answers, and versions only the upstream holds redirected there.
	upSpecs, localSpecs := proxyFixtures()
	pair := newProxyPair(t, upSpecs, localSpecs, upstream.Config{CacheTime: time.Hour})
	c.run(pair.proxy, []contractCase{
		{path: "/search", target: "/search?all=true", status: 200},
		{path: "/categories", target: "/categories", status: 200},
		{path: "/package/{name}/{version}/", target: "/package/acme_logs/1.3.0/", status: 301},
		{path: "/package/{name}/{version}/{file}", target: "/package/acme_logs/1.3.0/docs/README.md", status: 301},
		{path: "/epr/{any}/{file}", target: "/epr/acme_logs/acme_logs-1.3.0.zip", status: 301},
	})

	// Every documented status was produced by a real response, except those only an internal
	// fault can produce (a document that fails to render).
	unreachable := map[string]bool{
		"/search 404":                    true,
		"/categories 404":                true,
		"/package/{name}/{version}/ 500": true,
	}
	var missing []string
	for path, item := range doc.Paths.Map() {
		if item.Get == nil {
			t.Errorf("%s has no GET operation", path)
			continue
		}
		if slices.Contains(item.Get.Tags, "status") {
			continue // not EPR's: internal/status serves them and checks them against the document
		}
		for status := range item.Get.Responses.Map() {
			key := path + " " + status
			if !c.covered[key] && !unreachable[key] {
				missing = append(missing, key)
			}
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("documented responses no test request produced:\n%s", strings.Join(missing, "\n"))
	}
}
