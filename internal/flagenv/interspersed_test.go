package flagenv

import (
	"flag"
	"io"
	"slices"
	"testing"
	"time"
)

func interspersedSet() *flag.FlagSet {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Duration("timeout", time.Minute, "")
	fs.String("state", "", "")
	fs.Bool("json", false, "")
	return fs
}

func TestInterspersed(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"flags last", []string{"nginx@1.20.0", "-timeout", "30s"}, []string{"-timeout", "30s", "--", "nginx@1.20.0"}},
		{"double dash and =", []string{"nginx@1.20.0", "--timeout=30s", "-json"}, []string{"--timeout=30s", "-json", "--", "nginx@1.20.0"}},
		{"a bool flag takes no value", []string{"-json", "nginx", "-state", "rejected"}, []string{"-json", "-state", "rejected", "--", "nginx"}},
		{"a value that looks like a flag", []string{"-state", "-x", "nginx"}, []string{"-state", "-x", "--", "nginx"}},
		{"after -- everything is positional", []string{"a", "--", "-timeout", "b"}, []string{"--", "a", "-timeout", "b"}},
		{"a lone dash is positional", []string{"-", "-json"}, []string{"-json", "--", "-"}},
		{"unknown flags are left to Parse", []string{"x", "-nope", "y"}, []string{"-nope", "--", "x", "y"}},
		{"a value flag at the end", []string{"x", "-timeout"}, []string{"-timeout", "--", "x"}},
		{"nothing", nil, []string{"--"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Interspersed(interspersedSet(), tt.args); !slices.Equal(got, tt.want) {
				t.Errorf("Interspersed(%q) = %q, want %q", tt.args, got, tt.want)
			}
		})
	}
	fs := interspersedSet()
	if err := Parse(fs, Interspersed(fs, []string{"nginx@1.20.0", "-timeout", "30s"}), noEnv); err != nil ||
		fs.Lookup("timeout").Value.String() != "30s" || !slices.Equal(fs.Args(), []string{"nginx@1.20.0"}) {
		t.Errorf("parsed: %v, timeout %s, args %q", err, fs.Lookup("timeout").Value, fs.Args())
	}
}

// FuzzInterspersed: every argument is kept, in order among flags and among positionals, and
// parsing the result never panics.
func FuzzInterspersed(f *testing.F) {
	f.Add("nginx@1.20.0\x00-timeout\x0030s")
	f.Add("--\x00-json\x00--state=x")
	f.Add("-state\x00-\x00--")
	f.Fuzz(func(t *testing.T, joined string) {
		var args []string
		if joined != "" {
			args = splitNUL(joined)
		}
		got := Interspersed(interspersedSet(), args)
		// Every argument but "--" is kept; one "--" is added unless args had a separating one.
		if len(got) != len(args)+1 && len(got) != len(args) {
			t.Fatalf("Interspersed(%q) = %q", args, got)
		}
		notSep := func(s string) bool { return s == "--" }
		a, g := slices.DeleteFunc(slices.Clone(args), notSep), slices.DeleteFunc(slices.Clone(got), notSep)
		slices.Sort(a)
		slices.Sort(g)
		if !slices.Equal(a, g) {
			t.Fatalf("Interspersed(%q) = %q: arguments lost or added", args, got)
		}
		fs := interspersedSet()
		_ = fs.Parse(got)
	})
}

func splitNUL(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

func noEnv(string) (string, bool) { return "", false }
