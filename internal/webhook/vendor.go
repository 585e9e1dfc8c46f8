package webhook

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Helpers shared by the parsers of vendor formats, whose payloads name images the way users
// type them rather than as distribution's separate fields.

// bodyID is the event id for formats whose payload carries none (Harbor's default format,
// Artifactory): a hash of the body. A sender's retry repeats the body byte for byte, so it is
// still stored once; two different notifications never share an id.
func bodyID(format string, body []byte) string {
	sum := sha256.Sum256(body)
	return format + ":" + hex.EncodeToString(sum[:16])
}

// splitImage splits an image reference as vendors print it, "host[:port]/path[:tag][@digest]",
// into its host and repository path. The first component is a host only if it looks like one
// (a dot, a port or "localhost"), as Docker decides it. The tag and digest are dropped: the
// payloads carry them in fields of their own.
func splitImage(ref string) (host, repository string) {
	ref = strings.TrimPrefix(strings.TrimPrefix(ref, "https://"), "http://")
	if i := strings.IndexByte(ref, '@'); i >= 0 {
		ref = ref[:i]
	}
	if i := strings.LastIndexByte(ref, ':'); i >= 0 && !strings.Contains(ref[i:], "/") {
		ref = ref[:i]
	}
	first, rest, ok := strings.Cut(ref, "/")
	if ok && (strings.ContainsAny(first, ".:") || first == "localhost") {
		return strings.ToLower(first), rest
	}
	return "", ref
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
