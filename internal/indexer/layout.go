package indexer

import (
	"regexp"
	"strings"

	"github.com/oci-epr/package-registry/internal/packages"
)

var (
	packageName     = regexp.MustCompile(`^[a-z0-9_]+$`)
	referrerFallTag = regexp.MustCompile(`^sha256-[0-9a-f]{64}$`)
)

// Layout maps repositories and tags to package versions, for the two layouts of
// docs/artifact-layout.md under one base repository.
type Layout struct {
	// Base is the -oci-repository value, e.g. "packages".
	Base string
}

// Owns reports whether repository holds packages in either layout.
func (l Layout) Owns(repository string) bool {
	_, ok := l.kind(repository)
	return ok
}

// kind returns the package name for a per-package repository, "" for the single repository.
func (l Layout) kind(repository string) (name string, ok bool) {
	if l.Base != "" && repository == l.Base {
		return "", true
	}
	rest := repository
	if l.Base != "" {
		var found bool
		rest, found = strings.CutPrefix(repository, l.Base+"/")
		if !found {
			return "", false
		}
	}
	if !packageName.MatchString(rest) {
		return "", false
	}
	return rest, true
}

// Candidate returns the package a tag claims to hold, or ok=false for tags that are not package
// versions (latest, referrer fallback tags, signatures, anything not semver).
func (l Layout) Candidate(repository, tag string) (name, version string, ok bool) {
	if tag == "latest" || referrerFallTag.MatchString(tag) ||
		strings.HasSuffix(tag, ".sig") || strings.HasSuffix(tag, ".att") || strings.HasSuffix(tag, ".sbom") {
		return "", "", false
	}
	repoName, owned := l.kind(repository)
	if !owned {
		return "", "", false
	}
	if repoName != "" {
		// Tags cannot hold '+', so build metadata is written '_'.
		name, version = repoName, strings.ReplaceAll(tag, "_", "+")
	} else {
		var found bool
		name, version, found = strings.Cut(tag, "-")
		if !found || !packageName.MatchString(name) {
			return "", "", false
		}
		version = strings.ReplaceAll(version, "_", "+")
	}
	if !packages.IsStrictSemver(version) {
		return "", "", false
	}
	return name, version, true
}

// rivals are the other repositories that may hold versions of the package name, seen from
// repository: a package lives in <base>/<name> or in <base>, nowhere else.
func (l Layout) rivals(repository, name string) []string {
	repoName, ok := l.kind(repository)
	switch {
	case !ok:
		return nil
	case repoName != "":
		if l.Base == "" {
			return nil
		}
		return []string{l.Base}
	case l.Base != "":
		return []string{l.Base + "/" + name}
	}
	return nil
}

// outranks reports whether a's copy of a package is served over b's: the per-package layout
// wins over the single repository.
func (l Layout) outranks(a, b string) bool {
	na, okA := l.kind(a)
	nb, okB := l.kind(b)
	return okA && okB && na != "" && nb == ""
}
