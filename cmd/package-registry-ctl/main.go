// Command package-registry-ctl asks a running registry (API replica, indexer or all-in-one)
// about indexing: `wait` until a pushed version is served, for a package author's pipeline,
// and `status` for the tables an operator reads. It only parses flags and wires
// internal/status (the client of the status routes, the wait's decision, the tables).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/oci-epr/package-registry/internal/flagenv"
	"github.com/oci-epr/package-registry/internal/status"
	"github.com/oci-epr/package-registry/internal/version"
)

const prog = "package-registry-ctl"

// Exit codes. 0, 1 and 2 are what a pipeline tests for; 3 and 4 say the question itself
// could not be asked, so that a pipeline does not report a broken address as a broken package.
const (
	exitServed  = 0 // wait: served; status: printed
	exitRefused = 1 // wait: rejected, not a package, or shadowed: pushing again is the way on
	exitTimeout = 2 // wait: not served within -timeout (the message says the last state)
	exitNoAsk   = 3 // the status could not be read: unreachable for the whole wait, or an answer asking again cannot change (401, 400, 404, not JSON)
	exitUsage   = 4 // bad flags or arguments
)

const usage = `Usage: package-registry-ctl [global flags] <command> [flags] [arguments]

Commands:
  wait <name>@<version>   wait until the version is served; exit 0 served, 1 rejected (with the
                          rule and message), 2 not served within -timeout
  status [<name>]         the status as tables: overall, one package's tags, or -repository's

Exit codes: 0 served (or printed), 1 refused, 2 timeout, 3 status unreachable or the request
refused, 4 usage.

Global flags (also after the command; each also EPR_<FLAG>):
`

// globals are the flags every command takes.
type globals struct {
	address  string
	token    string
	logLevel string
	logType  string
}

// defaultGlobals are the globals' defaults.
func defaultGlobals() globals {
	return globals{address: status.DefaultAddress, logLevel: "info", logType: "dev"}
}

// register defines the globals on fs with d as their defaults.
func (g *globals) register(fs *flag.FlagSet, d globals) {
	fs.StringVar(&g.address, "address", d.address, "base URL of the status routes: the metrics listener of the API, indexer or all-in-one (the default is the dev stack's), or the public address when it serves them (-status-public) with a token")
	fs.StringVar(&g.token, "token", d.token, "bearer token of the status routes (needed on the public address); prefer EPR_TOKEN, or EPR_STATUS_TOKEN, the server's")
	fs.StringVar(&g.logLevel, "log-level", d.logLevel, "log level: debug, info, warn, error")
	fs.StringVar(&g.logType, "log-type", d.logType, "log format: ecs (JSON lines) or dev (text)")
}

// globalNames are the globals' flag names.
var globalNames = []string{"address", "token", "log-level", "log-type"}

type waitOptions struct {
	want    status.Want
	timeout time.Duration
}

type statusOptions struct {
	name       string
	repository string
	filter     status.Filter
	json       bool
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	code := run(ctx, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// lookupWithServerToken reads EPR_STATUS_TOKEN, the server's variable, for -token when
// EPR_TOKEN is not set: one secret in a pipeline's environment serves both.
func lookupWithServerToken(lookup func(string) (string, bool)) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := lookup(k)
		if !ok && k == flagenv.EnvName("token") {
			return lookup(flagenv.EnvName("status-token"))
		}
		return v, ok
	}
}

// parse reads the global flags and the command's name; rest is what follows it.
func parse(args []string, lookup func(string) (string, bool), stderr io.Writer) (g globals, cmd string, rest []string, err error) {
	top := flag.NewFlagSet(prog, flag.ContinueOnError)
	top.SetOutput(stderr)
	g.register(top, defaultGlobals())
	top.Usage = func() {
		fmt.Fprint(stderr, usage)
		top.PrintDefaults()
	}
	if err := flagenv.Parse(top, args, lookup); err != nil {
		return g, "", nil, err
	}
	if top.NArg() == 0 {
		top.Usage()
		return g, "", nil, errors.New("no command given")
	}
	return g, top.Arg(0), top.Args()[1:], nil
}

