package status

import (
	"fmt"
	"strings"

	"github.com/oci-epr/package-registry/internal/packages"
	"github.com/oci-epr/package-registry/internal/ref"
)

// Want is the package version a wait is for: name@version, optionally the manifest digest that
// was pushed for it.
type Want struct {
	Name    string
	Version string
	// Digest, when set, is the manifest digest pushed (what `oras push` printed): a tag the
	// status still knows under another digest has not been read since the push, so its state
	// (served or rejected) says nothing about it.
	Digest string
}

func (w Want) String() string { return w.Name + "@" + w.Version }

// ParseWant reads "name@version", the way a package author names what was pushed. The name
// follows the package-name rule, the version strict semver (a build suffix written with '+',
// as in the manifest, not '_' as in a tag).
func ParseWant(s string) (Want, error) {
	name, version, ok := strings.Cut(s, "@")
	if !ok {
		return Want{}, fmt.Errorf("%q is not name@version (e.g. nginx@1.20.0)", s)
	}
	if !ref.ValidName(name) {
		return Want{}, fmt.Errorf("%q: %q is not a package name (lower-case letters, digits and _)", s, name)
	}
	if !packages.IsStrictSemver(version) {
		return Want{}, fmt.Errorf("%q: %q is not a semantic version (e.g. 1.20.0)", s, version)
	}
	return Want{Name: name, Version: version}, nil
}
