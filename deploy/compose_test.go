package deploy_test

// These tests are the only check the compose stack gets without a Docker engine: they load
// docker-compose.yml with compose-go (as `docker compose` does), parse the registry configs with
// distribution's own parser and as Zot's JSON, build the binaries the Dockerfile builds and read
// their real flags, and check that all of it agrees.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/distribution/distribution/v3/configuration"
	"golang.org/x/crypto/bcrypt"

	"github.com/oci-epr/package-registry/internal/flagenv"

	"github.com/oci-epr/package-registry/deploy"
)

const (
	composeFile     = "docker-compose.yml"
	htpasswdFile    = "deploy/docker-compose.htpasswd.yml"
	defaultToken    = "change-me"
	defaultRegistry = "http://registry:5000"
	binDir          = "/usr/local/bin"
	healthProbe     = "healthcheck"
	dataRoot        = "/var/lib/package-registry"
	natsService     = "nats"
	webhookService  = "webhook"
	distService     = "registry"
	zotService      = "zot"
	zotProfile      = "zot"
	distConfigPath  = "/etc/distribution/config.yml"
	// imageBuilder is the one service with a build section.
	imageBuilder = "api"
)

var (
	repoRoot string // the module root: the directory holding docker-compose.yml
	binOut   string // where the binaries are built, once per test binary run

	buildOnce sync.Once
	buildErr  error
	binaries  map[string]string // binary name -> path

	flagsMu    sync.Mutex
	flagsCache = map[string]map[string]bool{}
)

func TestMain(m *testing.M) {
	wd, err := os.Getwd()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	repoRoot = filepath.Dir(wd)
	if binOut, err = os.MkdirTemp("", "deploy-test-bin-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(binOut)
	os.Exit(code)
}

// --- the Dockerfile and the binaries it builds ---

// dockerBuild is the Dockerfile's `go build` instruction, continuation lines joined.
func dockerBuild(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.ReplaceAll(string(data), "\\\n", " ")
	for _, line := range strings.Split(joined, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "RUN") && strings.Contains(line, "go build") {
			return line
		}
	}
	t.Fatal("Dockerfile has no RUN ... go build")
	return ""
}

// versionStamp is the variable the Dockerfile's VERSION build argument sets; the binaries built
// here get testVersion, which each must report.
const (
	versionStamp = "github.com/oci-epr/package-registry/internal/version.Stamp"
	testVersion  = "v0.0.0-compose-test"
)

// imagePackages are the packages of deploy/image/binaries.txt, the list the Dockerfile's go build
// reads (and the daemonless build in deploy/image).
func imagePackages() ([]string, error) {
	bins, err := deploy.ReadBinaries(repoRoot)
	if err != nil {
		return nil, err
	}
	return deploy.Packages(bins), nil
}

// buildBinaries builds the packages the Dockerfile builds, with its flags, once.
func buildBinaries(t *testing.T) map[string]string {
	t.Helper()
	line := dockerBuild(t)
	buildOnce.Do(func() {
		if !strings.Contains(line, "deploy/image/binaries.txt") {
			buildErr = fmt.Errorf("the Dockerfile's go build does not read deploy/image/binaries.txt: %q", line)
			return
		}
		var pkgs []string
		if pkgs, buildErr = imagePackages(); buildErr != nil {
			return
		}
		// No deadline of its own: a cold build under -race on a busy machine takes many minutes,
		// and go test's -timeout already ends a build that hangs.
		args := append([]string{"build", "-trimpath", "-ldflags=-s -w -X " + versionStamp + "=" + testVersion, "-o", binOut + string(os.PathSeparator)}, pkgs...)
		cmd := exec.Command("go", args...)
		cmd.Dir = repoRoot
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
			return
		}
		binaries = map[string]string{}
		for _, p := range pkgs {
			name := path.Base(p)
			binaries[name] = filepath.Join(binOut, name)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binaries
}

// runHelp runs a binary with -h and only the given environment, and returns its output.
func runHelp(t *testing.T, bin string, env map[string]string) string {
	t.Helper()
	path := buildBinaries(t)[bin]
	if path == "" {
		t.Fatalf("the Dockerfile does not build %q", bin)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, "-h")
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir()}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, _ := cmd.CombinedOutput() // -h exits 0 or 1 depending on the binary; the output decides
	if ctx.Err() != nil {
		t.Fatalf("%s -h did not exit: %v", bin, ctx.Err())
	}
	return string(out)
}

var usageFlag = regexp.MustCompile(`(?m)^  -([A-Za-z0-9][A-Za-z0-9_.-]*)`)

// flagsOf returns the flag names in the usage output of a binary.
func flagsOf(t *testing.T, bin string) map[string]bool {
	t.Helper()
	flagsMu.Lock()
	defer flagsMu.Unlock()
	if f, ok := flagsCache[bin]; ok {
		return f
	}
	out := runHelp(t, bin, nil)
	flags := map[string]bool{}
	for _, m := range usageFlag.FindAllStringSubmatch(out, -1) {
		flags[m[1]] = true
	}
	if len(flags) == 0 {
		t.Fatalf("no flags in the usage output of %s:\n%s", bin, out)
	}
	flagsCache[bin] = flags
	return flags
}

// sourceConst reads a string constant of one of the module's packages from its source. Importing
// the package instead would compile NATS, echo and the rest into this test binary for three
// strings; reading the source still fails the test when a constant is renamed or changed.
func sourceConst(t *testing.T, dir, name string) string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot, dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range af.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, id := range vs.Names {
					if id.Name != name || i >= len(vs.Values) {
						continue
					}
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						v, err := strconv.Unquote(lit.Value)
						if err != nil {
							t.Fatal(err)
						}
						return v
					}
				}
			}
		}
	}
	t.Fatalf("no string constant %s in %s", name, dir)
	return ""
}

