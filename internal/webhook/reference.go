package webhook

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
)

// requireJSON accepts the JSON Content-Types the vendor webhooks send (application/json, or a
// +json type).
func requireJSON(header http.Header) error {
	mt, err := mediaType(header.Get("Content-Type"))
	if err != nil {
		return err
	}
	if mt != "application/json" && !strings.HasSuffix(mt, "+json") {
		return fmt.Errorf("%w: %s, want application/json", ErrContentType, quote(mt))
	}
	return nil
}

// bodyID is the event id of a notification whose format has none (Docker Hub, Quay): the digest
// of the body, so that a redelivery of the same body is stored once, and part names the event
// within it.
func bodyID(format string, body []byte, part string) string {
	sum := sha256.Sum256(body)
	id := format + "/" + hex.EncodeToString(sum[:16])
	if part != "" {
		id += "/" + part
	}
	return id
}

// imageRef is an image reference as registries spell them in notifications:
// host/path[:tag][@digest].
type imageRef struct {
	Host, Repository, Tag, Digest string
}

// parseImageRef splits an image reference. The first path component is the host when it
// looks like one (holds '.' or ':', or is localhost), as Docker reads references; a reference
// without one has no host. Validation of the parts is left to checkKept.
func parseImageRef(s string) imageRef {
	var r imageRef
	if name, digest, ok := strings.Cut(s, "@"); ok {
		s, r.Digest = name, digest
	}
	// A ':' after the last '/' starts the tag; one before it is the host's port.
	if i := strings.LastIndex(s, ":"); i > strings.LastIndex(s, "/") {
		s, r.Tag = s[:i], s[i+1:]
	}
	if first, rest, ok := strings.Cut(s, "/"); ok && (strings.ContainsAny(first, ".:") || first == "localhost") {
		r.Host, s = first, rest
	}
	r.Repository = s
	return r
}
