package status

import (
	"strings"
	"testing"
)

func TestParseWant(t *testing.T) {
	tests := []struct {
		in   string
		want Want
		err  string
	}{
		{in: "nginx@1.20.0", want: Want{Name: "nginx", Version: "1.20.0"}},
		{in: "aws_s3@2.0.0-beta.1+build.7", want: Want{Name: "aws_s3", Version: "2.0.0-beta.1+build.7"}},
		{in: "nginx", err: "not name@version"},
		{in: "nginx:1.20.0", err: "not name@version"},
		{in: "@1.20.0", err: "not a package name"},
		{in: "Nginx@1.20.0", err: "not a package name"},
		{in: "packages/nginx@1.20.0", err: "not a package name"},
		{in: "nginx@", err: "not a semantic version"},
		{in: "nginx@1.20", err: "not a semantic version"},
		{in: "nginx@v1.20.0", err: "not a semantic version"},
		{in: "nginx@1.20.0@1", err: "not a semantic version"},
	}
	for _, tt := range tests {
		got, err := ParseWant(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseWant(%q) = %+v, %v; want an error with %q", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseWant(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
		if got.String() != tt.in {
			t.Errorf("String() = %q, want %q", got.String(), tt.in)
		}
	}
}

// FuzzParseWant: whatever the argument, no panic, and what is accepted prints back as given.
func FuzzParseWant(f *testing.F) {
	for _, s := range []string{"nginx@1.20.0", "a@0.0.1-rc.1+b", "@", "x@@", "nginx@1.2.3\x00", "ü@1.0.0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		w, err := ParseWant(s)
		if err != nil {
			return
		}
		if w.String() != s || w.Name == "" || w.Version == "" || w.Digest != "" {
			t.Fatalf("ParseWant(%q) = %+v", s, w)
		}
	})
}
