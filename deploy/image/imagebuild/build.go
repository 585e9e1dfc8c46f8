package imagebuild

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Options says what to build.
type Options struct {
	// ModuleRoot is the main module's directory (where go.mod and the manifest's paths are).
	ModuleRoot string
	// Manifest is the binaries list; empty: deploy/image/binaries.txt under ModuleRoot.
	Manifest string
	// Version is stamped into every binary (internal/version) and the labels.
	Version string
	// Revision is the source revision for the labels (optional).
	Revision string
	// Source is the source repository URL for the labels (optional).
	Source string
	// Created is the image's creation time and every file's mtime; zero: the Unix epoch, so
	// that rebuilding the same sources gives the same digests.
	Created time.Time
	// Platforms to build, e.g. linux/amd64 and linux/arm64.
	Platforms []v1.Platform
	// CACerts is the CA bundle to copy in; empty: the build machine's (Debian's path).
	CACerts string
	// WorkDir holds the compiled binaries and layer files; empty: a temporary directory that
	// Build leaves for the returned index to read from (remove it after writing).
	WorkDir string
	// Log receives the build's progress; nil: discarded.
	Log io.Writer
}

// Title and Description are the image's OCI title and description labels.
const (
	Title       = "package-registry"
	Description = "Elastic Package Registry API served from packages stored as OCI artifacts: webhook, indexer, api, mirror, package-registry-ctl and healthcheck."
)

