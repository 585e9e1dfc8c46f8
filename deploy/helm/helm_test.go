package helm

// Tests of the chart in package-registry/, without a Kubernetes cluster (none can run here):
// helm lint and helm template for each shape and the main option combinations; every rendered
// object decoded strictly into the Kubernetes (and Prometheus Operator) API types; every
// container's args and environment parsed by the real binary; the rendered processes started
// and probed on the rendered ports and paths; no secret outside a Secret.
//
// helm comes from $HELM or PATH (.ci/run installs a pinned one with go install). The binaries
// are built from this checkout, the ones deploy/image/binaries.txt lists for the image.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oci-epr/package-registry/deploy"
)

const (
	chartDir  = "package-registry"
	release   = "epr"
	namespace = "fleet"
	// stubNATSVersion satisfies the chart's constraint on the NATS chart.
	stubNATSVersion = "1.99.0"
)

var (
	repoRoot string
	helmBin  string
	// chartCopy is the chart with a stand-in for the NATS subchart in charts/ (see prepareChart).
	chartCopy string
	binDir    string

	buildOnce sync.Once
	buildErr  error
)

func TestMain(m *testing.M) {
	code, err := setup(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(code)
}

func setup(m *testing.M) (int, error) {
	wd, err := os.Getwd()
	if err != nil {
		return 0, err
	}
	repoRoot = filepath.Dir(filepath.Dir(wd))
	if helmBin = os.Getenv("HELM"); helmBin == "" {
		if helmBin, err = exec.LookPath("helm"); err != nil {
			return 0, errors.New("no helm on PATH and no $HELM: install it with `go install helm.sh/helm/v4/cmd/helm@v4.3.2` (.ci/run does)")
		}
	}
	tmp, err := os.MkdirTemp("", "chart-test-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(tmp)
	binDir = filepath.Join(tmp, "bin")
	if chartCopy, err = prepareChart(filepath.Join(wd, chartDir), filepath.Join(tmp, "chart")); err != nil {
		return 0, err
	}
	return m.Run(), nil
}

// prepareChart copies the chart and puts a stand-in for the official NATS chart into the copy's
// charts/: this machine cannot download it, and helm refuses to render a chart whose declared
// dependency is missing even when its condition is off. The stand-in renders nothing; what the
// tests check with nats.enabled is this chart's side (the URL of the NATS chart's Service and
// -nats-replicas on every role). The chart in the repository ships without it: users run
// `helm dependency build`.
func prepareChart(src, dst string) (string, error) {
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if info.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		return "", err
	}
	stub := filepath.Join(dst, "charts", "nats")
	if err := os.MkdirAll(filepath.Join(stub, "templates"), 0o755); err != nil {
		return "", err
	}
	chart := "apiVersion: v2\nname: nats\nversion: " + stubNATSVersion + "\ndescription: test stand-in for the NATS chart\n"
	if err := os.WriteFile(filepath.Join(stub, "Chart.yaml"), []byte(chart), 0o644); err != nil {
		return "", err
	}
	return dst, nil
}

// helm runs the helm binary and returns its stdout; stderr goes into the error.
func helm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, helmBin, args...)
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+t.TempDir(), "HELM_CONFIG_HOME="+t.TempDir(), "HELM_DATA_HOME="+t.TempDir())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return stdout.String(), fmt.Errorf("helm %s: %v\n%s%s", strings.Join(args, " "), err, stderr.String(), stdout.String())
	}
	return stdout.String(), nil
}