func TestBinaryFlags(t *testing.T) {
	// The flags the stack relies on, per binary; a rename in cmd/ must show up here.
	want := map[string][]string{
		"webhook": {"address", "nats-url", "webhook-token", "publish-timeout", "metrics-address", "log-level"},
		"indexer": {"address", "nats-url", "oci-registry", "oci-repository", "oci-username", "oci-password",
			"oci-insecure", "data-dir", "resync-interval", "metrics-address", "log-level"},
		"api": {"address", "nats-url", "data-dir", "metrics-address", "log-level", "mock-fallback",
			"allow-unknown-query-parameters", "oci-registry", "oci-username", "oci-password", "oci-insecure",
			"oci-repository", "feature-oci-indexer"},
	}
	for bin, names := range want {
		t.Run(bin, func(t *testing.T) {
			flags := flagsOf(t, bin)
			for _, n := range names {
				if !flags[n] {
					t.Errorf("%s has no -%s flag (has %v)", bin, n, sortedKeys(flags))
				}
			}
		})
	}
}

// Every binary of the image reports the version the build stamped: -version, the same string the
// API's / and epr_service_info report.
func TestBinaryVersion(t *testing.T) {
	for name, path := range buildBinaries(t) {
		if name == healthProbe {
			continue
		}
		out, err := exec.Command(path, "-version").Output()
		if err != nil {
			t.Fatalf("%s -version: %v", name, err)
		}
		if got := strings.TrimSpace(string(out)); got != testVersion {
			t.Errorf("%s -version = %q, want %q", name, got, testVersion)
		}
	}
}

func TestDockerfile(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	df := string(data)
	line := dockerBuild(t)
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", `-ldflags="-s -w -X ` + versionStamp + `=${VERSION}"`, "deploy/image/binaries.txt"} {
		if !strings.Contains(line, want) {
			t.Errorf("the go build instruction lacks %s: %s", want, line)
		}
	}
	// The build stage's Go is the module's Go.
	mod, err := os.ReadFile(filepath.Join(repoRoot, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(mod)
	if goVersion == nil {
		t.Fatal("no go directive in go.mod")
	}
	if !strings.Contains(df, "ARG GO_VERSION="+string(goVersion[1])+"\n") || !strings.Contains(df, "FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build") {
		t.Errorf("the build stage should be golang:%s", goVersion[1])
	}
	froms := regexp.MustCompile(`(?m)^FROM[ \t]+(?:--platform=\S+[ \t]+)?(\S+)`).FindAllStringSubmatch(df, -1)
	final := froms[len(froms)-1][1]
	if !strings.HasPrefix(final, "gcr.io/distroless/static") || !strings.HasSuffix(final, ":nonroot") {
		t.Errorf("final stage is %q, want distroless static nonroot", final)
	}
	if !regexp.MustCompile(`(?m)^USER 65532(:65532)?$`).MatchString(df) {
		t.Error("the final stage does not run as the non-root user 65532")
	}
	if !strings.Contains(df, "COPY --from=build /out/bin/ "+binDir+"/") {
		t.Errorf("binaries are not copied to %s", binDir)
	}
	if !strings.Contains(df, "COPY --from=build --chown=65532:65532 /out/data/ "+dataRoot+"/") {
		t.Errorf("data directories are not copied to %s owned by 65532", dataRoot)
	}
}

func TestDockerignoreKeepsSources(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	type rule struct {
		pattern string
		keep    bool
	}
	var rules []rule
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		pat := strings.TrimSpace(sc.Text())
		if pat == "" || strings.HasPrefix(pat, "#") {
			continue
		}
		keep := strings.HasPrefix(pat, "!")
		rules = append(rules, rule{strings.TrimPrefix(strings.TrimPrefix(pat, "!"), "/"), keep})
	}
	// As Docker decides: the last rule matching the path or one of its parents wins.
	excluded := func(p string) string {
		verdict := ""
		for _, r := range rules {
			for q := p; q != "."; q = path.Dir(q) {
				if ok, _ := path.Match(r.pattern, q); ok {
					verdict = map[bool]string{true: "", false: r.pattern}[r.keep]
					break
				}
			}
		}
		return verdict
	}
	for _, p := range []string{"go.mod", "go.sum", "cmd/api/main.go", "cmd/webhook/main.go", "cmd/indexer/main.go",
		"internal/api/server.go", "internal/flagenv/flagenv.go", "deploy/healthcheck/main.go", "deploy/image/binaries.txt"} {
		if pat := excluded(p); pat != "" {
			t.Errorf(".dockerignore pattern %q excludes %s, which the image build needs", pat, p)
		}
	}
	for _, p := range []string{".git/config", "deploy/htpasswd", "docker-compose.yml"} {
		if excluded(p) == "" {
			t.Errorf(".dockerignore lets %s into the build context", p)
		}
	}
}