// commandFlags is the flag set of command cmd, with the globals again (defaulting to what was
// read so far) so that they may also follow the command.
func commandFlags(cmd string, g *globals, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(prog+" "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	g.register(fs, *g)
	return fs
}

// parseCommand reads a command's flags and arguments, in any order. The globals' environment
// was applied with the global flags: here only the command's own flags read it, so that a
// global given before the command is not overridden by its variable.
func parseCommand(fs *flag.FlagSet, args []string, lookup func(string) (string, bool)) error {
	own := func(k string) (string, bool) {
		for _, n := range globalNames {
			if k == flagenv.EnvName(n) {
				return "", false
			}
		}
		return lookup(k)
	}
	return flagenv.Parse(fs, flagenv.Interspersed(fs, args), own)
}

func parseWait(fs *flag.FlagSet, args []string, lookup func(string) (string, bool)) (waitOptions, error) {
	var o waitOptions
	fs.DurationVar(&o.timeout, "timeout", 2*time.Minute, "how long to wait for the version to be served")
	fs.StringVar(&o.want.Digest, "digest", "", "the manifest digest pushed (e.g. from oras push --format go-template='{{.digest}}'): a state the indexer recorded before this push is then not taken for its answer")
	if err := parseCommand(fs, args, lookup); err != nil {
		return o, err
	}
	if fs.NArg() != 1 {
		return o, fmt.Errorf("wait takes one name@version, got %d arguments", fs.NArg())
	}
	want, err := status.ParseWant(fs.Arg(0))
	if err != nil {
		return o, err
	}
	o.want.Name, o.want.Version = want.Name, want.Version
	if o.timeout <= 0 {
		return o, errors.New("-timeout must be positive")
	}
	if o.want.Digest != "" && !strings.Contains(o.want.Digest, ":") {
		return o, fmt.Errorf("-digest %q is not a digest (algorithm:hex)", o.want.Digest)
	}
	return o, nil
}

func parseStatus(fs *flag.FlagSet, args []string, lookup func(string) (string, bool)) (statusOptions, error) {
	var o statusOptions
	var state string
	fs.StringVar(&state, "state", "", "only tags in this state: "+strings.Join(stateNames(), ", "))
	fs.StringVar(&o.repository, "repository", "", "one repository's last reconcile and tags, instead of the overview")
	fs.StringVar(&o.filter.Query, "q", "", "only tags whose repository, tag, name or message contains this")
	fs.IntVar(&o.filter.Limit, "limit", 0, "at most this many tags (0: the server's default)")
	fs.BoolVar(&o.json, "json", false, "print the answer as JSON instead of tables")
	if err := parseCommand(fs, args, lookup); err != nil {
		return o, err
	}
	switch fs.NArg() {
	case 0:
	case 1:
		o.name = fs.Arg(0)
	default:
		return o, fmt.Errorf("status takes at most one package name, got %q", fs.Args())
	}
	if o.name != "" && o.repository != "" {
		return o, errors.New("give a package name or -repository, not both")
	}
	if o.filter.State = status.State(state); state != "" && !o.filter.State.Valid() {
		return o, fmt.Errorf("-state %q is not one of %s", state, strings.Join(stateNames(), ", "))
	}
	if o.filter.Limit < 0 {
		return o, errors.New("-limit must not be negative")
	}
	return o, nil
}

func stateNames() []string {
	var out []string
	for _, s := range status.States {
		out = append(out, string(s))
	}
	return out
}

// run is the command; it returns the exit code.
func run(ctx context.Context, args []string, lookup func(string) (string, bool), stdout, stderr io.Writer) int {
	lookup = lookupWithServerToken(lookup)
	err := func() error {
		g, cmd, rest, err := parse(args, lookup, stderr)
		if err != nil {
			return err
		}
		fs := commandFlags(cmd, &g, stderr)
		switch cmd {
		case "wait":
			o, err := parseWait(fs, rest, lookup)
			if err != nil {
				return err
			}
			c, log, err := setup(g, args, stderr)
			if err != nil {
				return err
			}
			return exit(wait(ctx, c, log, o, stdout, stderr))
		case "status":
			o, err := parseStatus(fs, rest, lookup)
			if err != nil {
				return err
			}
			c, _, err := setup(g, args, stderr)
			if err != nil {
				return err
			}
			return exit(show(ctx, c, o, stdout, stderr))
		}
		return fmt.Errorf("unknown command %q: wait or status", cmd)
	}()
	var code exit
	switch {
	case err == nil:
		return exitServed
	case errors.As(err, &code):
		return int(code)
	case errors.Is(err, flagenv.ErrVersion):
		fmt.Fprintln(stdout, version.String())
		return exitServed
	case errors.Is(err, flag.ErrHelp):
		return exitServed
	}
	fmt.Fprintf(stderr, "%s: %v\n", prog, err)
	return exitUsage
}

// exit carries a command's exit code once it has said why.
type exit int

func (e exit) Error() string { return fmt.Sprintf("exit %d", int(e)) }

// setup builds the client and the logger (on stderr) from the globals.
func setup(g globals, args []string, stderr io.Writer) (*status.Client, *slog.Logger, error) {
	// flagenv.Logger checks the values with the messages every command gives.
	if _, err := flagenv.Logger(g.logLevel, g.logType); err != nil {
		return nil, nil, err
	}
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(g.logLevel))
	var log *slog.Logger
	if g.logType == "dev" || g.logType == "text" {
		log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lv}))
	} else {
		log = slog.New(flagenv.NewECSHandler(stderr, lv))
	}
	if flagenv.InArgs(args, "token") {
		log.Warn("-token is on the command line, visible in the process list; prefer " + flagenv.EnvName("token"))
	}
	return &status.Client{BaseURL: g.address, Token: g.token}, log, nil
}

