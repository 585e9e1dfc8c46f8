// Package imagebuild builds the project's container image without a Docker daemon: it
// cross-compiles the binaries listed in deploy/image/binaries.txt, puts them on a base it builds
// itself (CA certificates, a passwd entry for the non-root user, the data directories), and
// writes a multi-platform OCI image index with go-containerregistry.
package imagebuild

import (
	"io"

	"github.com/oci-epr/package-registry/deploy"
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
	DefaultBinary = deploy.DefaultBinary
	// CACertsPath is where the CA bundle goes (Debian's path, which Go looks at first).
	CACertsPath = "/etc/ssl/certs/ca-certificates.crt"
	// VersionVar is the link-time version stamp (internal/version).
	VersionVar = "github.com/oci-epr/package-registry/internal/version.Stamp"
)

// ExposedPorts are the API's, the webhook's and the indexer's default container ports.
var ExposedPorts = []string{"8080/tcp", "8081/tcp", "8082/tcp"}

// Binary is one line of the manifest (deploy.Binary).
type Binary = deploy.Binary

// ParseManifest reads the manifest (deploy.ParseBinaries).
func ParseManifest(r io.Reader) ([]Binary, error) { return deploy.ParseBinaries(r) }