// --- the compose project ---

type variant struct {
	name     string
	files    []string
	profiles []string
	env      map[string]string
	// auth: the registries require htpasswd credentials.
	auth bool
}

func (v variant) token() string {
	if tok := v.env["EPR_WEBHOOK_TOKEN"]; tok != "" {
		return tok
	}
	return defaultToken
}

func (v variant) registry() string {
	if r := v.env["OCI_REGISTRY_URL"]; r != "" {
		return r
	}
	return defaultRegistry
}

func (v variant) zot() bool { return slices.Contains(v.profiles, zotProfile) }

var variants = []variant{
	{name: "default", files: []string{composeFile}},
	{name: "zot profile", files: []string{composeFile}, profiles: []string{zotProfile}},
	{name: "own token, indexing zot", files: []string{composeFile}, profiles: []string{zotProfile},
		env: map[string]string{"EPR_WEBHOOK_TOKEN": "3f1c9a7e5b2d48c6a0e1f7b9d3c5a8e2", "OCI_REGISTRY_URL": "http://zot:5000"}},
	{name: "htpasswd", files: []string{composeFile, htpasswdFile}, auth: true},
	{name: "htpasswd with zot", files: []string{composeFile, htpasswdFile}, profiles: []string{zotProfile}, auth: true},
	{name: "htpasswd indexing zot", files: []string{composeFile, htpasswdFile}, profiles: []string{zotProfile}, auth: true,
		env: map[string]string{"OCI_REGISTRY_URL": "http://zot:5000"}},
}

func load(t *testing.T, v variant) *types.Project {
	t.Helper()
	details := types.ConfigDetails{WorkingDir: repoRoot, Environment: types.Mapping{}}
	for _, f := range v.files {
		details.ConfigFiles = append(details.ConfigFiles, types.ConfigFile{Filename: filepath.Join(repoRoot, f)})
	}
	for k, val := range v.env {
		details.Environment[k] = val
	}
	p, err := loader.LoadWithContext(context.Background(), details,
		loader.WithProfiles(v.profiles),
		func(o *loader.Options) { o.SetProjectName("oci-epr-test", true) })
	if err != nil {
		t.Fatalf("load %v: %v", v.files, err)
	}
	return p
}

func TestCompose(t *testing.T) {
	buildBinaries(t)
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			p := load(t, v)
			t.Run("epr services", func(t *testing.T) { checkEPRServices(t, p, v) })
			t.Run("nats", func(t *testing.T) { checkNATS(t, p) })
			t.Run("distribution", func(t *testing.T) { checkDistribution(t, p, v) })
			t.Run("zot", func(t *testing.T) { checkZot(t, p, v) })
			t.Run("registry clients", func(t *testing.T) { checkRegistryClients(t, p, v) })
			t.Run("volumes, dependencies, ports", func(t *testing.T) { checkWiring(t, p) })
		})
	}
}

func service(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	s, ok := p.Services[name]
	if !ok {
		t.Fatalf("no enabled service %q (have %v)", name, p.ServiceNames())
	}
	return s
}

func env(s types.ServiceConfig, key string) string {
	if v := s.Environment[key]; v != nil {
		return *v
	}
	return ""
}

// eprBinary is the binary a service runs, or "" when it is not one of ours.
func eprBinary(s types.ServiceConfig) string {
	if len(s.Command) == 0 || path.Dir(s.Command[0]) != binDir {
		return ""
	}
	return path.Base(s.Command[0])
}

// listenPort checks that a listen address binds every interface (a container's localhost is
// unreachable from outside it) and returns its port.
func listenPort(t *testing.T, what, addr string) string {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("%s %q: %v", what, addr, err)
	}
	if host != "" && host != "0.0.0.0" && host != "::" {
		t.Errorf("%s %q binds %s only; use \":%s\"", what, addr, host, port)
	}
	if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
		t.Errorf("%s %q: bad port", what, addr)
	}
	return port
}

func urlPort(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	switch u.Scheme {
	case "http":
		return "80"
	case "https":
		return "443"
	case "nats":
		return "4222"
	}
	return ""
}

