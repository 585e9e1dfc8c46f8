package mirror

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// source is the EPR-compatible registry a run copies from: its base URL without credentials,
// which is the only form that appears in requests' URLs, logs, errors, the summary and
// annotations, and the credentials of -from's userinfo, sent only to the base's own host.
type source struct {
	base *url.URL
	user *url.Userinfo
}

// parseSource checks raw (-from) and splits its credentials off. Errors show it redacted.
func parseSource(raw string) (*source, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return nil, fmt.Errorf("-from must be an http or https URL: %v", redactErr(err))
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("-from must be an http or https URL without query, got %q", u.Redacted())
	}
	s := &source{user: u.User}
	u.User = nil
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	s.base = u
	return s, nil
}

// redactErr drops what a *url.Error quotes of the URL it failed on, which may hold credentials.
func redactErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// String is the base URL, for logs.
func (s *source) String() string { return s.base.String() }

// endpoint is the URL of a path of the source's API (escaped path segments, under the base's path).
func (s *source) endpoint(escapedPath string) string { return s.base.String() + escapedPath }

// resolve turns a path a source's document names (download, signature_path) into a URL on the
// source. EPR writes them as paths from its root ("/epr/<n>/<n>-<v>.zip"), which are taken
// under the base's path, so a source served under a prefix works. An absolute URL, or a
// network-path reference ("//host/…"), must name the source's own scheme and host: a document
// cannot send a request (and the credentials that go with it) anywhere else. Only a redirect
// by the source itself can, and that request carries no credentials (checkRedirect).
func (s *source) resolve(ref string) (string, error) {
	r, err := url.Parse(ref)
	if err != nil {
		return "", fmt.Errorf("download path %q is not a URL reference: %v", ref, redactErr(err))
	}
	if r.User != nil {
		return "", fmt.Errorf("download path %q carries credentials", r.Redacted())
	}
	if r.Scheme != "" || r.Host != "" || r.Opaque != "" {
		if r.Scheme == "" {
			r.Scheme = s.base.Scheme // a network-path reference keeps the source's scheme
		}
		if !s.onSource(r) || r.Opaque != "" {
			return "", fmt.Errorf("download path %q is not on the source %s; refused", r.Redacted(), s.base.Scheme+"://"+s.base.Host)
		}
		return r.String(), nil
	}
	u := s.base.JoinPath(r.EscapedPath())
	u.RawQuery = r.RawQuery
	if u.Host != s.base.Host {
		return "", fmt.Errorf("download path %q leaves the source; refused", ref)
	}
	return u.String(), nil
}

// onSource reports whether u is on the source's scheme and host, the only place credentials go.
func (s *source) onSource(u *url.URL) bool { return u.Scheme == s.base.Scheme && u.Host == s.base.Host }

// authorize adds the source's credentials to req when it goes to the source.
func (s *source) authorize(req *http.Request) {
	if s.user == nil || !s.onSource(req.URL) {
		return
	}
	pw, _ := s.user.Password()
	req.SetBasicAuth(s.user.Username(), pw)
}

// client is c with a redirect policy that follows the source's redirects anywhere (a source may
// keep its zips on a CDN) but takes the credentials off every request that leaves the source's
// scheme and host, subdomains included, and stops after 10.
func (s *source) client(c *http.Client) *http.Client {
	out := *c
	prev := c.CheckRedirect
	out.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		if !s.onSource(req.URL) {
			req.Header.Del("Authorization")
		}
		if prev != nil {
			return prev(req, via)
		}
		return nil
	}
	return &out
}
