package status

import (
	"regexp"
	"strings"
)

// urls matches a URL inside a text. Registry clients' errors name the URL they asked, which may
// carry user info ("https://user:pass@host") or, from a token exchange, a query ("?token=…").
var urls = regexp.MustCompile(`[a-zA-Z][a-zA-Z0-9+.-]*://[^\s"'<>]+`)

// Redact removes from every URL in s its user info and its query: every text the status stores
// (errors, messages) goes through it, as no credential may appear in the status.
func Redact(s string) string {
	return urls.ReplaceAllStringFunc(s, func(u string) string {
		// Punctuation after a URL ("GET https://…/x: 401") is the sentence's.
		trimmed := strings.TrimRight(u, ":,.;)")
		tail := u[len(trimmed):]
		u = trimmed
		scheme, rest, _ := strings.Cut(u, "://")
		host, path, hasPath := strings.Cut(rest, "/")
		if at := strings.LastIndexByte(host, '@'); at >= 0 {
			host = "[redacted]@" + host[at+1:]
		}
		out := scheme + "://" + host
		if hasPath {
			out += "/" + path
		}
		if q := strings.IndexByte(out, '?'); q >= 0 {
			out = out[:q] + "?[redacted]"
		}
		return out + tail
	})
}