func checkEPRServices(t *testing.T, p *types.Project, v variant) {
	bins := buildBinaries(t)
	seen := map[string]bool{}
	for _, name := range p.ServiceNames() {
		s := p.Services[name]
		bin := eprBinary(s)
		if bin == "" {
			continue
		}
		seen[bin] = true
		t.Run(name, func(t *testing.T) {
			if _, ok := bins[bin]; !ok || bin == healthProbe {
				t.Fatalf("command %v runs %q, which the Dockerfile does not build as a service", s.Command, bin)
			}
			// One service builds the image (so one build writes it once); the others run the
			// same tag.
			if s.Image != p.Services[imageBuilder].Image {
				t.Errorf("image %q, want %q as %s builds it", s.Image, p.Services[imageBuilder].Image, imageBuilder)
			}
			if b := p.Services[imageBuilder].Build; b == nil || b.Context != repoRoot || b.Dockerfile != "Dockerfile" {
				t.Errorf("%s does not build ./Dockerfile: %+v", imageBuilder, b)
			}
			if name != imageBuilder && s.Build != nil {
				t.Errorf("%s builds the image too; only %s should, or each build writes it again", name, imageBuilder)
			}
			flags := flagsOf(t, bin)
			envNames := map[string]string{}
			for f := range flags {
				envNames[flagenv.EnvName(f)] = f
			}
			resolved := map[string]string{}
			for k := range s.Environment {
				if _, ok := envNames[k]; !ok {
					t.Errorf("%s=%s: %s has no such flag, the variable would be ignored", k, env(s, k), bin)
				}
				resolved[k] = env(s, k)
			}
			// The binary itself applies the environment before it parses -h: a value its flag
			// cannot take fails here exactly as it would at start-up.
			if out := runHelp(t, bin, resolved); !strings.Contains(out, "Usage of") || strings.Contains(out, "failed to set") {
				t.Errorf("%s rejects the service's environment:\n%s", bin, out)
			}

			port := listenPort(t, "EPR_ADDRESS", env(s, "EPR_ADDRESS"))
			wantProbe := types.HealthCheckTest{"CMD", binDir + "/" + healthProbe, "http://127.0.0.1:" + port + "/health?ready=true"}
			if s.HealthCheck == nil || s.HealthCheck.Disable || !slices.Equal(s.HealthCheck.Test, wantProbe) {
				t.Errorf("healthcheck %v, want test %v", healthTest(s), wantProbe)
			}
			if m := env(s, "EPR_METRICS_ADDRESS"); m != "" && listenPort(t, "EPR_METRICS_ADDRESS", m) == port {
				t.Errorf("metrics and service share port %s", port)
			}

			nu, err := url.Parse(env(s, "EPR_NATS_URL"))
			if err != nil || nu.Scheme != "nats" || nu.Hostname() != natsService || urlPort(nu) != natsClientPort(t, p) {
				t.Errorf("EPR_NATS_URL = %q, want nats://%s:%s", env(s, "EPR_NATS_URL"), natsService, natsClientPort(t, p))
			}
			if d, ok := s.DependsOn[natsService]; !ok || d.Condition != types.ServiceConditionHealthy {
				t.Errorf("does not wait for a healthy %s: %+v", natsService, s.DependsOn)
			}

			// State goes to a named volume the image created with the right owner: the root
			// file system is read-only and the default data directory is relative.
			if flags["data-dir"] {
				dir := env(s, "EPR_DATA_DIR")
				if path.Dir(dir) != dataRoot {
					t.Errorf("EPR_DATA_DIR = %q, want a directory of %s", dir, dataRoot)
				}
				if m := mountAt(s, dir); m == nil || m.Type != types.VolumeTypeVolume {
					t.Errorf("EPR_DATA_DIR %s is not a named volume", dir)
				}
				if df, _ := os.ReadFile(filepath.Join(repoRoot, "Dockerfile")); !bytes.Contains(df, []byte("/out/data/"+path.Base(dir))) {
					t.Errorf("the Dockerfile does not create %s for the non-root user", dir)
				}
			}
			if !s.ReadOnly {
				t.Error("root file system is writable; set read_only")
			}
		})
	}
	for _, bin := range []string{"webhook", "indexer", "api"} {
		if !seen[bin] {
			t.Errorf("no service runs %s", bin)
		}
	}

	wh := service(t, p, webhookService)
	if got := env(wh, "EPR_WEBHOOK_TOKEN"); got != v.token() {
		t.Errorf("webhook token = %q, want %q", got, v.token())
	}
	api := service(t, p, "api")
	apiPort := listenPort(t, "api EPR_ADDRESS", env(api, "EPR_ADDRESS"))
	published := false
	for _, pc := range api.Ports {
		if strconv.Itoa(int(pc.Target)) == apiPort && pc.Published != "" {
			published = true
		}
	}
	if !published {
		t.Errorf("api listens on %s but publishes %+v", apiPort, api.Ports)
	}
	if env(api, "EPR_FEATURE_OCI_INDEXER") == "true" {
		t.Error("the api runs all-in-one next to a separate indexer and webhook")
	}
}

