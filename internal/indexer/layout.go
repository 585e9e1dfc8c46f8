package indexer

import (
	"strings"

	"github.com/oci-epr/package-registry/internal/ref"
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
	if !ref.ValidName(rest) {
		return "", false
	}
	return rest, true
}

// Candidate returns the package a tag claims to hold, or ok=false for tags that are not package
// versions (latest, referrer fallback tags, signatures, anything not semver).
func (l Layout) Candidate(repository, tag string) (name, version string, ok bool) {
	if tag == "latest" || IsAttachmentTag(tag) {
		return "", "", false
	}
	repoName, owned := l.kind(repository)
	if !owned {
		return "", "", false
	}
	var r ref.Ref
	if repoName != "" {
		r, ok = ref.FromTag(repoName, tag)
	} else {
		r, ok = ref.FromSingleTag(tag)
	}
	return r.Name, r.Version, ok
}

// IsAttachmentTag reports whether tag holds something attached to another artifact rather
// than an artifact of its own: a referrers fallback tag (sha256-<hex>) or a cosign-style
// signature, attestation or SBOM tag (.sig, .att, .sbom). They get no status entry.
func IsAttachmentTag(tag string) bool {
	return ref.IsFallbackTag(tag) || strings.HasSuffix(tag, ".sig") || strings.HasSuffix(tag, ".att") || strings.HasSuffix(tag, ".sbom")
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
