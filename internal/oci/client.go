package oci

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
)

// DefaultUserAgent is sent when Config.UserAgent is empty.
const DefaultUserAgent = "oci-epr-package-registry"

// maxListPages bounds server-driven pagination: a registry whose Link header loops would
// otherwise keep a listing running forever.
const maxListPages = 10000

var (
	// ErrRepositoryNotFound is returned by Tags when the registry answers that the repository
	// does not exist (404 with NAME_UNKNOWN or NOT_FOUND). It is the only listing outcome that
	// allows a caller to forget everything it indexed for the repository.
	ErrRepositoryNotFound = errors.New("repository not found")
	// ErrCatalogUnsupported is returned by Catalog when the registry refuses /v2/_catalog
	// (401, 403, 404 or 405), as GHCR, Docker Hub and most cloud registries do.
	ErrCatalogUnsupported = errors.New("registry does not offer the catalog API")
	// ErrNotFound is oras-go's errdef.ErrNotFound, re-exported so callers need not import oras.
	ErrNotFound = errdef.ErrNotFound
	// ErrUnsupportedManifest is returned by FetchManifest for anything but an image manifest.
	ErrUnsupportedManifest = errors.New("unsupported manifest")
	// ErrTooLarge is returned when content exceeds a size bound.
	ErrTooLarge = errors.New("content too large")
	// ErrDigestMismatch is returned when downloaded content does not match its descriptor.
	ErrDigestMismatch = errors.New("digest or size mismatch")
)

// Client talks to one registry. It is safe for concurrent use.
type Client struct {
	host     string
	mode     schemeMode
	endpoint Endpoint
	creds    string // where credentials come from, for String and logs
	pageSize int
	// maxTags and maxTagBytes bound one tag listing (see limits.go).
	maxTags, maxTagBytes int
	base                 *http.Client // without auth; used to probe the scheme
	auth                 *auth.Client // what oras-go sends every registry request through
	ua                   string

	mu      sync.Mutex // guards decided and plain, set once by the scheme probe, and zot
	decided bool
	plain   bool
	zot     zotState
	now     func() time.Time
}

// New returns a client for cfg.Registry. It does not contact the registry.
func New(cfg Config) (*Client, error) {
	addr, err := parseAddress(cfg.Registry, cfg.Insecure)
	if err != nil {
		return nil, err
	}
	if (cfg.Username == "") != (cfg.Password == "") {
		return nil, errors.New("oci: username and password must be given together")
	}
	if cfg.PageSize < 0 {
		return nil, errors.New("oci: page size must not be negative")
	}
	base := cfg.HTTPClient
	if base == nil {
		base = &http.Client{Transport: defaultTransport(cfg.Insecure)}
	}
	timeout := cfg.RequestTimeout
	if timeout == 0 {
		timeout = DefaultRequestTimeout
	}
	base = withRequestDeadline(base, timeout)
	ua := cfg.UserAgent
	if ua == "" {
		ua = DefaultUserAgent
	}
	ac := &auth.Client{
		Client: base,
		// A cache per Client: the package-wide auth.DefaultCache would share tokens between
		// clients of one host holding different credentials.
		Cache: auth.NewCache(),
	}
	ac.SetUserAgent(ua)
	creds := "anonymous"
	switch {
	case cfg.Username != "":
		ac.Credential = auth.StaticCredential(addr.host, auth.Credential{
			Username: cfg.Username,
			Password: cfg.Password,
		})
		creds = fmt.Sprintf("as %q", cfg.Username)
	case cfg.DockerConfig != "" && missingFile(cfg.DockerConfig):
		creds = fmt.Sprintf("anonymous (no docker config at %s)", cfg.DockerConfig)
	case cfg.DockerConfig != "":
		fn, err := dockerCredential(cfg.DockerConfig, addr)
		if err != nil {
			return nil, err
		}
		ac.Credential = fn
		creds = fmt.Sprintf("with credentials from %s", cfg.DockerConfig)
	}
	return &Client{
		host:        addr.host,
		mode:        addr.mode,
		endpoint:    addr.endpoint,
		creds:       creds,
		now:         time.Now,
		pageSize:    cfg.PageSize,
		maxTags:     cmp.Or(cfg.MaxTags, DefaultMaxTags),
		maxTagBytes: cmp.Or(cfg.MaxTagBytes, DefaultMaxTagBytes),
		base:        base,
		auth:        ac,
		ua:          ua,
	}, nil
}