func healthTest(s types.ServiceConfig) []string {
	if s.HealthCheck == nil || s.HealthCheck.Disable {
		return nil
	}
	return s.HealthCheck.Test
}

// mountAt is the service's mount whose target is dir.
func mountAt(s types.ServiceConfig, dir string) *types.ServiceVolumeConfig {
	for i := range s.Volumes {
		if s.Volumes[i].Target == dir {
			return &s.Volumes[i]
		}
	}
	return nil
}

// boundFile is the host file mounted at target; it must exist.
func boundFile(t *testing.T, s types.ServiceConfig, target string) string {
	t.Helper()
	m := mountAt(s, target)
	if m == nil || m.Type != types.VolumeTypeBind {
		t.Fatalf("%s: nothing bound at %s", s.Name, target)
	}
	if fi, err := os.Stat(m.Source); err != nil || fi.IsDir() {
		t.Fatalf("%s: %s is bound from %s, which is not a file: %v", s.Name, target, m.Source, err)
	}
	return m.Source
}

// flagValue is the value after flag (or one of its aliases) in args.
func flagValue(args []string, names ...string) (string, bool) {
	for i, a := range args {
		if slices.Contains(names, a) && i+1 < len(args) {
			return args[i+1], true
		}
	}
	return "", false
}

func natsClientPort(t *testing.T, p *types.Project) string {
	t.Helper()
	if port, ok := flagValue(service(t, p, natsService).Command, "-p", "--port"); ok {
		return port
	}
	return "4222"
}

func checkNATS(t *testing.T, p *types.Project) {
	s := service(t, p, natsService)
	if !strings.HasPrefix(s.Image, "nats:") {
		t.Errorf("image %q is not the official nats image", s.Image)
	}
	if !slices.Contains(s.Command, "-js") && !slices.Contains(s.Command, "--jetstream") {
		t.Errorf("JetStream is off: %v", s.Command)
	}
	dir, ok := flagValue(s.Command, "-sd", "--store_dir")
	if m := mountAt(s, dir); !ok || m == nil || m.Type != types.VolumeTypeVolume {
		t.Errorf("JetStream store %q is not a named volume", dir)
	}
	mon, ok := flagValue(s.Command, "-m", "--http_port")
	if !ok {
		t.Fatalf("no monitoring port: %v", s.Command)
	}
	if s.HealthCheck == nil || len(s.HealthCheck.Test) == 0 {
		t.Fatal("no healthcheck")
	}
	want := "http://127.0.0.1:" + mon + "/healthz"
	if !slices.Contains(s.HealthCheck.Test, want) {
		t.Errorf("healthcheck %v does not GET %s", s.HealthCheck.Test, want)
	}
}

// distributionConfig parses the registry's config file as the registry does, with the service's
// REGISTRY_* environment applied (withEnv) or without it.
func distributionConfig(t *testing.T, s types.ServiceConfig, withEnv bool) *configuration.Configuration {
	t.Helper()
	// Start from no REGISTRY_* variables at all (an earlier call may have set some); t.Setenv
	// restores the originals when the test ends.
	for _, kv := range os.Environ() {
		if k, val, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "REGISTRY_") {
			t.Setenv(k, val)
			os.Unsetenv(k)
		}
	}
	if withEnv {
		for k := range s.Environment {
			if strings.HasPrefix(k, "REGISTRY_") {
				t.Setenv(k, env(s, k))
			}
		}
	}
	f, err := os.Open(boundFile(t, s, distConfigPath))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, err := configuration.Parse(f)
	if err != nil {
		t.Fatalf("distribution rejects its config (env applied: %v): %v", withEnv, err)
	}
	return cfg
}

