// Package ref owns how a package version is named, in the registry and in the index: the
// artifact layout of docs/artifact-layout.md. A version sits in a per-package repository
// <base>/<name> under the tag <version>, or in the single repository <base> under the tag
// <name>-<version>; the index key is <name>/<version>. Neither tags nor keys may hold '+', so a
// semver build separator is written '_' there (and semver never holds '_').
package ref

import (
	"regexp"
	"strings"

	"oras.land/oras-go/v2/registry"

	"github.com/oci-epr/package-registry/internal/packages"
)

// Ref names one package version.
type Ref struct {
	Name, Version string
}

var (
	// fallbackTagPattern is the tag OCI clients give the referrers index of a manifest when the
	// registry has no referrers API; it names no release.
	fallbackTagPattern = regexp.MustCompile(`^sha256-[0-9a-f]{64}$`)
)

// ValidName reports whether name is a package name: ^[a-z0-9_]+$.
func ValidName(name string) bool { return packages.IsValidName(name) }

// IsFallbackTag reports whether tag is a referrers fallback tag (sha256-<hex>).
func IsFallbackTag(tag string) bool { return fallbackTagPattern.MatchString(tag) }

func escape(version string) string   { return strings.ReplaceAll(version, "+", "_") }
func unescape(version string) string { return strings.ReplaceAll(version, "_", "+") }

// Key is the index key: "<name>/<version>".
func (r Ref) Key() string { return r.Name + "/" + escape(r.Version) }

// Tag is the tag of the version in its per-package repository.
func (r Ref) Tag() string { return escape(r.Version) }

// SingleTag is the tag of the version in the single repository: "<name>-<version>".
func (r Ref) SingleTag() string { return r.Name + "-" + escape(r.Version) }

// Repository is the version's per-package repository under base.
func (r Ref) Repository(base string) string {
	if base == "" {
		return r.Name
	}
	return base + "/" + r.Name
}

// ParseKey inverts Key.
func ParseKey(key string) (Ref, bool) {
	name, v, ok := strings.Cut(key, "/")
	if !ok || name == "" || v == "" {
		return Ref{}, false
	}
	return Ref{Name: name, Version: unescape(v)}, true
}

// FromTag is the version a per-package repository's tag names; ok is false for a tag that is
// not a strict semver version.
func FromTag(name, tag string) (Ref, bool) {
	return checked(Ref{Name: name, Version: unescape(tag)})
}

// checked returns r when its version is strict semver, else the zero Ref.
func checked(r Ref) (Ref, bool) {
	if !packages.IsStrictSemver(r.Version) {
		return Ref{}, false
	}
	return r, true
}

// FromSingleTag inverts SingleTag; ok is false for a tag that names no package version. Names
// hold no '-', so the first one splits name from version.
func FromSingleTag(tag string) (Ref, bool) {
	name, v, ok := strings.Cut(tag, "-")
	if !ok || !ValidName(name) {
		return Ref{}, false
	}
	return checked(Ref{Name: name, Version: unescape(v)})
}

// ValidRepository reports whether repository is a repository name by the OCI distribution
// grammar.
func ValidRepository(repository string) bool {
	return registry.Reference{Repository: repository}.ValidateRepository() == nil
}

// ValidTag reports whether tag is a tag by the OCI distribution grammar.
func ValidTag(tag string) bool {
	return registry.Reference{Reference: tag}.ValidateReferenceAsTag() == nil
}
