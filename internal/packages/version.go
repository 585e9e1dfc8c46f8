package packages

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// strictSemver is the grammar of semver.org 2.0.0: three numeric parts
// without leading zeros, no "v", optional prerelease and build metadata.
// Masterminds' parser is lenient ("1.2", "v1.2.3"), which the manifest must
// not be, so the grammar is checked first.
var strictSemver = regexp.MustCompile(`^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)` +
	`(-(0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*)(\.(0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*))*)?` +
	`(\+[0-9a-zA-Z-]+(\.[0-9a-zA-Z-]+)*)?$`)

// IsStrictSemver reports whether s is a semver 2.0.0 version as the manifest
// requires it.
func IsStrictSemver(s string) bool {
	return strictSemver.MatchString(s)
}

// ParseVersion parses a strict semver version for comparisons.
func ParseVersion(s string) (*semver.Version, error) {
	if !IsStrictSemver(s) {
		return nil, fmt.Errorf("%q is not a strict semantic version", s)
	}
	return semver.NewVersion(s)
}

// SemVer parses the package version; documents produced by Read always have
// a valid one.
func (p *Package) SemVer() (*semver.Version, error) {
	return ParseVersion(p.Version)
}

// IsPrerelease reports whether the version has a semver prerelease part
// ("1.0.0-rc1"). 0.x versions are not prerelease for the API's filters.
func (p *Package) IsPrerelease() bool {
	v, _, _ := strings.Cut(p.Version, "+")
	return strings.Contains(v, "-")
}

// IsExperimental reports the release level the API hides unless
// prerelease=true.
func (p *Package) IsExperimental() bool {
	return p.Release == ReleaseExperimental
}

// Release levels.
const (
	ReleaseExperimental = "experimental"
	ReleaseBeta         = "beta"
	ReleaseGA           = "ga"
)

// Package types.
const (
	TypeIntegration = "integration"
	TypeInput       = "input"
	TypeContent     = "content"
)

// defaultRelease is the level of a manifest without "release": anything not
// yet promised stable (prerelease or 0.x) is beta.
func defaultRelease(version string) string {
	core, _, _ := strings.Cut(version, "+")
	if strings.Contains(core, "-") || strings.HasPrefix(core, "0.") {
		return ReleaseBeta
	}
	return ReleaseGA
}