func checkDistribution(t *testing.T, p *types.Project, v variant) {
	s := service(t, p, distService)
	if s.Image != "registry:3" {
		t.Errorf("image = %q, want registry:3", s.Image)
	}
	if len(s.Command) > 0 && !slices.Contains(s.Command, distConfigPath) {
		t.Errorf("command %v does not serve %s", s.Command, distConfigPath)
	}
	wh := service(t, p, webhookService)
	whPort := listenPort(t, "webhook EPR_ADDRESS", env(wh, "EPR_ADDRESS"))

	// The file alone carries the compose default token, so it also works without the override.
	alone := distributionConfig(t, s, false)
	if len(alone.Notifications.Endpoints) != 1 {
		t.Fatalf("want one notification endpoint, got %d", len(alone.Notifications.Endpoints))
	}
	if got := alone.Notifications.Endpoints[0].Headers.Get("Authorization"); got != "Bearer "+defaultToken {
		t.Errorf("config file Authorization = %q, want the compose default %q", got, "Bearer "+defaultToken)
	}

	cfg := distributionConfig(t, s, true)
	if got := cfg.Storage.Type(); got != "filesystem" {
		t.Errorf("storage = %s, want filesystem", got)
	}
	root, _ := cfg.Storage.Parameters()["rootdirectory"].(string)
	if m := mountAt(s, root); m == nil || m.Type != types.VolumeTypeVolume {
		t.Errorf("storage root %q is not a named volume", root)
	}
	if enabled, _ := cfg.Storage["delete"]["enabled"].(bool); !enabled {
		t.Error("storage.delete.enabled is not true")
	}
	regPort := listenPort(t, "http.addr", cfg.HTTP.Addr)
	if !publishes(s, regPort) {
		t.Errorf("registry listens on %s but publishes %+v", regPort, s.Ports)
	}
	if cfg.Notifications.EventConfig.IncludeReferences {
		t.Error("includereferences is on")
	}

	distPath := sourceConst(t, "internal/webhook", "DistributionPath")
	ep := cfg.Notifications.Endpoints[0]
	if ep.Disabled || ep.Name == "" {
		t.Errorf("endpoint %q disabled=%v", ep.Name, ep.Disabled)
	}
	u, err := url.Parse(ep.URL)
	if err != nil || u.Scheme != "http" || u.Hostname() != webhookService || urlPort(u) != whPort || u.Path != distPath {
		t.Errorf("notification url = %q, want http://%s:%s%s", ep.URL, webhookService, whPort, distPath)
	}
	if got, want := ep.Headers.Values("Authorization"), []string{"Bearer " + env(wh, "EPR_WEBHOOK_TOKEN")}; !slices.Equal(got, want) {
		t.Errorf("registry sends Authorization %q, the webhook expects %q", got, want)
	}
	if env(wh, "EPR_WEBHOOK_TOKEN") != v.token() {
		t.Errorf("webhook token %q, want %q", env(wh, "EPR_WEBHOOK_TOKEN"), v.token())
	}
	publish := 5 * time.Second // the webhook's default -publish-timeout
	if pt := env(wh, "EPR_PUBLISH_TIMEOUT"); pt != "" {
		if publish, err = time.ParseDuration(pt); err != nil {
			t.Fatal(err)
		}
	}
	checks := []struct {
		what      string
		got, want any
	}{
		{"timeout", ep.Timeout, 5 * time.Second},
		{"threshold", ep.Threshold, 5},
		{"backoff", ep.Backoff, time.Second},
		{"ignore.actions", sorted(ep.Ignore.Actions), []string{"mount", "pull"}},
		{"ignore.mediatypes", sorted(append(ep.Ignore.MediaTypes, ep.IgnoredMediaTypes...)), []string{"application/octet-stream"}},
		{"webhook publish timeout shorter than the delivery timeout", publish < ep.Timeout, true},
	}
	for _, c := range checks {
		if fmt.Sprint(c.got) != fmt.Sprint(c.want) {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}

	if v.auth {
		if cfg.Auth.Type() != "htpasswd" {
			t.Fatalf("auth = %q, want htpasswd", cfg.Auth.Type())
		}
		pth, _ := cfg.Auth.Parameters()["path"].(string)
		boundFile(t, s, pth)
	} else if len(cfg.Auth) != 0 {
		t.Errorf("auth %q is on without the htpasswd override", cfg.Auth.Type())
	}
}

func publishes(s types.ServiceConfig, port string) bool {
	for _, pc := range s.Ports {
		if strconv.Itoa(int(pc.Target)) == port && pc.Published != "" {
			return true
		}
	}
	return false
}

// zotConfig is the part of Zot's config.json the stack depends on.
type zotConfig struct {
	Storage struct {
		RootDirectory string `json:"rootDirectory"`
	} `json:"storage"`
	HTTP struct {
		Address string `json:"address"`
		Port    string `json:"port"`
		Auth    *struct {
			Htpasswd *struct {
				Path string `json:"path"`
			} `json:"htpasswd"`
		} `json:"auth"`
	} `json:"http"`
	Extensions struct {
		Events *struct {
			Enable     bool   `json:"enable"`
			TypePrefix string `json:"typePrefix"`
			Sinks      []struct {
				Type        string `json:"type"`
				Address     string `json:"address"`
				Timeout     string `json:"timeout"`
				Channel     string `json:"channel"`
				Credentials *struct {
					Username string `json:"username"`
					Password string `json:"password"`
					Token    string `json:"token"`
				} `json:"credentials"`
			} `json:"sinks"`
		} `json:"events"`
	} `json:"extensions"`
}

func readZotConfig(t *testing.T, s types.ServiceConfig) zotConfig {
	t.Helper()
	if len(s.Command) != 2 || s.Command[0] != "serve" {
		t.Fatalf("command = %v, want [serve <config>]", s.Command)
	}
	data, err := os.ReadFile(boundFile(t, s, s.Command[1]))
	if err != nil {
		t.Fatal(err)
	}
	var c zotConfig
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("%s: %v", s.Command[1], err)
	}
	return c
}

