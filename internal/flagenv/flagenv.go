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
)

// Prefix is prepended to every environment variable name.
const Prefix = "EPR_"

// EnvName is the environment variable that sets flag name.
func EnvName(name string) string {
	return Prefix + strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(name))
}

// Parse parses args into fs, after first applying the environment to every flag not given in args.
// A bad value, from either place, is an error naming the flag.
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
				err = fmt.Errorf("failed to set -%s: %w", f.Name, setErr)
			}
		}
	})
	if err != nil {
		return err
	}
	return fs.Parse(args)
}

// Logger builds the process logger for a -log-level value (debug, info, warn, error) and a
// -log-type value (ecs: JSON lines; dev: text).
func Logger(level, logType string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("failed to set -log-level: invalid log level %q", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch logType {
	case "", "ecs", "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
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

// Exit ends a command after run returned err: quietly for -h (the usage was printed), with
// "<prog>: <err>" and status 1 for any other error.
func Exit(prog string, err error) {
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
	Exit(prog, err)
}
