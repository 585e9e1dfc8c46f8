package status

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func serve(h http.Handler, target string, hdr ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func decode[T any](t *testing.T, w *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q, want application/json; body %s", ct, w.Body)
	}
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		t.Fatalf("%v: %s", err, w.Body)
	}
	return v
}

func states(tags []Tag) string {
	var s []string
	for _, t := range tags {
		s = append(s, string(t.State))
	}
	return strings.Join(s, ",")
}

func TestRoutesAnswerJSON(t *testing.T) {
	r, _ := fixture(t)
	h := NewHandler(r, HandlerOptions{Now: r.Now})

	w := serve(h, "/status")
	if w.Code != 200 || w.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("/status: %d %v", w.Code, w.Header())
	}
	o := decode[Overall](t, w)
	if got := states(o.Problems); got != "failing,rejected,awaiting_signature,shadowed,not_a_package" {
		t.Errorf("/status problems in order %s", got)
	}
	if o.Indexer == nil || o.Indexer.IndexRevision != 42 || len(o.Replicas) != 2 || !o.Replicas[1].Stale || *o.Replicas[1].Lag != 3 {
		t.Errorf("/status indexer %+v replicas %+v", o.Indexer, o.Replicas)
	}
	if o.Repositories[0].Repository != "packages/apache" {
		t.Errorf("the failed repository is not first: %+v", o.Repositories)
	}

	o = decode[Overall](t, serve(h, "/status?state=served&limit=2"))
	if states(o.Problems) != "served,served" || o.Truncated != 1 {
		t.Errorf("state=served&limit=2: %s, truncated %d", states(o.Problems), o.Truncated)
	}
	o = decode[Overall](t, serve(h, "/status?q=503"))
	if len(o.Problems) != 1 || o.Problems[0].Tag != "2.4.1" {
		t.Errorf("q=503: %+v", o.Problems)
	}

	rs := decode[RepositoryStatus](t, serve(h, "/status/repositories/packages/nginx"))
	if rs.Repository.Repository != "packages/nginx" || states(rs.Tags) != "rejected,awaiting_signature,not_a_package,served" {
		t.Errorf("repository: %+v", rs)
	}
	if rs.Tags[3].InSync == nil || !*rs.Tags[3].InSync {
		t.Errorf("served tag not in sync: %+v", rs.Tags[3])
	}
	rs = decode[RepositoryStatus](t, serve(h, "/status/repositories/teams/security/endpoint"))
	if len(rs.Tags) != 1 || rs.Tags[0].InSync == nil || *rs.Tags[0].InSync {
		t.Errorf("a repository with slashes, whose index digest lags: %+v", rs.Tags)
	}

	ps := decode[PackageStatus](t, serve(h, "/status/packages/nginx"))
	if ps.Name != "nginx" || len(ps.Tags) != 4 {
		t.Errorf("package nginx: %+v", ps)
	}
	ps = decode[PackageStatus](t, serve(h, "/status/packages/nginx?version=1.21.0"))
	if len(ps.Tags) != 1 || ps.Tags[0].Rule != "manifest" || !strings.Contains(ps.Tags[0].Message, "semantic version") {
		t.Errorf("package nginx 1.21.0: %+v", ps)
	}
	// A name nothing claims is an empty answer, not an error: a waiting pipeline asks again.
	if ps = decode[PackageStatus](t, serve(h, "/status/packages/absent")); ps.Tags == nil || len(ps.Tags) != 0 {
		t.Errorf("package absent: %+v", ps)
	}
}

func TestBadRequestsSayWhy(t *testing.T) {
	r, _ := fixture(t)
	h := NewHandler(r, HandlerOptions{})
	for _, c := range []struct {
		target string
		status int
		says   string
	}{
		{"/status?state=broken", 400, "unknown state \"broken\": one of failing, rejected"},
		{"/status/repositories/packages/nginx?state=Served", 400, "unknown state"},
		{"/status?limit=0", 400, "limit \"0\": a number from 1 to 5000"},
		{"/status?limit=ten", 400, "a number from 1 to 5000"},
		{"/status/packages/nginx?limit=5001", 400, "a number from 1 to 5000"},
		{"/status?q=" + strings.Repeat("x", MaxQuery+1), 400, "more than 256"},
		{"/status?q=%zz", 400, "the query string does not parse"},
		{"/status?format=xml", 400, "format \"xml\": html or json"},
		{"/status/repositories/absent/repo", 404, "no status for repository \"absent/repo\""},
		{"/status/repositories/", 404, "name a repository"},
		{"/status/elsewhere", 404, "no status route"},
		{"/status/packages/", 404, "no status route"},
	} {
		w := serve(h, c.target)
		if w.Code != c.status {
			t.Errorf("%s: %d, want %d (%s)", c.target, w.Code, c.status, w.Body)
			continue
		}
		if e := decode[ErrorBody](t, w); !strings.Contains(e.Error, c.says) {
			t.Errorf("%s: %q does not say %q", c.target, e.Error, c.says)
		}
	}
}

