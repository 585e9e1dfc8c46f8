package docs

// The shell commands of README.md and docs/*.md are run here, in document order, against one
// dev stack, so that a renamed flag, a moved path or a wrong port in a documented command fails
// the test instead of the next reader.
//
// What the test does to a command before it runs it, and nothing else:
//   - `go run ./cmd/<name>` becomes the binary built once from ./cmd/<name> (stamped with
//     testVersion); `go build -o <file> ./cmd/<name>` links <file> to it;
//   - every `localhost:<port>` becomes a free port of this machine, the same one for the same
//     port throughout, so that the test does not collide with what else runs here;
//   - `go run ./cmd/devstack` (the README's) is started in the background, and the next block
//     waits until it serves.
//
// A block that cannot run here is preceded by `<!-- readme-test: skip (reason) -->`: it needs
// the internet, Docker, Kubernetes or a cloud account, or it is a measurement. Every block runs
// with `set -euo pipefail`, in a shared scratch directory, with the built binaries and `oras`
// first on PATH; background processes a block starts are stopped when the test ends.

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/oci-epr/package-registry/internal/testkit"
)

const (
	// versionStamp is what every built binary reports (-version, /, epr_service_info).
	versionStamp = "github.com/oci-epr/package-registry/internal/version.Stamp"
	testVersion  = "v0.0.0-readme-test"
	skipMarker   = "<!-- readme-test: skip ("
	// orasVersion is the ORAS CLI the README tells users to install.
	orasVersion = "v1.3.6"
	// patience bounds one block: generous, since it only ends a block that hangs.
	patience = 5 * time.Minute
)

// binaries built from ./cmd, by the name the documents call them.
var binaries = map[string]string{
	"devstack": "devstack", "api": "package-registry", "mirror": "epr-mirror", "loadgen": "loadgen",
	"webhook": "webhook", "indexer": "indexer", "package-registry-ctl": "package-registry-ctl",
}

// Block is one fenced shell block of a document.
type Block struct {
	File string
	Line int // of the opening fence
	Code string
	// Skip is the reason given by the marker line before the block; "" runs it.
	Skip string
}

var fence = regexp.MustCompile("^(\\s*)```(sh|bash|shell|console)\\s*$")

// ParseBlocks returns the shell blocks of a markdown document, in order.
func ParseBlocks(file, text string) ([]Block, error) {
	var out []Block
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		m := fence.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		b := Block{File: file, Line: i + 1}
		if prev := previousLine(lines, i); strings.HasPrefix(prev, "<!-- readme-test: skip") {
			if !strings.HasPrefix(prev, skipMarker) || !strings.HasSuffix(prev, ") -->") || len(prev) <= len(skipMarker)+len(") -->") {
				return nil, fmt.Errorf("%s:%d: a skip marker must read %sreason) -->", file, i, skipMarker)
			}
			b.Skip = strings.TrimSuffix(strings.TrimPrefix(prev, skipMarker), ") -->")
		}
		var code []string
		indent := m[1] // a block inside a list item is indented
		for i++; i < len(lines) && !strings.HasPrefix(strings.TrimSpace(lines[i]), "```"); i++ {
			l := strings.TrimPrefix(lines[i], indent)
			if m[2] == "console" { // only the prompted lines are commands
				if !strings.HasPrefix(l, "$ ") {
					continue
				}
				l = strings.TrimPrefix(l, "$ ")
			}
			code = append(code, l)
		}
		if i == len(lines) {
			return nil, fmt.Errorf("%s:%d: unterminated code block", file, b.Line)
		}
		b.Code = strings.Join(code, "\n")
		out = append(out, b)
	}
	return out, nil
}

func previousLine(lines []string, i int) string {
	for j := i - 1; j >= 0; j-- {
		if t := strings.TrimSpace(lines[j]); t != "" {
			return t
		}
	}
	return ""
}

// Rewriter turns a documented command into the one the test runs.
type Rewriter struct {
	Bin   string // directory of the built binaries
	Ports map[string]string
	free  func() string
}

var (
	goRun    = regexp.MustCompile(`\bgo run \./cmd/([a-z][a-z-]*)`)
	goBuild  = regexp.MustCompile(`\bgo build -o (\S+) \./cmd/([a-z][a-z-]*)`)
	hostPort = regexp.MustCompile(`\blocalhost:(\d{2,5})\b`)
)

// Rewrite applies the rewrites the file comment lists.
func (r *Rewriter) Rewrite(code string) string {
	code = goBuild.ReplaceAllStringFunc(code, func(s string) string {
		m := goBuild.FindStringSubmatch(s)
		return "ln -sf " + filepath.Join(r.Bin, binaries[m[2]]) + " " + m[1]
	})
	code = goRun.ReplaceAllStringFunc(code, func(s string) string {
		return filepath.Join(r.Bin, binaries[goRun.FindStringSubmatch(s)[1]])
	})
	return hostPort.ReplaceAllStringFunc(code, func(s string) string {
		port := hostPort.FindStringSubmatch(s)[1]
		if _, ok := r.Ports[port]; !ok {
			r.Ports[port] = r.free()
		}
		return "localhost:" + r.Ports[port]
	})
}

// devstackLine is the README's command that starts the dev stack.
var devstackLine = regexp.MustCompile(`(?m)^go run \./cmd/devstack(.*)$`)

func TestDocumentedCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("builds every command and runs the documents against a dev stack")
	}
	files := append([]string{"../README.md"}, docFiles(t)...)
	var blocks []Block
	for _, f := range files {
		text, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		bs, err := ParseBlocks(strings.TrimPrefix(f, "../"), string(text))
		if err != nil {
			t.Fatal(err)
		}
		blocks = append(blocks, bs...)
	}
	if len(blocks) == 0 {
		t.Fatal("no shell blocks found")
	}

	bin := buildBinaries(t)
	oras := findOras(t)
	work := t.TempDir()
	rw := &Rewriter{Bin: bin, Ports: map[string]string{}, free: func() string { return freePort(t) }}
	env := append(os.Environ(),
		"PATH="+bin+string(os.PathListSeparator)+filepath.Dir(oras)+string(os.PathListSeparator)+os.Getenv("PATH"),
		"HOME="+work, // no user config (docker credentials, oras logins) leaks in
		"OTEL_TRACES_EXPORTER=none",
	)
	var groups procGroups
	t.Cleanup(groups.stop)

	ran := 0
	for _, b := range blocks {
		name := fmt.Sprintf("%s:%d", b.File, b.Line)
		if b.Skip != "" {
			t.Logf("%s: skipped (%s)", name, b.Skip)
			continue
		}
		code := b.Code
		devstack := devstackLine.FindStringSubmatch(code)
		if devstack != nil {
			// The dev stack serves every later block: started once, in the background, with its
			// documented addresses made explicit so that the port rewrite applies to them.
			code = devstackLine.ReplaceAllString(code, "go run ./cmd/devstack -address localhost:8080 -registry-address localhost:5000 -metrics-address localhost:8090$1 > devstack.log 2>&1 &")
		}
		script := rw.Rewrite(code)
		out, err := runBlock(work, env, script, &groups)
		if err != nil {
			t.Fatalf("%s failed: %v\n--- as documented:\n%s\n--- as run:\n%s\n--- output:\n%s%s", name, err, b.Code, script, out, devstackLog(work))
		}
		ran++
		if devstack != nil {
			waitServing(t, "http://localhost:"+rw.Ports["8080"]+"/health?ready=true", work)
		}
		t.Logf("%s: ok", name)
	}
	if ran == 0 {
		t.Fatal("every block was skipped")
	}
	// The version stamp reached the API: the README's tour reads / and the metrics.
	if port := rw.Ports["8080"]; port != "" {
		resp, err := http.Get("http://localhost:" + port + "/")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var sb strings.Builder
		_, _ = bufio.NewReader(resp.Body).WriteTo(&sb)
		if !strings.Contains(sb.String(), testVersion) {
			t.Errorf("/ does not report the built version %s: %s", testVersion, sb.String())
		}
	}
}

// docFiles are docs/*.md, sorted.
func docFiles(t *testing.T) []string {
	files, err := filepath.Glob("*.md")
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	return files
}

// runBlock runs one block with bash in its own process group. Output goes to a file, not a
// pipe, so that a server the block leaves in the background does not hold the block open.
func runBlock(dir string, env []string, script string, groups *procGroups) (string, error) {
	log, err := os.CreateTemp(dir, ".block-*.log")
	if err != nil {
		return "", err
	}
	defer os.Remove(log.Name())
	defer log.Close()
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
	cmd.Dir, cmd.Env = dir, env
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return "", err
	}
	groups.add(cmd.Process.Pid)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(patience):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		err = fmt.Errorf("still running after %v", patience)
		<-done
	}
	out, _ := os.ReadFile(log.Name())
	return string(out), err
}

// procGroups are the process groups of the blocks, stopped at the end of the test.
type procGroups struct {
	mu   sync.Mutex
	pids []int
}

func (g *procGroups) add(pid int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.pids = append(g.pids, pid)
}

func (g *procGroups) stop() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, pid := range g.pids {
		_ = syscall.Kill(-pid, syscall.SIGTERM)
	}
	// Wait for every group to be gone (their servers close their stores on SIGTERM), within a
	// generous bound; whatever is left then is killed.
	gone := func() bool {
		for _, pid := range g.pids {
			if syscall.Kill(-pid, 0) == nil {
				return false
			}
		}
		return true
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	limit := time.After(time.Minute)
wait:
	for !gone() {
		select {
		case <-tick.C:
		case <-limit:
			break wait
		}
	}
	for _, pid := range g.pids {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
	}
}

func devstackLog(work string) string {
	b, err := os.ReadFile(filepath.Join(work, "devstack.log"))
	if err != nil {
		return ""
	}
	return "\n--- devstack.log:\n" + string(b)
}

// waitServing waits until url answers 200: the dev stack's samples are indexed by then.
func waitServing(t *testing.T, url, work string) {
	t.Helper()
	defer func() {
		if t.Failed() {
			t.Log(devstackLog(work))
		}
	}()
	testkit.Eventually(t, patience, "the dev stack serves "+url, func() bool {
		resp, err := http.Get(url)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// buildBinaries builds every command once, stamped with testVersion.
func buildBinaries(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for pkg, name := range binaries {
		cmd := exec.Command("go", "build", "-ldflags=-X "+versionStamp+"="+testVersion, "-o", filepath.Join(dir, name), "./cmd/"+pkg)
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build ./cmd/%s: %v\n%s", pkg, err, out)
		}
	}
	return dir
}

// findOras is the ORAS CLI the tour uses: from PATH, else installed once with go install into
// the user's cache (what .ci/run does up front).
func findOras(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("oras"); err == nil {
		return p
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	gobin := filepath.Join(cache, "package-registry-readme-test", "oras-"+orasVersion)
	p := filepath.Join(gobin, "oras")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	cmd := exec.Command("go", "install", "oras.land/oras/cmd/oras@"+orasVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+gobin, "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the README's tour needs the ORAS CLI; go install oras.land/oras/cmd/oras@%s: %v\n%s", orasVersion, err, out)
	}
	return p
}

// freePort is a loopback port that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}