func checkZot(t *testing.T, p *types.Project, v variant) {
	if !v.zot() {
		d, ok := p.DisabledServices[zotService]
		if _, on := p.Services[zotService]; on || !ok || !slices.Contains(d.Profiles, zotProfile) {
			t.Errorf("zot runs without --profile %s", zotProfile)
		}
		return
	}
	s := service(t, p, zotService)
	if !strings.HasPrefix(s.Image, "ghcr.io/project-zot/zot-linux-") || strings.Contains(s.Image, "minimal") {
		t.Errorf("image %q is not the full zot image (zot-minimal has no events extension)", s.Image)
	}
	c := readZotConfig(t, s)
	if c.HTTP.Address != "0.0.0.0" || !publishes(s, c.HTTP.Port) {
		t.Errorf("zot listens on %s:%s, publishes %+v", c.HTTP.Address, c.HTTP.Port, s.Ports)
	}
	if m := mountAt(s, c.Storage.RootDirectory); m == nil || m.Type != types.VolumeTypeVolume {
		t.Errorf("storage root %q is not a named volume", c.Storage.RootDirectory)
	}
	if d, ok := s.DependsOn[webhookService]; !ok || d.Condition != types.ServiceConditionHealthy {
		t.Errorf("zot must start after the webhook created the stream: %+v", s.DependsOn)
	}
	ev := c.Extensions.Events
	if ev == nil || !ev.Enable {
		t.Fatal("the events extension is off")
	}
	if ev.TypePrefix != "" {
		t.Errorf("typePrefix %q renames the zotregistry.* event types the webhook parses", ev.TypePrefix)
	}
	wh := service(t, p, webhookService)
	whPort := listenPort(t, "webhook EPR_ADDRESS", env(wh, "EPR_ADDRESS"))
	zotPath := sourceConst(t, "internal/webhook", "ZotPath")
	zotSubject := sourceConst(t, "internal/events", "ZotSubject")
	var httpSinks, natsSinks int
	for _, sink := range ev.Sinks {
		if _, err := time.ParseDuration(sink.Timeout); err != nil {
			t.Errorf("%s sink timeout %q: %v", sink.Type, sink.Timeout, err)
		}
		u, err := url.Parse(sink.Address)
		if err != nil {
			t.Errorf("%s sink address %q: %v", sink.Type, sink.Address, err)
			continue
		}
		switch sink.Type {
		case "http":
			httpSinks++
			if u.Scheme != "http" || u.Hostname() != webhookService || urlPort(u) != whPort || u.Path != zotPath {
				t.Errorf("http sink %q, want http://%s:%s%s", sink.Address, webhookService, whPort, zotPath)
			}
			// Zot cannot read the environment: its token is the literal in the file, and it must
			// be the webhook's token under the compose defaults. A custom EPR_WEBHOOK_TOKEN is
			// edited into the file by hand (README); the check cannot follow it.
			want := env(wh, "EPR_WEBHOOK_TOKEN")
			if v.env["EPR_WEBHOOK_TOKEN"] != "" {
				want = defaultToken
			}
			switch cr := sink.Credentials; {
			case cr == nil || cr.Token == "":
				t.Error("http sink sends no bearer token")
			case cr.Username != "" || cr.Password != "":
				t.Error("http sink has username/password: Zot would send Basic auth instead of the token")
			case cr.Token != want:
				t.Errorf("http sink token %q, want %q", cr.Token, want)
			}
		case "nats":
			natsSinks++
			if u.Scheme != "nats" || u.Hostname() != natsService || urlPort(u) != natsClientPort(t, p) {
				t.Errorf("nats sink %q, want nats://%s:%s", sink.Address, natsService, natsClientPort(t, p))
			}
			if sink.Channel != zotSubject {
				t.Errorf("nats sink channel %q, want %q (the subject the event stream captures)", sink.Channel, zotSubject)
			}
		default:
			t.Errorf("unknown sink type %q", sink.Type)
		}
	}
	if httpSinks != 1 || natsSinks != 1 {
		t.Errorf("want one http and one nats sink, got %d and %d", httpSinks, natsSinks)
	}
	if v.auth {
		if c.HTTP.Auth == nil || c.HTTP.Auth.Htpasswd == nil {
			t.Fatal("zot has no htpasswd auth")
		}
		boundFile(t, s, c.HTTP.Auth.Htpasswd.Path)
	} else if c.HTTP.Auth != nil {
		t.Error("zot has auth without the htpasswd override")
	}
}

