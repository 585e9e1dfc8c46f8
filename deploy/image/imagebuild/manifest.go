// Package imagebuild builds the project's container image without a Docker daemon: it
// cross-compiles the binaries listed in deploy/image/binaries.txt, puts them on a base it builds
// itself (CA certificates, a passwd entry for the non-root user, the data directories), and
// writes a multi-platform OCI image index with go-containerregistry.
package imagebuild

import (
	"bufio"
	"fmt"
	"io"
	"path"
	"strings"
)

// The image's layout and runtime settings. The Dockerfile declares the same ones; the test in
// deploy/image compares the two.
const (
	// BinDir holds every binary of the manifest.
	BinDir = "/usr/local/bin"
	// DataRoot is the working directory; its api/ and indexer/ subdirectories belong to UID.
	DataRoot = "/var/lib/package-registry"
	// UID and GID of the non-root user the processes run as (distroless's "nonroot").
	UID = 65532
	GID = 65532
	// DefaultBinary runs when no command is given.
	DefaultBinary = "api"
	// CACertsPath is where the CA bundle goes (Debian's path, which Go looks at first).
	CACertsPath = "/etc/ssl/certs/ca-certificates.crt"
	// VersionVar is the link-time version stamp (internal/version).
	VersionVar = "github.com/oci-epr/package-registry/internal/version.Stamp"
)

// ExposedPorts are the API's, the webhook's and the indexer's default container ports.
var ExposedPorts = []string{"8080/tcp", "8081/tcp", "8082/tcp"}

// Binary is one line of the manifest: a package of the main module and the name it gets in
// BinDir.
type Binary struct {
	Package string // ./cmd/api
	Name    string // api
}

// ParseManifest reads the manifest: one package path a line ("./cmd/api"), blank lines and
// "#" comments ignored. Each binary is named after the package's last path element, so two
// packages with the same last element are an error, as is a path outside the module.
func ParseManifest(r io.Reader) ([]Binary, error) {
	var bins []Binary
	seen := map[string]bool{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		clean := path.Clean(line)
		if !strings.HasPrefix(line, "./") || strings.ContainsAny(line, " \t$`\\") || clean == "." || strings.HasPrefix(clean, "..") {
			return nil, fmt.Errorf("manifest line %d: %q is not a package path of the form ./dir/cmd", n, line)
		}
		name := path.Base(clean)
		if seen[name] {
			return nil, fmt.Errorf("manifest line %d: a second binary named %q", n, name)
		}
		seen[name] = true
		bins = append(bins, Binary{Package: "./" + clean, Name: name})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(bins) == 0 {
		return nil, fmt.Errorf("manifest lists no binaries")
	}
	if !seen[DefaultBinary] {
		return nil, fmt.Errorf("manifest lacks the default binary %q", DefaultBinary)
	}
	return bins, nil
}
