package mirror

import (
	"net/url"
	"strings"
	"testing"
)

func TestResolveStaysOnTheSource(t *testing.T) {
	src, err := parseSource("https://user:s3cret@epr.example/prefix/")
	if err != nil {
		t.Fatal(err)
	}
	if src.String() != "https://epr.example/prefix" {
		t.Fatalf("base %q", src)
	}
	tests := []struct{ ref, want, err string }{
		{ref: "/epr/nginx/nginx-1.0.0.zip", want: "https://epr.example/prefix/epr/nginx/nginx-1.0.0.zip"},
		{ref: "epr/a%2Fb/x.zip?v=1", want: "https://epr.example/prefix/epr/a%2Fb/x.zip?v=1"},
		{ref: "https://epr.example/elsewhere/x.zip", want: "https://epr.example/elsewhere/x.zip"},
		{ref: "//epr.example/x.zip", want: "https://epr.example/x.zip"},
		{ref: "/../../x.zip", want: "https://epr.example/x.zip"},
		{ref: "@127.0.0.2:8080/x.zip", err: "not a URL reference"},
		{ref: "http://epr.example/x.zip", err: "not on the source"},
		{ref: "https://other.example/x.zip", err: "not on the source"},
		{ref: "//other.example/x.zip", err: "not on the source"},
		{ref: "https://u:p@epr.example/x.zip", err: "carries credentials"},
		{ref: "mailto:x@epr.example", err: "not on the source"},
	}
	for _, tt := range tests {
		got, err := src.resolve(tt.ref)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: %q, %v; want an error saying %q", tt.ref, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%q: %q, %v; want %q", tt.ref, got, err, tt.want)
		}
	}
	for _, bad := range []string{"ftp://epr.example", "https://u:s3cret@epr.example/?q=1", "https://u:s3cret@[::1"} {
		_, err := parseSource(bad)
		if err == nil || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%q: %v; want an error without the password", bad, err)
		}
	}
}

// Whatever a document says, the URL fetched is on the source, and it carries no credentials.
func FuzzResolve(f *testing.F) {
	for _, s := range []string{"/epr/x.zip", "@127.0.0.2:80/x.zip", "//other/x", "https://epr.example/x", "\\\\other\\x", "/%2e%2e/x", "http:other/x"} {
		f.Add(s)
	}
	src, err := parseSource("https://user:pw@epr.example/base")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		got, err := src.resolve(ref)
		if err != nil {
			return
		}
		u, err := url.Parse(got)
		if err != nil {
			t.Fatalf("%q resolved to %q, which does not parse: %v", ref, got, err)
		}
		if u.Scheme != "https" || u.Host != "epr.example" || u.User != nil {
			t.Fatalf("%q resolved to %q, off the source", ref, got)
		}
	})
}
