package upstream

import (
	"flag"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// DefaultURL is EPR's default -proxy-to: Elastic's public registry.
const DefaultURL = "https://epr.elastic.co/"

// Config configures proxy mode.
type Config struct {
	// Enabled turns proxy mode on (-feature-proxy-mode).
	Enabled bool
	// URL is the upstream registry's base URL (-proxy-to).
	URL string
	// AllowInsecure skips TLS certificate verification of the upstream (-proxy-allow-insecure).
	AllowInsecure bool
	// Timeout bounds the upstream's share of one answer, retries included (-proxy-timeout).
	Timeout time.Duration
	// CacheTime is how long an upstream answer (or failure) is reused before the upstream is
	// asked again for the same query (-proxy-cache-time).
	CacheTime time.Duration
	// KeepFor is how long the last good answer of a query stays usable for degraded answers;
	// the API sets it to its search cache time.
	KeepFor time.Duration
	// StaleWait bounds the wait for a fresh answer when a kept one could be served instead.
	StaleWait time.Duration
	// MaxEntries bounds the queries remembered.
	MaxEntries int
	// MaxBodyBytes bounds an upstream answer; New lowers it to fit MaxCacheBytes.
	MaxBodyBytes int64
	// MaxCacheBytes bounds the bytes of all upstream answers kept (-proxy-cache-bytes); the
	// least recently used go first.
	MaxCacheBytes int64
}

// DefaultMaxCacheBytes bounds the upstream answers kept unless -proxy-cache-bytes says
// otherwise: room for about ten of the largest answers Elastic's registry gives
// (/search?all=true&prerelease=true, a few MB) and many small ones.
const DefaultMaxCacheBytes = 128 << 20

// RegisterFlags defines the proxy flags on fs, writing into c.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.BoolVar(&c.Enabled, "feature-proxy-mode", false, "also serve the packages of the registry at -proxy-to: /search and /categories merged, other versions redirected there")
	fs.StringVar(&c.URL, "proxy-to", DefaultURL, "proxy mode: base URL of the upstream EPR-compatible registry")
	fs.BoolVar(&c.AllowInsecure, "proxy-allow-insecure", false, "proxy mode: skip TLS certificate verification of the upstream")
	fs.DurationVar(&c.Timeout, "proxy-timeout", 5*time.Second, "proxy mode: the most one answer waits for the upstream, retries included")
	fs.DurationVar(&c.CacheTime, "proxy-cache-time", 10*time.Second, "proxy mode: how long an upstream answer is reused before asking again")
	fs.Int64Var(&c.MaxCacheBytes, "proxy-cache-bytes", DefaultMaxCacheBytes, "proxy mode: the most bytes of upstream answers kept, least recently used dropped first; also bounds one answer")
}

// Validate reports what New would refuse in cfg.
func (cfg Config) Validate() error {
	_, err := parseURL(cfg.URL)
	return err
}

func parseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("-proxy-to must be an http or https URL without query, got %q", redact(raw))
	}
	if u.User != nil {
		return nil, fmt.Errorf("-proxy-to must not carry credentials, got %q", redact(raw))
	}
	return u, nil
}
