// Package webhook owns the receiving end of registry notifications: one pure parser per
// notification format (bytes and headers in, normalised events.Event out), the HTTP handlers
// that authenticate a request (bearer token; the token as a URL query parameter for registries
// that cannot send a header; GitLab's bare token; GitHub's body signature), answer senders'
// handshakes (Event Grid), parse it and answer only once JetStream has stored what it kept,
// their metrics, and the decoder for Zot's NATS sink messages. It holds no server
// or process code: internal/service runs the handlers (service.StartWebhook for cmd/webhook, the
// API's server in all-in-one mode).
package webhook

import (
	"errors"
	"fmt"
	"mime"
	"regexp"
	"strings"
	"time"

	"github.com/oci-epr/package-registry/internal/events"
	"github.com/oci-epr/package-registry/internal/ref"
)

// ErrMalformed marks a body that cannot be read as the format it claims to be. The handlers
// answer 400 to it.
var ErrMalformed = errors.New("malformed notification")

// ErrContentType marks a request whose Content-Type the endpoint does not accept. The handlers
// answer 400 to it.
var ErrContentType = errors.New("unsupported content type")

// Result is what a parser kept and what it deliberately dropped from one notification body.
// Malformed input is not a Result but an error, so that nothing of a half-understood body is
// ever published.
type Result struct {
	// Events are the notifications worth indexing, in the order the body listed them.
	Events []events.Event
	// Ignored lists the notifications dropped on purpose (pulls, blob pushes, ...).
	Ignored []Ignored
	// Reply, when set on a Result without events, is answered as the JSON body of a 200
	// instead of "ignored": the answer a sender's handshake expects (Event Grid's
	// subscription validation).
	Reply any
}

// Ignored is one notification a parser dropped on purpose.
type Ignored struct {
	// ID is the notification's id as the source sent it (source/id for CloudEvents), when it had
	// one; it is only for logs.
	ID     string
	Reason string
}

func (r *Result) ignore(id, reason string) {
	r.Ignored = append(r.Ignored, Ignored{ID: id, Reason: reason})
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// mediaType returns the lower-cased media type of a Content-Type value without its parameters.
func mediaType(contentType string) (string, error) {
	if strings.TrimSpace(contentType) == "" {
		return "", fmt.Errorf("%w: no Content-Type", ErrContentType)
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return "", fmt.Errorf("%w: %s", ErrContentType, quote(contentType))
	}
	return mt, nil
}

// quote renders a value taken from the request for an error message: escaped to one line and
// cut short, because error messages end up in responses and logs.
func quote(s string) string {
	const max = 80
	if len(s) > max {
		return fmt.Sprintf("%q...", s[:max])
	}
	return fmt.Sprintf("%q", s)
}

// manifestMediaTypes are the media types of content worth indexing. Everything else a registry
// reports (blobs as application/octet-stream, configs, layers) is ignored.
var manifestMediaTypes = map[string]bool{
	"application/vnd.oci.image.manifest.v1+json":                true,
	"application/vnd.oci.image.index.v1+json":                   true,
	"application/vnd.oci.artifact.manifest.v1+json":             true,
	"application/vnd.docker.distribution.manifest.v2+json":      true,
	"application/vnd.docker.distribution.manifest.list.v2+json": true,
	"application/vnd.docker.distribution.manifest.v1+json":      true,
	"application/vnd.docker.distribution.manifest.v1+prettyjws": true,
}

// Repositories and tags are checked by the OCI distribution spec's grammar (oras-go's, through
// ref), digests by the spec's digest grammar. Checking them here means that every event the
// parsers keep can be published: a name NATS or JetStream refused would otherwise be answered
// 503 forever and stall the registry's in-order delivery queue.
var digestPattern = regexp.MustCompile(`^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$`)

const (
	maxRepositoryLen = 255
	maxDigestLen     = 255
	maxIDLen         = 512
)

func isFallbackTag(tag string) bool { return ref.IsFallbackTag(tag) }

// checkKept verifies the fields of an event the parser is about to keep.
func checkKept(e events.Event) error {
	if e.ID == "" {
		return malformed("event has no id")
	}
	if len(e.ID) > maxIDLen {
		return malformed("event id longer than %d bytes", maxIDLen)
	}
	for i := 0; i < len(e.ID); i++ {
		// The id travels as the Nats-Msg-Id header, where control characters would break it.
		if c := e.ID[i]; c < 0x20 || c == 0x7f {
			return malformed("event id contains control characters")
		}
	}
	if e.Repository == "" {
		return malformed("event %s has no repository", quote(e.ID))
	}
	if len(e.Repository) > maxRepositoryLen || !ref.ValidRepository(e.Repository) {
		return malformed("event %s: invalid repository name %s", quote(e.ID), quote(e.Repository))
	}
	if e.Tag != "" && !ref.ValidTag(e.Tag) {
		return malformed("event %s: invalid tag %s", quote(e.ID), quote(e.Tag))
	}
	if e.Digest != "" && (len(e.Digest) > maxDigestLen || !digestPattern.MatchString(e.Digest)) {
		return malformed("event %s: invalid digest %s", quote(e.ID), quote(e.Digest))
	}
	if err := e.Validate(); err != nil {
		return malformed("%v", err)
	}
	return nil
}

// parseTime reads an RFC 3339 timestamp; an absent one is the zero time.
func parseTime(id, field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, malformed("event %s: invalid %s %s", quote(id), field, quote(s))
	}
	return t.UTC(), nil
}
