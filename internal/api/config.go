package api

import (
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/oci-epr/package-registry/internal/packages"
	"github.com/oci-epr/package-registry/internal/version"
)

// Config tunes the API. Start from DefaultConfig: the zero value of the two
// booleans is the strict, non-default behaviour.
type Config struct {
	// ServiceName and ServiceVersion are reported by / and /index.json and
	// epr_service_info.
	ServiceName    string
	ServiceVersion string
	// Instance labels epr_service_info; empty means the host name.
	Instance string

	// AllowUnknownQueryParameters false makes unknown query keys of /search
	// and /categories a 400 (flag -allow-unknown-query-parameters).
	AllowUnknownQueryParameters bool
	// MockFallback serves the built-in mock packages while the index is
	// empty. Off, an empty index answers empty results.
	MockFallback bool

	// Cache-Control max-age of the four EPR cache classes, sent in whole
	// seconds. Zero means the default; anything else under a second is an
	// error (it would be sent as 0).
	CacheTimeIndex      time.Duration // "/", "/index.json", "/package/<n>/<v>/"
	CacheTimeSearch     time.Duration
	CacheTimeCategories time.Duration
	CacheTimeCatchAll   time.Duration // zips, signatures, files, favicon

	// ResponseCacheBytes bounds the bodies kept per index generation; 0 means
	// 64 MiB, negative disables the cache (benchmarks, debugging).
	ResponseCacheBytes int64
	// OpenArchives bounds the package zips kept open for static files; 0
	// means 64.
	OpenArchives int
	// OpenArchiveBytes bounds the heap those open zips hold, as estimated by
	// packages.Archive.MemoryCost; 0 means 256 MiB. Typical packages cost
	// 0.1-1 MB open, one at the entry limit (20,000) about 10 MB, so the
	// default keeps 64 typical packages or ~25 of the largest allowed.
	OpenArchiveBytes int64
	// Upstream, when set, turns proxy mode on: /search and /categories merge its answers with
	// ours, versions we do not hold are redirected to it, and no mock packages are served.
	Upstream Upstream
	// ArchiveLimits bound reading a zip for static files; zero fields are the
	// packages defaults.
	ArchiveLimits packages.Limits
}

// DefaultConfig mirrors the EPR defaults (epr-api.md §8).
func DefaultConfig() Config {
	return Config{
		ServiceName:                 "oci-epr",
		ServiceVersion:              version.String(),
		AllowUnknownQueryParameters: true,
		MockFallback:                true,
		CacheTimeIndex:              10 * time.Second,
		CacheTimeSearch:             10 * time.Minute,
		CacheTimeCategories:         10 * time.Minute,
		CacheTimeCatchAll:           10 * time.Minute,
	}
}

// RegisterFlags defines the EPR flags that tune the API on fs, writing into c; c's values at the
// time of the call are the defaults shown.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.BoolVar(&c.MockFallback, "mock-fallback", c.MockFallback, "serve built-in mock packages while the index is empty")
	fs.BoolVar(&c.AllowUnknownQueryParameters, "allow-unknown-query-parameters", c.AllowUnknownQueryParameters, "false makes unknown query parameters a 400")
	fs.DurationVar(&c.CacheTimeIndex, "cache-time-index", c.CacheTimeIndex, "Cache-Control max-age of / and /package/<n>/<v>/")
	fs.DurationVar(&c.CacheTimeSearch, "cache-time-search", c.CacheTimeSearch, "Cache-Control max-age of /search")
	fs.DurationVar(&c.CacheTimeCategories, "cache-time-categories", c.CacheTimeCategories, "Cache-Control max-age of /categories")
	fs.DurationVar(&c.CacheTimeCatchAll, "cache-time-catch-all", c.CacheTimeCatchAll, "Cache-Control max-age of zips, signatures and files")
}

// Validate reports the first setting New would refuse, so that a command can refuse it before
// it opens anything.
func (c Config) Validate() error {
	_, err := c.withDefaults()
	return err
}

func (c Config) withDefaults() (Config, error) {
	d := DefaultConfig()
	if c.ServiceName == "" {
		c.ServiceName = d.ServiceName
	}
	if c.ServiceVersion == "" {
		c.ServiceVersion = d.ServiceVersion
	}
	for _, t := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"cache-time-index", &c.CacheTimeIndex, d.CacheTimeIndex},
		{"cache-time-search", &c.CacheTimeSearch, d.CacheTimeSearch},
		{"cache-time-categories", &c.CacheTimeCategories, d.CacheTimeCategories},
		{"cache-time-catch-all", &c.CacheTimeCatchAll, d.CacheTimeCatchAll},
	} {
		switch {
		case *t.v < time.Second && *t.v != 0:
			return c, fmt.Errorf("-%s must be at least 1s, got %v", t.name, *t.v)
		case *t.v == 0:
			*t.v = t.def
		}
	}
	if c.ResponseCacheBytes == 0 {
		c.ResponseCacheBytes = 64 << 20
	}
	if c.OpenArchives < 0 {
		return c, errors.New("OpenArchives must not be negative")
	}
	if c.OpenArchives == 0 {
		c.OpenArchives = 64
	}
	if c.OpenArchiveBytes < 0 {
		return c, errors.New("OpenArchiveBytes must not be negative")
	}
	if c.OpenArchiveBytes == 0 {
		c.OpenArchiveBytes = 256 << 20
	}
	return c, nil
}