// valuesFile writes values (YAML) to a file for -f. Not under t.TempDir: helm splits -f on
// commas, which subtest names carry into the path.
func valuesFile(t *testing.T, values string) string {
	t.Helper()
	f, err := os.CreateTemp("", "values-*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(f.Name()) })
	if _, err := f.WriteString(values); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return f.Name()
}

// imagePackages are the packages of deploy/image/binaries.txt, the list the Dockerfile's go build
// reads (and the daemonless build in deploy/image).
func imagePackages() ([]string, error) {
	bins, err := deploy.ReadBinaries(repoRoot)
	if err != nil {
		return nil, err
	}
	return deploy.Packages(bins), nil
}

// binary returns the path of one of the image's binaries, building them all once.
func binary(t *testing.T, name string) string {
	t.Helper()
	buildOnce.Do(func() {
		pkgs, err := imagePackages()
		if err != nil {
			buildErr = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
		defer cancel()
		args := append([]string{"build", "-o", binDir + string(os.PathSeparator)}, pkgs...)
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = repoRoot
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	p := filepath.Join(binDir, name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("the image has no binary %q (deploy/image/binaries.txt)", name)
	}
	return p
}

var usageFlag = regexp.MustCompile(`(?m)^  -([A-Za-z0-9][A-Za-z0-9_.-]*)`)

// runWithHelp runs a binary with args followed by -h and exactly env: the binary's own
// parseFlags applies the environment (each value through its flag) and then parses args, and
// stops at -h. A flag it lacks, or a value a flag refuses, fails here as it would at start-up.
func runWithHelp(t *testing.T, bin string, args []string, env map[string]string) (string, error) {
	t.Helper()
	path := binary(t, bin) // builds, the first time: outside the minute
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, append(append([]string{}, args...), "-h")...)
	cmd.Env = []string{"HOME=" + t.TempDir()}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("%s -h did not exit", bin)
	}
	return string(out), err
}

// flagsOf is the set of flags in a binary's usage.
func flagsOf(t *testing.T, bin string) map[string]bool {
	t.Helper()
	out, _ := runWithHelp(t, bin, nil, nil)
	flags := map[string]bool{}
	for _, m := range usageFlag.FindAllStringSubmatch(out, -1) {
		flags[m[1]] = true
	}
	if len(flags) == 0 {
		t.Fatalf("no flags in %s's usage:\n%s", bin, out)
	}
	return flags
}

// metricNames are the metric names the binaries register, read from the source of every
// metrics.go (and the blob cache's): `Name: "epr_..."`, or Namespace + Subsystem + Name.
func metricNames(t *testing.T) map[string]bool {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot, "internal", "*", "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	plain := regexp.MustCompile(`Name:\s*"(epr_[a-z0-9_]+)"`)
	parts := regexp.MustCompile(`Namespace:\s*"([a-z]+)",\s*Subsystem:\s*"([a-z_]+)",\s*Name:\s*"([a-z0-9_]+)"`)
	names := map[string]bool{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range plain.FindAllSubmatch(data, -1) {
			names[string(m[1])] = true
		}
		for _, m := range parts.FindAllSubmatch(data, -1) {
			names[string(m[1])+"_"+string(m[2])+"_"+string(m[3])] = true
		}
	}
	// The blob cache names its counters in a table.
	cache, err := os.ReadFile(filepath.Join(repoRoot, "internal", "oci", "cache.go"))
	if err == nil {
		for _, m := range regexp.MustCompile(`"(epr_[a-z0-9_]+)"`).FindAllSubmatch(cache, -1) {
			names[string(m[1])] = true
		}
	}
	if len(names) < 10 {
		t.Fatalf("found only %d metric names in the source", len(names))
	}
	return names
}

// promMetrics are the metric names a PromQL expression uses: identifiers followed by { or (
// that are not functions or keywords, plus histogram series.
func promMetrics(expr string) []string {
	ident := regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	var out []string
	for _, loc := range ident.FindAllStringIndex(expr, -1) {
		id := expr[loc[0]:loc[1]]
		if !strings.HasPrefix(id, "epr_") && !strings.HasPrefix(id, "kube_") && id != "up" {
			continue
		}
		// Inside a label matcher or a quoted string: skip.
		if loc[0] > 0 && (expr[loc[0]-1] == '"' || expr[loc[0]-1] == '$') {
			continue
		}
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if strings.HasSuffix(id, "_seconds"+suffix) || strings.HasSuffix(id, "_bytes"+suffix) {
				id = strings.TrimSuffix(id, suffix)
			}
		}
		out = append(out, id)
	}
	return out
}

// splitDocs splits helm's multi-document output, dropping empty documents, keeping the
// "# Source:" comment helm writes so that a failure names the template.
func splitDocs(out string) []string {
	var docs []string
	for _, d := range regexp.MustCompile(`(?m)^---\s*$`).Split(out, -1) {
		if strings.TrimSpace(stripComments(d)) != "" {
			docs = append(docs, d)
		}
	}
	return docs
}

func stripComments(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

func source(doc string) string {
	if m := regexp.MustCompile(`# Source: (\S+)`).FindStringSubmatch(doc); m != nil {
		return path.Base(m[1])
	}
	return "?"
}
