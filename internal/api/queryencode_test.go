package api

import (
	"net/url"
	"testing"
)

// Encode is what proxy mode forwards, so it must stand for exactly the Key of the query it came
// from: parsed back, it gives the same Key, and it carries nothing the Key does not.
func TestFilterEncodeKeepsTheKey(t *testing.T) {
	tests := []struct {
		route, query, want string
	}{
		{"/search", "", ""},
		{"/search", "package=upa&utm_source=x&internal=true", "package=upa"},
		{"/search", "package=upa&package=other", "package=upa"},
		{"/search", "kibana.version=8.12&all=1&prerelease=false", "all=true&kibana.version=8.12.0"},
		{"/search", "capabilities=security,apm&spec.min=3.0&spec.max=3.2", "capabilities=apm%2Csecurity&spec.max=3.2&spec.min=3.0"},
		{"/search", "discovery=fields:b,a&discovery=datasets:x", "discovery=datasets%3Ax&discovery=fields%3Aa%2Cb"},
		{"/search", "type=integration&category=network&experimental=true&agent.version=9.0.0-SNAPSHOT", "agent.version=9.0.0-SNAPSHOT&category=network&experimental=true&type=integration"},
		{"/categories", "include_policy_templates=true&package=ignored&kibana.version=9.1.0", "include_policy_templates=true&kibana.version=9.1.0"},
	}
	for _, tt := range tests {
		f := parseRoute(t, tt.route, tt.query)
		if got := f.Encode(); got != tt.want {
			t.Errorf("%s?%s: Encode %q, want %q", tt.route, tt.query, got, tt.want)
		}
		if again := parseRoute(t, tt.route, f.Encode()); again.Key() != f.Key() {
			t.Errorf("%s?%s: Key %q, after Encode %q", tt.route, tt.query, f.Key(), again.Key())
		}
	}
}

func parseRoute(t testing.TB, route, query string) *Filter {
	t.Helper()
	q, err := url.ParseQuery(query)
	if err != nil {
		t.Fatal(err)
	}
	parse := ParseSearchQuery
	if route == "/categories" {
		parse = ParseCategoriesQuery
	}
	f, err := parse(q, true)
	if err != nil {
		t.Fatalf("%s?%s: %v", route, query, err)
	}
	return f
}

// Whatever query parses, its Encode parses too, to the same Key, and is stable.
func FuzzFilterEncode(f *testing.F) {
	for _, s := range []string{"package=upa&utm_source=x", "kibana.version=8.12&all=1", "capabilities=a,,b&discovery=fields:a:b,c",
		"spec.min=3.0&spec.max=3.10", "include_policy_templates=true", "agent.version=1.2.3+meta"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, query string) {
		q, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		for _, parse := range []func(url.Values, bool) (*Filter, error){ParseSearchQuery, ParseCategoriesQuery} {
			flt, err := parse(q, true)
			if err != nil {
				continue
			}
			enc := flt.Encode()
			q2, err := url.ParseQuery(enc)
			if err != nil {
				t.Fatalf("%q encodes to %q, which does not parse: %v", query, enc, err)
			}
			again, err := parse(q2, false)
			if err != nil {
				t.Fatalf("%q encodes to %q: %v", query, enc, err)
			}
			if again.Key() != flt.Key() || again.Encode() != enc {
				t.Fatalf("%q: Key %q Encode %q; after Encode: Key %q Encode %q", query, flt.Key(), enc, again.Key(), again.Encode())
			}
		}
	})
}
