package webhook

import (
	"strings"
)

// Helpers shared by the parsers of vendor formats, whose payloads name images the way users
// type them rather than as distribution's separate fields.

// splitImage splits an image reference as vendors print it, "host[:port]/path[:tag][@digest]",
// into its host and repository path. The first component is a host only if it looks like one
// (a dot, a port or "localhost"), as Docker decides it. The tag and digest are dropped: the
// payloads carry them in fields of their own.
func splitImage(ref string) (host, repository string) {
	r := parseImageRef(strings.TrimPrefix(strings.TrimPrefix(ref, "https://"), "http://"))
	return strings.ToLower(r.Host), r.Repository
}

// tagOrDigest reads a reference that vendors put in a "tag" field: a tag, or (Harbor, for an
// artifact pushed or pulled by digest) the digest itself.
func tagOrDigest(ref, digest string) (tag, dgst string) {
	if strings.Contains(ref, ":") {
		// A tag cannot contain ':'.
		if digest == "" {
			digest = ref
		}
		return "", digest
	}
	return ref, digest
}
