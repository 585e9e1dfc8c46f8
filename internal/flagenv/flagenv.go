// Package flagenv owns how command-line flags are read from the environment: every flag `-foo-bar`
// may also be set as EPR_FOO_BAR, and a flag given on the command line wins.
package flagenv

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/oci-epr/package-registry/internal/version"
)

// Prefix is prepended to every environment variable name.
const Prefix = "EPR_"

// EnvName is the environment variable that sets flag name.
func EnvName(name string) string {
	return Prefix + strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(name))
}

// ErrVersion is what Parse returns when -version was given: the command prints nothing else,
// and Exit prints the version.
var ErrVersion = errors.New("version requested")

// Parse parses args into fs, after first applying the environment to every flag not given in args.
// A bad value, from either place, is an error naming the flag and, when it came from the
// environment, the variable. Every command also gets -version (command line only: EPR_VERSION
// set in a container's environment must not turn the service into a version printer), which
// makes Parse return ErrVersion.
func Parse(fs *flag.FlagSet, args []string, lookup func(string) (string, bool)) error {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if err != nil {
			return
		}
		if v, ok := lookup(EnvName(f.Name)); ok {
			if setErr := fs.Set(f.Name, v); setErr != nil {
				err = fmt.Errorf("failed to set -%s from %s: %w", f.Name, EnvName(f.Name), setErr)
			}
		}
	})
	if err != nil {
		return err
	}
	addVersion := fs.Lookup("version") == nil
	var wantVersion bool
	if addVersion {
		fs.BoolVar(&wantVersion, "version", false, "print the version and exit")
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if wantVersion {
		return ErrVersion
	}
	return nil
}

// Logger builds the process logger for a -log-level value (debug, info, warn, error) and a
// -log-type value (ecs: JSON lines with EPR's ECS fields; dev: text).
func Logger(level, logType string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("failed to set -log-level: invalid log level %q", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch logType {
	case "", "ecs", "json":
		return slog.New(NewECSHandler(os.Stderr, lv)), nil
	case "dev", "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	}
	return nil, fmt.Errorf("failed to set -log-type: invalid log type %q", logType)
}

// InArgs reports whether flag name appears in args (as -name, --name, -name=v or --name=v).
func InArgs(args []string, name string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		a = strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
		if a == name || strings.HasPrefix(a, name+"=") {
			return true
		}
	}
	return false
}

// List splits a comma-separated flag value, dropping empty items.
func List(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Exit ends a command after run returned err: quietly for -h (the usage was printed), with the
// version on standard output for -version, with "<prog>: <err>" and status 1 for any other
// error.
func Exit(prog string, err error) {
	if errors.Is(err, ErrVersion) {
		fmt.Println(version.String())
		return
	}
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return
	}
	fmt.Fprintf(os.Stderr, "%s: %v\n", prog, err)
	os.Exit(1)
}

// Main runs a command until SIGTERM or an interrupt cancels its context, with the process's
// arguments and environment, and exits as Exit does.
func Main(prog string, run func(ctx context.Context, args []string, lookup func(string) (string, bool)) error) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	err := run(ctx, os.Args[1:], os.LookupEnv)
	stop()
	Exit(prog, Attribute(err, os.Args[1:], os.Environ()))
}

// Attribute names the environment variable behind a flag an error complains about. Checks made
// after parsing (a TLS version, a proxy URL, flags that exclude each other) name the flag only,
// and a user who set EPR_FOO in a compose file would look for -foo on a command line that has
// none. environ is os.Environ's form; a flag given in args is the one that counted, so it is
// left alone.
func Attribute(err error, args, environ []string) error {
	if err == nil || errors.Is(err, ErrVersion) || errors.Is(err, flag.ErrHelp) {
		return err
	}
	msg := err.Error()
	var from []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, Prefix) || strings.Contains(msg, name) {
			continue
		}
		f := strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(name, Prefix)), "_", "-")
		if mentions(msg, "-"+f) && !InArgs(args, f) {
			from = append(from, "-"+f+" is set by "+name)
		}
	}
	if len(from) == 0 {
		return err
	}
	return fmt.Errorf("%w (%s)", err, strings.Join(from, ", "))
}

// mentions reports whether msg names flag as a whole word: -oci-registry, not -oci-registry-x.
func mentions(msg, flag string) bool {
	for i := 0; ; {
		j := strings.Index(msg[i:], flag)
		if j < 0 {
			return false
		}
		end := i + j + len(flag)
		before := i + j
		okBefore := before == 0 || !isFlagChar(msg[before-1])
		okAfter := end == len(msg) || !isFlagChar(msg[end])
		if okBefore && okAfter {
			return true
		}
		i = end
	}
}

func isFlagChar(c byte) bool {
	return c == '-' || c == '_' || c == '.' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9')
}
