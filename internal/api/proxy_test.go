package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/oci-epr/package-registry/internal/index"
	"github.com/oci-epr/package-registry/internal/packages/packagetest"
	"github.com/oci-epr/package-registry/internal/upstream"
)

// proxyPair is two instances of our API: an upstream, served over HTTP, and a proxy in front
// of it holding packages of its own.
type proxyPair struct {
	up       *httptest.Server
	upServer *testServer
	proxy    *testServer
	// plain serves the proxy's packages without proxy mode, to compare with.
	plain *testServer
}

func newProxyPair(t *testing.T, upSpecs, localSpecs []packagetest.Spec, ucfg upstream.Config) *proxyPair {
	t.Helper()
	cfg := DefaultConfig()
	cfg.MockFallback = false
	return newProxyPairWith(t, cfg, upSpecs, localSpecs, ucfg)
}

// newProxyPairWith is newProxyPair with the upstream's own configuration.
func newProxyPairWith(t *testing.T, upCfg Config, upSpecs, localSpecs []packagetest.Spec, ucfg upstream.Config) *proxyPair {
	t.Helper()
	load := func(ts *testServer, specs []packagetest.Spec) {
		var recs []*index.Record
		for _, s := range specs {
			recs = append(recs, specRecord(t, ts.blobs, s, true))
		}
		ts.recs = recs
		ts.Load(recs)
	}
	cfg := DefaultConfig()
	cfg.MockFallback = false
	p := &proxyPair{upServer: newTestServer(t, upCfg, true), plain: newTestServer(t, cfg, true)}
	load(p.upServer, upSpecs)
	load(p.plain, localSpecs)
	p.up = httptest.NewServer(p.upServer)
	t.Cleanup(p.up.Close)
	ucfg.URL = p.up.URL + "/"
	reg := prometheus.NewRegistry()
	client, err := upstream.New(ucfg, reg)
	if err != nil {
		t.Fatal(err)
	}
	pcfg := DefaultConfig() // mock fallback on: proxy mode must turn it off by itself
	pcfg.Upstream = client
	p.proxy = newTestServer(t, pcfg, true)
	p.proxy.reg = reg
	load(p.proxy, localSpecs)
	return p
}

type nameVersion struct{ Name, Version, Title string }

func searchItems(t *testing.T, body []byte) []nameVersion {
	t.Helper()
	var items []nameVersion
	if err := json.Unmarshal(body, &items); err != nil {
		t.Fatalf("%v\n%s", err, body)
	}
	return items
}

func categoryCounts(t *testing.T, body []byte) map[string]int {
	t.Helper()
	var cats []CategoryCount
	if err := json.Unmarshal(body, &cats); err != nil {
		t.Fatalf("%v\n%s", err, body)
	}
	m := map[string]int{}
	for _, c := range cats {
		m[c.ID] = c.Count
	}
	return m
}

func counterValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if labels[lp.GetName()] != lp.GetValue() {
					continue metric
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

func proxyFixtures() (up, local []packagetest.Spec) {
	v12, v13, v11 := packagetest.Integration(), packagetest.Integration(), packagetest.Integration()
	v13.Version, v11.Version = "1.3.0", "1.1.0"
	upContent, localContent := packagetest.ContentPackage(), packagetest.ContentPackage()
	upContent.Title, localContent.Title = "Upstream copy", "Local copy"
	return []packagetest.Spec{v12, v13, packagetest.InputPackage(), upContent},
		[]packagetest.Spec{v11, localContent, packagetest.ZeroX()}
}

// Proxy mode serves our packages and the upstream's through one URL: merged searches and
// category counts, redirects for versions only the upstream holds.
func TestProxyMerges(t *testing.T) {
	upSpecs, localSpecs := proxyFixtures()
	p := newProxyPair(t, upSpecs, localSpecs, upstream.Config{CacheTime: time.Hour})

	tests := []struct {
		query string
		want  []nameVersion
	}{
		{"/search", []nameVersion{{"acme_content", "0.1.0", "Local copy"}, {"acme_input", "1.0.0", "Acme CEL input"},
			{"acme_logs", "1.3.0", "Acme Logs"}, {"acme_zero", "0.3.0", "Acme zero"}}},
		{"/search?all=true", []nameVersion{{"acme_content", "0.1.0", "Local copy"}, {"acme_input", "1.0.0", "Acme CEL input"},
			{"acme_logs", "1.1.0", "Acme Logs"}, {"acme_logs", "1.2.0", "Acme Logs"}, {"acme_logs", "1.3.0", "Acme Logs"},
			{"acme_zero", "0.3.0", "Acme zero"}}},
		{"/search?package=acme_logs&all=true", []nameVersion{{"acme_logs", "1.1.0", "Acme Logs"},
			{"acme_logs", "1.2.0", "Acme Logs"}, {"acme_logs", "1.3.0", "Acme Logs"}}},
		{"/search?category=network", []nameVersion{{"acme_zero", "0.3.0", "Acme zero"}}},
	}
	for _, tt := range tests {
		w := p.proxy.get(tt.query)
		if w.Code != 200 || w.Header().Get(hUpstream) != "fresh" {
			t.Fatalf("%s: %d, %s=%q", tt.query, w.Code, hUpstream, w.Header().Get(hUpstream))
		}
		if got := searchItems(t, w.Body.Bytes()); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s:\n got %v\nwant %v", tt.query, got, tt.want)
		}
	}

	// Category counts are the sums of both sides'.
	for _, q := range []string{"/categories", "/categories?include_policy_templates=true"} {
		want := categoryCounts(t, p.upServer.get(q).Body.Bytes())
		for id, n := range categoryCounts(t, p.plain.get(q).Body.Bytes()) {
			want[id] += n
		}
		w := p.proxy.get(q)
		if got := categoryCounts(t, w.Body.Bytes()); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %v, want %v", q, got, want)
		}
	}

	// The merged answers keep ETags and 304s.
	first := p.proxy.get("/search")
	etag := first.Header().Get("ETag")
	if w := p.proxy.get("/search", "If-None-Match", etag); etag == "" || w.Code != http.StatusNotModified {
		t.Fatalf("If-None-Match %q: %d", etag, w.Code)
	}
	if cc := first.Header()["Cache-Control"]; !reflect.DeepEqual(cc, []string{"max-age=600", "public"}) {
		t.Errorf("Cache-Control %q", cc)
	}

	// Versions only the upstream holds are redirected there, path and query kept; ours are served.
	for _, path := range []string{"/package/acme_logs/1.3.0/", "/epr/acme_logs/acme_logs-1.3.0.zip",
		"/epr/acme_logs/acme_logs-1.3.0.zip.sig", "/package/acme_logs/1.3.0/docs/README.md", "/package/acme_input/1.0.0/?x=1"} {
		w := p.proxy.get(path)
		if w.Code != http.StatusMovedPermanently || w.Header().Get("Location") != p.up.URL+path {
			t.Errorf("%s: %d Location %q, want 301 to %s", path, w.Code, w.Header().Get("Location"), p.up.URL+path)
			continue
		}
		resp, err := http.Get(w.Header().Get("Location"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("upstream %s: %d", path, resp.StatusCode)
		}
	}
	for _, path := range []string{"/package/acme_logs/1.1.0/", "/epr/acme_logs/acme_logs-1.1.0.zip", "/package/acme_zero/0.3.0/docs/README.md"} {
		if w := p.proxy.get(path); w.Code != 200 {
			t.Errorf("%s: %d, want our own 200", path, w.Code)
		}
	}
	// A version neither side holds ends upstream too, where it is a 404.
	if w := p.proxy.get("/package/nothing/1.0.0/"); w.Code != http.StatusMovedPermanently {
		t.Errorf("unknown version: %d", w.Code)
	}
	// Proxy mode serves no mock packages.
	if w := p.proxy.get("/search"); w.Header().Get(hSource) != "" {
		t.Errorf("X-Package-Source %q in proxy mode", w.Header().Get(hSource))
	}
}