// checkRegistryClients: the indexer and the api talk to one registry service, on its port, with
// credentials it accepts.
func checkRegistryClients(t *testing.T, p *types.Project, v variant) {
	ix, api := service(t, p, "indexer"), service(t, p, "api")
	for _, k := range []string{"EPR_OCI_REGISTRY", "EPR_OCI_REPOSITORY", "EPR_OCI_USERNAME", "EPR_OCI_PASSWORD", "EPR_OCI_INSECURE"} {
		if env(ix, k) != env(api, k) {
			t.Errorf("%s: indexer %q, api %q; the api downloads what the indexer indexed", k, env(ix, k), env(api, k))
		}
	}
	reg := env(ix, "EPR_OCI_REGISTRY")
	if reg != v.registry() {
		t.Errorf("EPR_OCI_REGISTRY = %q, want %q", reg, v.registry())
	}
	u, err := url.Parse(reg)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		t.Fatalf("EPR_OCI_REGISTRY %q: want http://service:port inside the compose network", reg)
	}
	if env(ix, "EPR_OCI_REPOSITORY") != "packages" {
		t.Errorf("EPR_OCI_REPOSITORY = %q, want packages (artifact-layout.md)", env(ix, "EPR_OCI_REPOSITORY"))
	}
	var port, htpasswd string
	switch u.Hostname() {
	case distService:
		s := service(t, p, distService)
		cfg := distributionConfig(t, s, true)
		_, port, _ = net.SplitHostPort(cfg.HTTP.Addr)
		if cfg.Auth.Type() == "htpasswd" {
			htpasswd = boundFile(t, s, cfg.Auth.Parameters()["path"].(string))
		}
	case zotService:
		s := service(t, p, zotService)
		c := readZotConfig(t, s)
		port = c.HTTP.Port
		if c.HTTP.Auth != nil && c.HTTP.Auth.Htpasswd != nil {
			htpasswd = boundFile(t, s, c.HTTP.Auth.Htpasswd.Path)
		}
	default:
		t.Fatalf("EPR_OCI_REGISTRY %q names no registry service", reg)
	}
	if urlPort(u) != port {
		t.Errorf("EPR_OCI_REGISTRY %q, but %s listens on %s", reg, u.Hostname(), port)
	}
	if d, ok := ix.DependsOn[u.Hostname()]; u.Hostname() == distService && (!ok || d.Condition != types.ServiceConditionHealthy) {
		t.Errorf("indexer does not wait for a healthy %s", distService)
	}
	if (htpasswd != "") != v.auth {
		t.Fatalf("registry auth = %v, want %v", htpasswd != "", v.auth)
	}
	if htpasswd == "" {
		return
	}
	user, pass := env(ix, "EPR_OCI_USERNAME"), env(ix, "EPR_OCI_PASSWORD")
	if !htpasswdAccepts(t, htpasswd, user, pass) {
		t.Errorf("%s does not accept %q with the configured password", htpasswd, user)
	}
}

func htpasswdAccepts(t *testing.T, file, user, pass string) bool {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		u, hash, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && u == user {
			if !strings.HasPrefix(hash, "$2") {
				t.Errorf("%s: %s is not bcrypt, which distribution and zot require", file, user)
			}
			return bcrypt.CompareHashAndPassword([]byte(hash), []byte(pass)) == nil
		}
	}
	return false
}

// checkWiring: every volume exists, no two services share state, dependencies can be met, host
// ports do not collide, everything restarts.
func checkWiring(t *testing.T, p *types.Project) {
	used := map[string]string{}
	hostPorts := map[string]string{}
	all := types.Services{}
	for n, s := range p.Services {
		all[n] = s
	}
	for n, s := range p.DisabledServices {
		all[n] = s
	}
	for _, name := range sortedKeys(all) {
		s := all[name]
		_, enabled := p.Services[name]
		for _, m := range s.Volumes {
			switch m.Type {
			case types.VolumeTypeVolume:
				if _, ok := p.Volumes[m.Source]; !ok {
					t.Errorf("%s: volume %q is not declared", name, m.Source)
				}
				if other, ok := used[m.Source]; ok {
					t.Errorf("volume %q is used by %s and %s (bbolt and JetStream need their own)", m.Source, other, name)
				}
				used[m.Source] = name
			case types.VolumeTypeBind:
				if _, err := os.Stat(m.Source); err != nil {
					t.Errorf("%s: bind source %v", name, err)
				}
				if !m.ReadOnly {
					t.Errorf("%s: %s is mounted writable", name, m.Source)
				}
			case types.VolumeTypeTmpfs:
			default:
				t.Errorf("%s: unexpected mount type %q", name, m.Type)
			}
		}
		if s.Restart != types.RestartPolicyUnlessStopped {
			t.Errorf("%s: restart %q, want unless-stopped", name, s.Restart)
		}
		if !enabled {
			continue
		}
		for dep, d := range s.DependsOn {
			target, ok := p.Services[dep]
			if !ok {
				t.Errorf("%s depends on %s, which is not enabled", name, dep)
				continue
			}
			if d.Condition == types.ServiceConditionHealthy && (target.HealthCheck == nil || target.HealthCheck.Disable || len(target.HealthCheck.Test) == 0) {
				t.Errorf("%s waits for %s to be healthy, but %s has no healthcheck", name, dep, dep)
			}
		}
		for _, pc := range s.Ports {
			key := pc.HostIP + ":" + pc.Published + "/" + pc.Protocol
			if other, ok := hostPorts[key]; ok {
				t.Errorf("%s and %s both publish %s", other, name, key)
			}
			hostPorts[key] = name
		}
	}
	for v := range p.Volumes {
		if _, ok := used[v]; !ok {
			t.Errorf("volume %q is declared but unused", v)
		}
	}
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	sort.Strings(out)
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
