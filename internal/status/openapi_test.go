package status

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/oci-epr/package-registry/docs"
)

// TestResponsesMatchOpenAPI serves a store with a tag in every state and checks every answer of
// the status routes, errors included, against docs/openapi.yaml (its operations tagged
// "status"), and that every status the document names for them was produced.
func TestResponsesMatchOpenAPI(t *testing.T) {
	openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.FileBodyDecoder)
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(docs.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("docs/openapi.yaml is not a valid OpenAPI document: %v", err)
	}
	r, _ := fixture(t)
	open := NewHandler(r, HandlerOptions{Now: r.Now})
	guarded := NewHandler(r, HandlerOptions{Token: "t"})
	absent := NewHandler(nil, HandlerOptions{})
	browser := []string{"Accept", "text/html,*/*;q=0.8"}
	const (
		overall = "/status"
		repo    = "/status/repositories/{repository}"
		pkg     = "/status/packages/{name}"
	)
	covered := map[string]bool{}
	for _, c := range []struct {
		h      http.Handler
		path   string
		target string
		hdr    []string
		status int
	}{
		{open, overall, "/status", nil, 200},
		{open, overall, "/status?state=served", nil, 200},
		{open, overall, "/status?state=failing&q=apache&limit=1", nil, 200},
		{open, overall, "/status?q=nginx&format=json", browser, 200},
		{open, overall, "/status", browser, 200},
		{open, overall, "/status?format=html&state=rejected", nil, 200},
		{open, overall, "/status?state=nope", nil, 400},
		{open, overall, "/status?limit=0", browser, 400},
		{guarded, overall, "/status", nil, 401},
		{guarded, overall, "/status", []string{"Authorization", "Bearer t"}, 200},
		{absent, overall, "/status", nil, 503},
		{open, repo, "/status/repositories/packages/nginx", nil, 200},
		{open, repo, "/status/repositories/packages/apache?state=failing", nil, 200},
		{open, repo, "/status/repositories/teams/security/endpoint", browser, 200},
		{open, repo, "/status/repositories/packages/nginx?limit=1", nil, 200},
		{open, repo, "/status/repositories/packages/nginx?limit=x", nil, 400},
		{open, repo, "/status/repositories/absent", nil, 404},
		{open, repo, "/status/repositories/absent", browser, 404},
		{guarded, repo, "/status/repositories/packages/nginx", nil, 401},
		{absent, repo, "/status/repositories/packages/nginx", nil, 503},
		{open, pkg, "/status/packages/nginx", nil, 200},
		{open, pkg, "/status/packages/nginx?version=1.21.0", nil, 200},
		{open, pkg, "/status/packages/apache", browser, 200},
		{open, pkg, "/status/packages/absent", nil, 200},
		{open, pkg, "/status/packages/nginx?format=yaml", nil, 400},
		{guarded, pkg, "/status/packages/nginx", browser, 401},
		{absent, pkg, "/status/packages/nginx", nil, 503},
	} {
		req := httptest.NewRequest(http.MethodGet, c.target, nil)
		for i := 0; i+1 < len(c.hdr); i += 2 {
			req.Header.Set(c.hdr[i], c.hdr[i+1])
		}
		w := httptest.NewRecorder()
		c.h.ServeHTTP(w, req)
		if w.Code != c.status {
			t.Errorf("%s: %d, want %d: %s", c.target, w.Code, c.status, w.Body)
			continue
		}
		item := doc.Paths.Value(c.path)
		if item == nil || item.Get == nil {
			t.Fatalf("%s is not in docs/openapi.yaml", c.path)
		}
		params := map[string]string{}
		switch c.path {
		case repo:
			params["repository"] = strings.TrimPrefix(req.URL.Path, PathRepositories)
		case pkg:
			params["name"] = strings.TrimPrefix(req.URL.Path, PathPackages)
		}
		route := &routers.Route{Spec: doc, Path: c.path, PathItem: item, Method: http.MethodGet, Operation: item.Get}
		in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
		if w.Code != 400 {
			if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
				t.Errorf("%s: the document rejects a request answered %d: %v", c.target, w.Code, err)
			}
		}
		out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: w.Code, Header: w.Header(),
			Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}}
		out.SetBodyBytes(w.Body.Bytes())
		if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
			t.Errorf("%s → %d does not match the document: %v\nbody: %.2000s", c.target, w.Code, err, w.Body)
		}
		covered[c.path+" "+strconv.Itoa(w.Code)] = true
	}
	var missing []string
	for path, item := range doc.Paths.Map() {
		if item.Get == nil || !slices.Contains(item.Get.Tags, "status") {
			continue
		}
		if !strings.HasPrefix(path, PathOverall) {
			t.Errorf("%s is tagged status", path)
		}
		if _, ok := item.Get.Extensions["x-epr"]; !ok {
			t.Errorf("%s does not say it is not part of EPR's API (x-epr)", path)
		}
		for status := range item.Get.Responses.Map() {
			if !covered[path+" "+status] {
				missing = append(missing, path+" "+status)
			}
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("documented responses no request produced:\n%s", strings.Join(missing, "\n"))
	}
}
