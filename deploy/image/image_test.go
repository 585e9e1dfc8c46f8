package main

// The image, built as users build it (no Docker daemon), pushed to a real distribution registry
// running in this process, read back through the registry API, and its binaries run from the
// layer the registry served.

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/oci-epr/package-registry/deploy/image/imagebuild"
	"github.com/oci-epr/package-registry/internal/devregistry"
	"github.com/oci-epr/package-registry/internal/testkit"
)

const testVersion = "v0.0.0-imagetest.1"

func moduleRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func manifest(t *testing.T) []imagebuild.Binary {
	t.Helper()
	f, err := os.Open(filepath.Join(moduleRoot(t), "deploy", "image", "binaries.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	bins, err := imagebuild.ParseManifest(f)
	if err != nil {
		t.Fatal(err)
	}
	return bins
}

// TestManifestHoldsEveryRole: the roles the chart and compose run, the mirror an air-gapped
// site needs inside the fence, and the health probe.
func TestManifestHoldsEveryRole(t *testing.T) {
	var names []string
	for _, b := range manifest(t) {
		names = append(names, b.Name)
	}
	for _, want := range []string{"webhook", "indexer", "api", "mirror", "healthcheck"} {
		if !slices.Contains(names, want) {
			t.Errorf("deploy/image/binaries.txt lacks %s (has %v)", want, names)
		}
	}
}

// TestDockerfileDeclaresTheSameImage: the Dockerfile builds the manifest's list (it reads the
// file) and declares the user, command, working directory and ports the daemonless build sets.
func TestDockerfileDeclaresTheSameImage(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(moduleRoot(t), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	df := strings.ReplaceAll(string(data), "\\\n", " ")
	var build string
	for _, line := range strings.Split(df, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "RUN") && strings.Contains(line, "go build") {
			build = line
		}
	}
	if !strings.Contains(build, "deploy/image/binaries.txt") {
		t.Errorf("the Dockerfile's go build does not read deploy/image/binaries.txt: %s", build)
	}
	if pkgs := regexp.MustCompile(`\./cmd/\S+`).FindAllString(build, -1); len(pkgs) > 0 {
		t.Errorf("the Dockerfile's go build names packages itself (%v); the manifest is the one list", pkgs)
	}
	if !strings.Contains(build, imagebuild.VersionVar) {
		t.Errorf("the Dockerfile's go build does not stamp %s", imagebuild.VersionVar)
	}
	wants := []string{
		fmt.Sprintf("USER %d:%d", imagebuild.UID, imagebuild.GID),
		"WORKDIR " + imagebuild.DataRoot,
		fmt.Sprintf(`CMD ["%s/%s"]`, imagebuild.BinDir, imagebuild.DefaultBinary),
		"COPY --from=build /out/bin/ " + imagebuild.BinDir + "/",
	}
	var ports []string
	for _, p := range imagebuild.ExposedPorts {
		ports = append(ports, strings.TrimSuffix(p, "/tcp"))
	}
	wants = append(wants, "EXPOSE "+strings.Join(ports, " "))
	for _, want := range wants {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(want) + `$`).MatchString(string(data)) {
			t.Errorf("the Dockerfile lacks the line %q", want)
		}
	}
	// The build context must carry the manifest.
	ignore, err := os.ReadFile(filepath.Join(moduleRoot(t), ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^!deploy/image/binaries\.txt$`).Match(ignore) {
		t.Error(".dockerignore keeps deploy/image/binaries.txt out of the build context")
	}
}

func TestParseManifest(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr string
	}{
		{in: "# c\n./cmd/api\n\n./deploy/healthcheck\n", want: []string{"api", "healthcheck"}},
		{in: "./cmd/api\n./other/api\n", wantErr: "a second binary"},
		{in: "cmd/api\n", wantErr: "not a package path"},
		{in: "./../x/api\n", wantErr: "not a package path"},
		{in: "./cmd/api $(rm -rf /)\n", wantErr: "not a package path"},
		{in: "./cmd/webhook\n", wantErr: "lacks the default binary"},
		{in: "# nothing\n", wantErr: "no binaries"},
	}
	for _, tt := range tests {
		bins, err := imagebuild.ParseManifest(strings.NewReader(tt.in))
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseManifest(%q) err = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseManifest(%q): %v", tt.in, err)
			continue
		}
		var got []string
		for _, b := range bins {
			got = append(got, b.Name)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("ParseManifest(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestParseFlags(t *testing.T) {
	env := func(m map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	if _, err := parseFlags([]string{"-version", "v1"}, env(nil)); err == nil || !strings.Contains(err.Error(), "nothing to do") {
		t.Errorf("no destination: err = %v", err)
	}
	if _, err := parseFlags([]string{"-push", "r/x:1"}, env(nil)); err == nil || !strings.Contains(err.Error(), "-version") {
		t.Errorf("no version: err = %v", err)
	}
	if _, err := parseFlags([]string{"-push", "r/x:1", "-version", "v1", "-platforms", "windows/amd64"}, env(nil)); err == nil {
		t.Error("a non-linux platform was accepted")
	}
	o, err := parseFlags([]string{"-push", "r/x:1"}, env(map[string]string{"EPR_VERSION": "v2"}))
	if err != nil {
		t.Fatal(err)
	}
	if o.build.Version != "v2" || len(o.build.Platforms) != 2 {
		t.Errorf("version %q, platforms %v", o.build.Version, o.build.Platforms)
	}
}

// TestImage builds both platforms, pushes the index to the in-process registry and checks what
// a cluster would pull.
func TestImage(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiles every binary twice")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Minute)
	defer cancel()
	reg, err := devregistry.Start(ctx, devregistry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()

	plats, err := imagebuild.ParsePlatforms("linux/amd64,linux/arm64")
	if err != nil {
		t.Fatal(err)
	}
	opts := imagebuild.Options{
		ModuleRoot: moduleRoot(t),
		Version:    testVersion,
		Revision:   "0123456789abcdef",
		Source:     "https://example.com/package-registry",
		Platforms:  plats,
		WorkDir:    t.TempDir(),
		Log:        io.Discard,
	}
	idx, err := imagebuild.Build(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	refName := reg.Host() + "/oci-epr/package-registry:" + testVersion
	if _, err := imagebuild.Push(ctx, idx, refName, true); err != nil {
		t.Fatal(err)
	}

	// Everything below reads what the registry serves, not the in-memory index.
	ref, err := name.ParseReference(refName, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	pulled, err := remote.Index(ref, remote.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	im, err := pulled.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if im.MediaType != types.OCIImageIndex {
		t.Errorf("index media type %s, want %s", im.MediaType, types.OCIImageIndex)
	}
	var platforms []string
	for _, d := range im.Manifests {
		platforms = append(platforms, d.Platform.String())
	}
	sort.Strings(platforms)
	if !slices.Equal(platforms, []string{"linux/amd64", "linux/arm64"}) {
		t.Fatalf("platforms %v", platforms)
	}

	var hostBinaries map[string][]byte
	var size int64
	for _, d := range im.Manifests {
		img, err := pulled.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		files, compressed := checkPlatformImage(t, img, *d.Platform, opts)
		size += compressed
		var raw int
		for _, f := range files {
			raw += len(f)
		}
		t.Logf("%s: %d MB compressed, binaries %d MB (%s)", d.Platform, compressed>>20, raw>>20, d.Digest)
		if d.Platform.Architecture == runtime.GOARCH {
			hostBinaries = files
		}
	}
	t.Logf("index %s: %d MB compressed over both platforms", refName, size>>20)
	if hostBinaries == nil {
		t.Skipf("no image for the host's %s: cannot run the binaries", runtime.GOARCH)
	}
	runBinaries(t, hostBinaries, reg.URL())
}

// checkPlatformImage checks one platform's config and layers and returns the files under BinDir
// (name to bytes) and the image's compressed size.
func checkPlatformImage(t *testing.T, img v1.Image, p v1.Platform, o imagebuild.Options) (map[string][]byte, int64) {
	t.Helper()
	mt, err := img.MediaType()
	if err != nil || mt != types.OCIManifestSchema1 {
		t.Errorf("%s: manifest media type %s (%v)", p, mt, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != p.OS || cf.Architecture != p.Architecture {
		t.Errorf("config platform %s/%s, index says %s", cf.OS, cf.Architecture, p)
	}
	c := cf.Config
	if c.User != "65532:65532" {
		t.Errorf("%s: user %q, want 65532:65532", p, c.User)
	}
	if !slices.Equal(c.Cmd, []string{"/usr/local/bin/api"}) || len(c.Entrypoint) != 0 {
		t.Errorf("%s: entrypoint %v cmd %v, want cmd [/usr/local/bin/api] as the Dockerfile", p, c.Entrypoint, c.Cmd)
	}
	if c.WorkingDir != "/var/lib/package-registry" {
		t.Errorf("%s: workdir %q", p, c.WorkingDir)
	}
	for _, port := range []string{"8080/tcp", "8081/tcp", "8082/tcp"} {
		if _, ok := c.ExposedPorts[port]; !ok {
			t.Errorf("%s: port %s not exposed", p, port)
		}
	}
	wantLabels := map[string]string{
		"org.opencontainers.image.title":    "package-registry",
		"org.opencontainers.image.version":  o.Version,
		"org.opencontainers.image.revision": o.Revision,
		"org.opencontainers.image.source":   o.Source,
		"org.opencontainers.image.created":  "1970-01-01T00:00:00Z",
	}
	for k, v := range wantLabels {
		if c.Labels[k] != v {
			t.Errorf("%s: label %s = %q, want %q", p, k, c.Labels[k], v)
		}
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 2 {
		t.Fatalf("%s: %d layers, want 2 (base, binaries)", p, len(layers))
	}
	size := int64(0)
	for _, l := range layers {
		lmt, _ := l.MediaType()
		if lmt != types.OCILayer {
			t.Errorf("%s: layer media type %s", p, lmt)
		}
		s, err := l.Size()
		if err != nil {
			t.Fatal(err)
		}
		size += s
	}

	base := readLayer(t, layers[0])
	passwd := string(base["etc/passwd"].data)
	if !strings.Contains(passwd, "nonroot:x:65532:65532:") {
		t.Errorf("%s: /etc/passwd has no 65532 entry:\n%s", p, passwd)
	}
	if !bytes.Contains(base["etc/ssl/certs/ca-certificates.crt"].data, []byte("BEGIN CERTIFICATE")) {
		t.Errorf("%s: no CA certificates", p)
	}
	for _, dir := range []string{"var/lib/package-registry/", "var/lib/package-registry/api/", "var/lib/package-registry/indexer/"} {
		if h := base[dir].hdr; h == nil || h.Uid != 65532 || h.Gid != 65532 {
			t.Errorf("%s: %s not owned by 65532: %+v", p, dir, h)
		}
	}
	if h := base["tmp/"].hdr; h == nil || h.Mode&0o1777 != 0o1777 {
		t.Errorf("%s: /tmp is not world-writable with the sticky bit", p)
	}
	for n := range base {
		if strings.HasPrefix(n, "bin/") || strings.HasPrefix(n, "usr/bin/") || strings.HasSuffix(n, "/sh") {
			t.Errorf("%s: base holds %s; it should have no shell or tools", p, n)
		}
	}

	// The binaries layer holds exactly the manifest's binaries, executable, for this platform.
	bins := readLayer(t, layers[1])
	got := map[string][]byte{}
	for n, f := range bins {
		if f.hdr.Typeflag != tar.TypeReg {
			continue
		}
		if path.Dir(n) != "usr/local/bin" {
			t.Errorf("%s: unexpected file %s in the binaries layer", p, n)
			continue
		}
		if f.hdr.Mode&0o111 != 0o111 || f.hdr.Uid != 0 {
			t.Errorf("%s: %s mode %o uid %d, want executable and root-owned (not writable by the process)", p, n, f.hdr.Mode, f.hdr.Uid)
		}
		got[path.Base(n)] = f.data
	}
	var want, have []string
	for _, b := range manifest(t) {
		want = append(want, b.Name)
	}
	for n, data := range got {
		have = append(have, n)
		if !isELFFor(data, p.Architecture) {
			t.Errorf("%s: %s is not a static ELF for %s", p, n, p.Architecture)
		}
	}
	sort.Strings(want)
	sort.Strings(have)
	if !slices.Equal(want, have) {
		t.Errorf("%s: binaries %v, manifest lists %v", p, have, want)
	}
	return got, size
}

type tarFile struct {
	hdr  *tar.Header
	data []byte
}

func readLayer(t *testing.T, l v1.Layer) map[string]tarFile {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	files := map[string]tarFile{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[h.Name] = tarFile{hdr: h, data: data}
	}
	return files
}

// isELFFor reports whether data is an ELF executable for arch, with no program interpreter
// (a static binary runs on an empty base).
func isELFFor(data []byte, arch string) bool {
	if len(data) < 20 || string(data[:4]) != "\x7fELF" {
		return false
	}
	machine := uint16(data[18]) | uint16(data[19])<<8
	want := map[string]uint16{"amd64": 62, "arm64": 183}[arch]
	return machine == want && !bytes.Contains(data[:4096], []byte("/lib/ld-linux")) && !bytes.Contains(data[:4096], []byte("/lib64/ld-linux"))
}

// runBinaries runs the binaries taken from the served layer: each answers -version or -h, and
// the all-in-one starts and answers /health, probed with the image's own healthcheck.
func runBinaries(t *testing.T, files map[string][]byte, registryURL string) {
	dir := t.TempDir()
	for n, data := range files {
		if err := os.WriteFile(filepath.Join(dir, n), data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	run := func(bin string, args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, filepath.Join(dir, bin), args...)
		cmd.Env = []string{"HOME=" + dir}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	for n := range files {
		t.Run(n, func(t *testing.T) {
			usage, _ := run(n, "-h")
			if n == "healthcheck" {
				// No -h of its own: a bad invocation prints its usage and exits 2.
				if !strings.Contains(usage, "healthcheck") {
					t.Errorf("healthcheck -h: %s", usage)
				}
				return
			}
			if !strings.Contains(usage, "Usage") { // "Usage of <name>:" from flag, or a command's own "Usage: …"
				t.Fatalf("%s -h printed no usage:\n%s", n, usage)
			}
			if !regexp.MustCompile(`(?m)^  -version$`).MatchString(usage) {
				t.Logf("%s has no -version flag yet; -h ran", n)
				return
			}
			out, err := run(n, "-version")
			if err != nil || !strings.Contains(out, testVersion) {
				t.Errorf("%s -version = %q (%v), want the stamp %s", n, out, err, testVersion)
			}
		})
	}

	// The all-in-one from the layer, against the in-process registry; a token, as the chart
	// always sets one.
	addr := testkit.FreeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(dir, "api"), "-feature-oci-indexer")
	cmd.Env = []string{
		"HOME=" + dir,
		"EPR_ADDRESS=" + addr,
		"EPR_DATA_DIR=" + filepath.Join(dir, "data"),
		"EPR_OCI_REGISTRY=" + registryURL,
		"EPR_WEBHOOK_TOKEN=image-test-token",
		"EPR_LOG_LEVEL=warn",
	}
	var logs testkit.SyncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	health := "http://" + addr + "/health"
	testkit.Eventually(t, 3*time.Minute, "the all-in-one from the image to answer /health", func() bool {
		select {
		case err := <-exited:
			t.Fatalf("the all-in-one exited: %v\n%s", err, logs.String())
		default:
		}
		resp, err := http.Get(health)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	// Ready needs the indexer consuming and the replica caught up with the (empty) index; the
	// image's own probe decides, as a container health check would.
	testkit.Eventually(t, 3*time.Minute, "healthcheck to find the all-in-one ready", func() bool {
		_, err := run("healthcheck", health+"?ready=true")
		return err == nil
	})
	cancel()
	select {
	case <-exited:
	case <-time.After(time.Minute):
		t.Error("the all-in-one did not stop on SIGINT within a minute")
	}
}