// With nothing of our own, the proxy answers exactly what the upstream answers.
func TestProxyWithEmptyIndexRelaysUpstreamBytes(t *testing.T) {
	upSpecs, _ := proxyFixtures()
	p := newProxyPair(t, upSpecs, nil, upstream.Config{CacheTime: time.Hour})
	for _, q := range []string{"/search", "/search?all=true", "/categories", "/categories?include_policy_templates=true", "/search?package=none"} {
		want, got := p.upServer.get(q).Body.String(), p.proxy.get(q).Body.String()
		if got != want {
			t.Errorf("%s:\n got %s\nwant %s", q, got, want)
		}
	}
}

// A failing upstream never fails an answer: the last good upstream answer to the query stands
// in (stale), or only our packages are served (missing); either is marked and counted, and not
// to be cached by clients.
func TestProxyDegradesWhenUpstreamFails(t *testing.T) {
	upSpecs, localSpecs := proxyFixtures()
	// A cache time of 1ns asks the upstream on every query.
	p := newProxyPair(t, upSpecs, localSpecs, upstream.Config{CacheTime: time.Nanosecond, Timeout: 2 * time.Second})
	good := p.proxy.get("/search")
	goodCats := p.proxy.get("/categories")
	p.up.Close()

	w := p.proxy.get("/search")
	if w.Code != 200 || w.Header().Get(hUpstream) != "stale" || w.Body.String() != good.Body.String() {
		t.Fatalf("upstream down, known query: %d %s=%q\n%s", w.Code, hUpstream, w.Header().Get(hUpstream), w.Body)
	}
	if w.Header().Get("ETag") != good.Header().Get("ETag") {
		t.Errorf("stale answer's ETag %q differs from the good one's %q", w.Header().Get("ETag"), good.Header().Get("ETag"))
	}
	if cc := w.Header()["Cache-Control"]; !reflect.DeepEqual(cc, ccNoStore) {
		t.Errorf("stale answer's Cache-Control %q", cc)
	}
	if w := p.proxy.get("/categories"); w.Code != 200 || w.Header().Get(hUpstream) != "stale" || w.Body.String() != goodCats.Body.String() {
		t.Fatalf("upstream down, categories: %d %s=%q", w.Code, hUpstream, w.Header().Get(hUpstream))
	}
	w = p.proxy.get("/search?package=acme_logs&all=true")
	if w.Code != 200 || w.Header().Get(hUpstream) != "missing" {
		t.Fatalf("upstream down, new query: %d %s=%q", w.Code, hUpstream, w.Header().Get(hUpstream))
	}
	if got, want := searchItems(t, w.Body.Bytes()), []nameVersion{{"acme_logs", "1.1.0", "Acme Logs"}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("upstream down, new query: %v, want only ours %v", got, want)
	}
	for state, min := range map[string]float64{"fresh": 2, "stale": 2, "missing": 1} {
		if n := counterValue(t, p.proxy.reg, "epr_proxy_answers_total", map[string]string{"route": "/search", "state": state}) +
			counterValue(t, p.proxy.reg, "epr_proxy_answers_total", map[string]string{"route": "/categories", "state": state}); n < min {
			t.Errorf("epr_proxy_answers_total{state=%q} = %v, want ≥ %v", state, n, min)
		}
	}
	if n := counterValue(t, p.proxy.reg, "epr_proxy_upstream_requests_total", map[string]string{"route": "/search", "outcome": "network_error"}); n == 0 {
		t.Error("failed upstream requests not counted")
	}
}

// The upstream is asked exactly what its answer is cached under: a parameter the upstream refuses
// (here, one it does not know) neither fails the query that carried it nor, through the cache,
// the plain query that shares its Key.
func TestProxyForwardsTheCanonicalQuery(t *testing.T) {
	upSpecs, localSpecs := proxyFixtures()
	strict := DefaultConfig()
	strict.MockFallback = false
	strict.AllowUnknownQueryParameters = false
	var asked []string
	var mu sync.Mutex
	p := newProxyPairWith(t, strict, upSpecs, localSpecs, upstream.Config{CacheTime: time.Hour})
	p.up.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		asked = append(asked, r.URL.RawQuery)
		mu.Unlock()
		p.upServer.ServeHTTP(w, r)
	})
	if w := p.upServer.get("/search?package=acme_logs&utm_source=x"); w.Code != http.StatusBadRequest {
		t.Fatalf("the strict upstream answers an unknown parameter with %d, want 400", w.Code)
	}
	want := []nameVersion{{"acme_logs", "1.3.0", "Acme Logs"}}
	for _, q := range []string{"/search?package=acme_logs&utm_source=x", "/search?package=acme_logs", "/search?utm_source=y&package=acme_logs&package=other"} {
		w := p.proxy.get(q)
		if w.Code != 200 || w.Header().Get(hUpstream) != "fresh" {
			t.Fatalf("%s: %d %s=%q, want a fresh upstream part", q, w.Code, hUpstream, w.Header().Get(hUpstream))
		}
		if got := searchItems(t, w.Body.Bytes()); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %v, want %v", q, got, want)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if !reflect.DeepEqual(asked, []string{"package=acme_logs"}) {
		t.Errorf("upstream asked %q, want once, the canonical query", asked)
	}
}