func TestNegotiation(t *testing.T) {
	r, _ := fixture(t)
	h := NewHandler(r, HandlerOptions{Now: r.Now})
	browser := "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
	for _, c := range []struct {
		target string
		hdr    []string
		html   bool
	}{
		{"/status", nil, false},
		{"/status", []string{"Accept", "*/*"}, false},
		{"/status", []string{"Accept", browser}, true},
		{"/status", []string{"Accept", "application/json, text/html;q=0.5"}, false},
		{"/status", []string{"Accept", "text/*"}, true},
		{"/status?format=html", nil, true},
		{"/status?format=json", []string{"Accept", browser}, false},
		{"/status/packages/nginx", []string{"Accept", browser}, true},
		{"/status/repositories/packages/nginx?format=html", nil, true},
		{"/status/repositories/absent?format=html", nil, true},
	} {
		w := serve(h, c.target, c.hdr...)
		html := strings.HasPrefix(w.Header().Get("Content-Type"), "text/html")
		if html != c.html || (html && !strings.HasPrefix(w.Body.String(), "<!doctype html>")) {
			t.Errorf("%s %v: Content-Type %q, want html %v", c.target, c.hdr, w.Header().Get("Content-Type"), c.html)
		}
		if w.Header().Get("Vary") != "Accept" {
			t.Errorf("%s: no Vary: Accept", c.target)
		}
	}
}

func TestPrefersHTML(t *testing.T) {
	for _, c := range []struct {
		accept []string
		want   bool
	}{
		{nil, false},
		{[]string{""}, false},
		{[]string{"text/html"}, true},
		{[]string{"TEXT/HTML;q=0.9", "application/json;q=0.8"}, true},
		{[]string{"text/html;q=0.8, application/json;q=0.9"}, false},
		{[]string{"text/html;q=0, */*"}, false},
		{[]string{"text/html, application/json"}, false},
		{[]string{"application/*, text/html;q=0.9"}, false},
		{[]string{"*/*;q=0.8, text/html"}, true},
		{[]string{"text/html;q=bogus"}, true},
	} {
		if got := prefersHTML(c.accept); got != c.want {
			t.Errorf("prefersHTML(%q) = %v, want %v", c.accept, got, c.want)
		}
	}
}