// wait waits for o.want and says how it ended; it returns the exit code.
func wait(ctx context.Context, c *status.Client, log *slog.Logger, o waitOptions, stdout, stderr io.Writer) int {
	wctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	r := status.Waiter{Asker: c, Log: log}.Wait(wctx, o.want)
	switch {
	case r.Verdict == status.Done:
		fmt.Fprintln(stdout, r.Message)
		return exitServed
	case r.Verdict == status.Refused:
		fmt.Fprintf(stderr, "%s: %s\n", prog, r.Message)
		return exitRefused
	case r.Unreachable():
		fmt.Fprintf(stderr, "%s: the status could not be read: %s\n", prog, r.Why())
		return exitNoAsk
	}
	fmt.Fprintf(stderr, "%s: %s\n", prog, r.Timeout(o.timeout))
	return exitTimeout
}

// show prints the status asked for; it returns the exit code.
func show(ctx context.Context, c *status.Client, o statusOptions, stdout, stderr io.Writer) int {
	var answer any
	var err error
	var write func() error
	switch {
	case o.name != "":
		ps, err2 := c.Package(ctx, o.name, o.filter)
		answer, err, write = ps, err2, func() error { return status.WritePackage(stdout, ps) }
	case o.repository != "":
		rs, err2 := c.Repository(ctx, o.repository, o.filter)
		answer, err, write = rs, err2, func() error { return status.WriteRepository(stdout, rs) }
	default:
		ov, err2 := c.Overall(ctx, o.filter)
		answer, err, write = ov, err2, func() error { return status.WriteOverall(stdout, ov) }
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", prog, err)
		return exitNoAsk
	}
	if o.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(answer)
	} else {
		err = write()
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", prog, err)
		return exitNoAsk
	}
	return exitServed
}