var validVersion = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]*$`)

// Labels are the OCI annotations the image config carries.
func Labels(o Options) map[string]string {
	l := map[string]string{
		"org.opencontainers.image.title":       Title,
		"org.opencontainers.image.description": Description,
		"org.opencontainers.image.version":     o.Version,
		"org.opencontainers.image.created":     o.created().Format(time.RFC3339),
	}
	if o.Revision != "" {
		l["org.opencontainers.image.revision"] = o.Revision
	}
	if o.Source != "" {
		l["org.opencontainers.image.source"] = o.Source
	}
	return l
}

func (o Options) created() time.Time {
	if o.Created.IsZero() {
		return time.Unix(0, 0).UTC()
	}
	return o.Created.UTC()
}

// ParsePlatforms reads "linux/amd64,linux/arm64" (os/arch[/variant]).
func ParsePlatforms(s string) ([]v1.Platform, error) {
	var ps []v1.Platform
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		p, err := v1.ParsePlatform(f)
		if err != nil {
			return nil, err
		}
		if p.OS != "linux" || p.Architecture == "" {
			return nil, fmt.Errorf("platform %q: want linux/<arch>", f)
		}
		ps = append(ps, *p)
	}
	if len(ps) == 0 {
		return nil, fmt.Errorf("no platforms in %q", s)
	}
	return ps, nil
}

// Build compiles the manifest's binaries for every platform and assembles the image index.
// Layers are files under WorkDir, read when the index is written.
func Build(ctx context.Context, o Options) (v1.ImageIndex, error) {
	if !validVersion.MatchString(o.Version) {
		return nil, fmt.Errorf("version %q: want letters, digits and . _ + - only (it goes into -ldflags and labels)", o.Version)
	}
	if o.Manifest == "" {
		o.Manifest = filepath.Join(o.ModuleRoot, "deploy", "image", "binaries.txt")
	}
	if o.CACerts == "" {
		o.CACerts = CACertsPath
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.WorkDir == "" {
		dir, err := os.MkdirTemp("", "package-registry-image-")
		if err != nil {
			return nil, err
		}
		o.WorkDir = dir
	}
	mf, err := os.Open(o.Manifest)
	if err != nil {
		return nil, err
	}
	bins, err := ParseManifest(mf)
	mf.Close()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.Manifest, err)
	}
	certs, err := os.ReadFile(o.CACerts)
	if err != nil {
		return nil, fmt.Errorf("CA certificates: %w", err)
	}
	base, err := tarLayer(filepath.Join(o.WorkDir, "base.tar"), baseEntries(certs), o.created())
	if err != nil {
		return nil, err
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range o.Platforms {
		dir := filepath.Join(o.WorkDir, p.OS+"-"+p.Architecture+p.Variant)
		fmt.Fprintf(o.Log, "building %d binaries for %s\n", len(bins), p.String())
		if err := compile(ctx, o, p, bins, dir); err != nil {
			return nil, err
		}
		binLayer, err := tarLayer(dir+".tar", binaryEntries(dir, bins), o.created())
		if err != nil {
			return nil, err
		}
		img, err := image(o, p, base, binLayer)
		if err != nil {
			return nil, err
		}
		pl := p
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &pl}})
	}
	return mutate.Annotations(idx, map[string]string{
		"org.opencontainers.image.title":   Title,
		"org.opencontainers.image.version": o.Version,
		"org.opencontainers.image.created": o.created().Format(time.RFC3339),
	}).(v1.ImageIndex), nil
}

// image is one platform's image: the base layer, the binaries layer and the config the
// Dockerfile declares.
func image(o Options, p v1.Platform, layers ...v1.Layer) (v1.Image, error) {
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.AppendLayers(img, layers...)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
	cf.Created = v1.Time{Time: o.created()}
	cf.Author = Title
	ports := map[string]struct{}{}
	for _, port := range ExposedPorts {
		ports[port] = struct{}{}
	}
	cf.Config = v1.Config{
		User:         fmt.Sprintf("%d:%d", UID, GID),
		WorkingDir:   DataRoot,
		Cmd:          []string{BinDir + "/" + DefaultBinary},
		Env:          []string{"PATH=" + BinDir + ":/usr/bin:/bin", "SSL_CERT_FILE=" + CACertsPath},
		ExposedPorts: ports,
		Labels:       Labels(o),
	}
	cf.History = []v1.History{
		{Created: cf.Created, CreatedBy: "imagebuild: base (CA certificates, users, data directories)"},
		{Created: cf.Created, CreatedBy: "imagebuild: binaries " + o.Version},
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, err
	}
	return mutate.Annotations(img, map[string]string{"org.opencontainers.image.version": o.Version}).(v1.Image), nil
}

// compile cross-compiles the binaries into dir with the Dockerfile's flags plus the version stamp.
func compile(ctx context.Context, o Options, p v1.Platform, bins []Binary, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	args := []string{"build", "-trimpath", "-ldflags", LDFlags(o.Version), "-o", dir + string(os.PathSeparator)}
	for _, b := range bins {
		args = append(args, b.Package)
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = o.ModuleRoot
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Architecture,
		// No VCS stamping: the version is the -X stamp, and the build may run outside a checkout.
		"GOFLAGS="+strings.TrimSpace(os.Getenv("GOFLAGS")+" -buildvcs=false"))
	if p.Architecture == "arm" && p.Variant != "" {
		cmd.Env = append(cmd.Env, "GOARM="+strings.TrimPrefix(p.Variant, "v"))
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s (%s): %v\n%s", strings.Join(args, " "), p.String(), err, out)
	}
	return nil
}

// LDFlags are the Dockerfile's linker flags (no symbol table or DWARF) plus the version stamp.
// cmd/api still reads its own main.version for -version; the second -X stamps it too and is
// ignored by binaries without that variable.
func LDFlags(version string) string {
	return fmt.Sprintf("-s -w -X %s=%s -X main.version=%s", VersionVar, version, version)
}

func tarLayer(file string, entries []entry, mtime time.Time) (v1.Layer, error) {
	f, err := os.Create(file)
	if err != nil {
		return nil, err
	}
	if err := writeTar(f, entries, mtime); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	return tarball.LayerFromFile(file, tarball.WithMediaType(types.OCILayer), tarball.WithCompressedCaching)
}