func TestThePageShowsWhatTheJSONSays(t *testing.T) {
	r, m := fixture(t)
	hostile := Tag{Repository: "packages/evil", Tag: "1.0.0", Name: "evil", Version: "1.0.0", State: Rejected, Rule: "manifest",
		Message: `<script>alert(1)</script> in "title"`}
	put(t, m, TagKey(hostile), hostile)
	h := NewHandler(r, HandlerOptions{Now: r.Now})
	body := serve(h, "/status?format=html").Body.String()
	for _, want := range []string{
		`<meta name="viewport" content="width=device-width, initial-scale=1">`,
		`<form class="search" method="get" action="/status"`,
		`<a href="/status/repositories/packages/apache">packages/apache</a>`,
		`<a class="package" href="/status/packages/nginx">nginx</a> 1.21.0`,
		`<strong>manifest</strong>: manifest.yml: field &#34;version&#34;: &#34;1.21&#34; is not a semantic version`,
		`<code class="digest" title="sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb">sha256:bbbbbbbbbbbb</code>`,
		`served from <a href="/status/repositories/packages/nginx">packages/nginx</a>`,
		`holds <code>application/vnd.oci.image.config.v1&#43;json</code>`,
		`fetching the zip: registry answered 503 Service Unavailable`,
		`in 40s`, // next attempt
		`5m ago`,
		`<span class="bad">stale</span>`,
		`3 behind`,
		`&lt;script&gt;alert(1)&lt;/script&gt;`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	if strings.Contains(body, "<script>") {
		t.Error("a message was not escaped")
	}
	// Problems first: the failing row comes before the rejected one, which comes before the
	// shadowed one.
	if i, j, k := strings.Index(body, `data-state="failing"`), strings.Index(body, `data-state="rejected"`), strings.Index(body, `data-state="shadowed"`); i < 0 || i > j || j > k {
		t.Errorf("rows out of order: failing %d, rejected %d, shadowed %d", i, j, k)
	}
	w := serve(h, "/status?format=html")
	if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	pkg := serve(h, "/status/packages/absent?format=html").Body.String()
	if !strings.Contains(pkg, `id="no-tags"`) || !strings.Contains(pkg, "No tag claims this package name") {
		t.Errorf("an unclaimed package's page does not say so:\n%s", pkg)
	}
}

type failingStore struct{ *Memory }

func (*failingStore) List(context.Context, string) (map[string][]byte, error) {
	return nil, errors.New("nats: timeout")
}

func TestUnavailableStatusIs503(t *testing.T) {
	for name, q := range map[string]Queries{
		"nil":           nil,
		"no store":      Reader{},
		"failing store": Reader{Store: &failingStore{NewMemory()}},
	} {
		for _, target := range []string{"/status", "/status/repositories/x", "/status/packages/x"} {
			w := serve(NewHandler(q, HandlerOptions{}), target)
			if e := decode[ErrorBody](t, w); w.Code != 503 || e.Error == "" {
				t.Errorf("%s %s: %d %+v", name, target, w.Code, e)
			}
		}
	}
}

func TestTokenGuardsEveryRoute(t *testing.T) {
	r, _ := fixture(t)
	const secret = "s3cret-token"
	h := NewHandler(r, HandlerOptions{Token: secret})
	basic := func(user, password string) string {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.SetBasicAuth(user, password)
		return req.Header.Get("Authorization")
	}
	for _, c := range []struct {
		auth string
		want int
	}{
		{"", 401},
		{"Bearer wrong", 401},
		{"Bearer " + secret + "x", 401},
		{"Bearer", 401},
		{"Bearer ", 401},
		{"Basic !!!", 401},
		{basic("me", "wrong"), 401},
		{basic(secret, ""), 401}, // the token is the password, not the user
		{"Bearer " + secret, 200},
		{"bearer " + secret, 200},
		{basic("anyone", secret), 200},
		{basic("", secret), 200},
	} {
		for _, target := range []string{"/status", "/status/repositories/packages/nginx", "/status/packages/nginx", "/status/nothing?format=html"} {
			w := serve(h, target, "Authorization", c.auth)
			want := c.want
			if want == 200 && strings.HasPrefix(target, "/status/nothing") {
				want = 404
			}
			if w.Code != want {
				t.Errorf("%s with %q: %d, want %d", target, c.auth, w.Code, want)
			}
			if strings.Contains(w.Body.String(), secret) {
				t.Errorf("%s: the answer holds the token", target)
			}
			if w.Code == 401 {
				if got := w.Header().Values("WWW-Authenticate"); len(got) != 2 || !strings.HasPrefix(got[0], "Bearer ") || !strings.HasPrefix(got[1], "Basic ") {
					t.Errorf("%s: WWW-Authenticate %q", target, got)
				}
			}
		}
	}
}

func TestParseQuery(t *testing.T) {
	f, err := ParseQuery("state=rejected&q=+nginx+&version=1.0.0&limit=20&other=1")
	if err != nil || f != (Filter{State: Rejected, Query: "nginx", Version: "1.0.0", Limit: 20}) {
		t.Errorf("ParseQuery = %+v, %v", f, err)
	}
	if f, err := ParseQuery(""); err != nil || f != (Filter{}) {
		t.Errorf("ParseQuery(\"\") = %+v, %v", f, err)
	}
}

func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"", "state=served", "q=x&limit=3", "limit=-1", "state=%zz", "q=" + strings.Repeat("é", 200)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := ParseQuery(raw)
		if err != nil {
			return
		}
		if got.State != "" && !got.State.Valid() || got.Limit < 0 || got.Limit > MaxLimit || len(got.Query) > MaxQuery {
			t.Errorf("ParseQuery(%q) accepted %+v", raw, got)
		}
	})
}