// A slow upstream holds an answer no longer than the proxy's budget.
func TestProxyBoundsSlowUpstream(t *testing.T) {
	release := make(chan struct{})
	var answered atomic.Bool
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/search" && answered.CompareAndSwap(false, true) {
			w.Write([]byte("[]"))
			return
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(func() { close(release) })
	client, err := upstream.New(upstream.Config{URL: slow.URL, CacheTime: time.Nanosecond, Timeout: 3 * time.Second, StaleWait: 500 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Upstream = client
	ts := newTestServer(t, cfg, false)
	for _, tt := range []struct{ query, state string }{
		{"/search", "fresh"},       // the upstream's one quick answer
		{"/search", "stale"},       // then slow: the kept answer after the short wait
		{"/categories", "missing"}, // nothing kept: ours alone once the budget is spent
	} {
		start := time.Now()
		w := ts.get(tt.query)
		t.Logf("%s with the upstream %s: answered in %v", tt.query, map[bool]string{true: "quick", false: "slow"}[tt.state == "fresh"], time.Since(start).Round(time.Millisecond))
		if w.Code != 200 || w.Header().Get(hUpstream) != tt.state {
			t.Fatalf("%s: %d %s=%q, want %s", tt.query, w.Code, hUpstream, w.Header().Get(hUpstream), tt.state)
		}
		if tt.query == "/search" && !strings.Contains(w.Body.String(), `"acme_logs"`) {
			t.Fatalf("our packages missing from %s", w.Body)
		}
	}
}

// Whatever an upstream sends, merging it gives a valid JSON array that still holds our packages.
func FuzzMergeUpstream(f *testing.F) {
	upSpecs, localSpecs := proxyFixtures()
	cfg := DefaultConfig()
	cfg.MockFallback = false
	up, local := newTestServer(f, cfg, true), newTestServer(f, cfg, true)
	var upRecs, localRecs []*index.Record
	for _, s := range upSpecs {
		upRecs = append(upRecs, specRecord(f, up.blobs, s, false))
	}
	for _, s := range localSpecs {
		localRecs = append(localRecs, specRecord(f, local.blobs, s, false))
	}
	up.Load(upRecs)
	local.Load(localRecs)
	f.Add(up.get("/search?all=true").Body.Bytes())
	f.Add(up.get("/categories").Body.Bytes())
	f.Add([]byte(`[{"name":"acme_logs","version":"9.0.0"},{"name":"Bad","version":"1"},{"id":"x","count":-1}]`))
	snap := local.Catalog().Snapshot()
	all := &Filter{All: true}
	f.Fuzz(func(t *testing.T, body []byte) {
		merged, err := mergeSearch(snap.Search(all), body, true)
		if err != nil {
			t.Fatal(err)
		}
		var items []nameVersion
		if err := json.Unmarshal(merged, &items); err != nil {
			t.Fatalf("merged search is not JSON: %v\n%s", err, merged)
		}
		if len(items) < len(localRecs) {
			t.Fatalf("merged search lost our packages: %d items", len(items))
		}
		cats, err := mergeCategories(snap.Categories(all), body)
		if err != nil {
			t.Fatal(err)
		}
		if !json.Valid(cats) {
			t.Fatalf("merged categories are not JSON:\n%s", cats)
		}
	})
}