func defaultTransport(insecure bool) http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	// Contexts bound whole operations; this only catches a registry that accepts a
	// connection and never answers, which would otherwise pin a worker until its deadline.
	t.ResponseHeaderTimeout = time.Minute
	if insecure {
		tc := &tls.Config{}
		if t.TLSClientConfig != nil {
			tc = t.TLSClientConfig.Clone()
		}
		tc.InsecureSkipVerify = true //nolint:gosec // the operator asked for an insecure registry
		t.TLSClientConfig = tc
	}
	return t
}

// Host is the registry's host[:port].
func (c *Client) Host() string { return c.host }

// String describes the client without any secret.
func (c *Client) String() string {
	scheme := map[schemeMode]string{schemeHTTPS: "https", schemeHTTP: "http", schemeProbe: "https, falling back to http"}[c.mode]
	return fmt.Sprintf("oci.Client{%s via %s %s}", c.host, scheme, c.creds)
}

// Credentials says where the client's credentials come from ("anonymous", the configured
// user, or a docker config path), never what they are.
func (c *Client) Credentials() string { return c.creds }

// CanonicalRepository spells a repository name as this registry serves it (see
// Endpoint.CanonicalRepository).
func (c *Client) CanonicalRepository(name string) string { return c.endpoint.CanonicalRepository(name) }

// plainHTTP reports whether requests go over plain HTTP, probing the registry the first time
// when the scheme is not fixed. A failed probe is not remembered, so the next call retries.
func (c *Client) plainHTTP(ctx context.Context) (bool, error) {
	switch c.mode {
	case schemeHTTPS:
		return false, nil
	case schemeHTTP:
		return true, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.decided {
		return c.plain, nil
	}
	// Any HTTP answer over TLS, even 401 or 404, proves the registry speaks HTTPS.
	_, httpsErr := c.probe(ctx, "https")
	if httpsErr == nil {
		c.decided, c.plain = true, false
		return false, nil
	}
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	// Over plain HTTP only a real /v2/ answer counts: a TLS port answers plain HTTP with a
	// 400, and choosing HTTP after a transient HTTPS failure would stick for the client's life.
	status, httpErr := c.probe(ctx, "http")
	if httpErr == nil && (status == http.StatusOK || status == http.StatusUnauthorized) {
		c.decided, c.plain = true, true
		return true, nil
	}
	if httpErr == nil {
		httpErr = fmt.Errorf("GET /v2/ answered %d", status)
	}
	return false, fmt.Errorf("oci: %s speaks neither HTTPS (%w) nor plain HTTP (%w)", c.host, httpsErr, httpErr)
}

func (c *Client) probe(ctx context.Context, scheme string) (int, error) {
	u := url.URL{Scheme: scheme, Host: c.host, Path: "/v2/"}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("User-Agent", c.ua)
	resp, err := c.base.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp.StatusCode, nil
}

// repository returns an oras-go client for one repository of the registry. It is cheap: oras
// keeps no connection state in it, the transport and token cache live in c.auth.
func (c *Client) repository(ctx context.Context, name string) (*remote.Repository, error) {
	ref := registry.Reference{Registry: c.host, Repository: name}
	if err := ref.ValidateRepository(); err != nil {
		return nil, fmt.Errorf("oci: repository %q: %w", name, err)
	}
	plain, err := c.plainHTTP(ctx)
	if err != nil {
		return nil, err
	}
	return &remote.Repository{
		Client:               c.auth,
		Reference:            ref,
		PlainHTTP:            plain,
		TagListPageSize:      c.pageSize,
		TagListMaxPages:      maxListPages,
		ReferrerListMaxPages: maxReferrerPages,
	}, nil
}

// registry returns an oras-go client for the registry itself (the catalog).
func (c *Client) registry(ctx context.Context) (*remote.Registry, error) {
	plain, err := c.plainHTTP(ctx)
	if err != nil {
		return nil, err
	}
	r, err := remote.NewRegistry(c.host)
	if err != nil {
		return nil, err
	}
	r.Client = c.auth
	r.PlainHTTP = plain
	// No page size for the catalog: distribution answers 400 to an "n" above its configured
	// maximum (tags/list clamps instead), so the registry's own page size is the safe one.
	// Link pagination is followed either way.
	return r, nil
}

// baseURL is the registry's URL prefix, for the few requests oras-go has no call for.
func (c *Client) baseURL(ctx context.Context) (string, error) {
	plain, err := c.plainHTTP(ctx)
	if err != nil {
		return "", err
	}
	if plain {
		return "http://" + c.host, nil
	}
	return "https://" + c.host, nil
}
