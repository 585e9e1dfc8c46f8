// Package deploy holds what the ways of deploying the project share: the list of binaries an
// image holds (deploy/image/binaries.txt), read by the Dockerfile's build, the daemonless image
// build (deploy/image) and the compose and chart tests.
package deploy

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// DefaultBinary is the binary an image runs when no command is given; the list must hold it.
const DefaultBinary = "api"

// Binary is one line of the list: a package of the main module and the name it is built as.
type Binary struct {
	Package string // ./cmd/api
	Name    string // api
}

// ParseBinaries reads the list: one package path a line ("./cmd/api"), blank lines and "#"
// comments ignored. Each binary is named after the package's last path element, so two packages
// with the same last element are an error, as is a path outside the module.
func ParseBinaries(r io.Reader) ([]Binary, error) {
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

// BinariesFile is the list's path under the module root.
var BinariesFile = filepath.Join("deploy", "image", "binaries.txt")

// ReadBinaries parses the list under the module root moduleRoot.
func ReadBinaries(moduleRoot string) ([]Binary, error) {
	f, err := os.Open(filepath.Join(moduleRoot, BinariesFile))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	bins, err := ParseBinaries(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", BinariesFile, err)
	}
	return bins, nil
}

// Packages are the bins' package paths, in order.
func Packages(bins []Binary) []string {
	pkgs := make([]string, len(bins))
	for i, b := range bins {
		pkgs[i] = b.Package
	}
	return pkgs
}
