// Package upstream owns proxy mode's connection to another EPR-compatible registry: the
// /search and /categories queries forwarded to it, each within a bounded time and retry budget
// and coalesced per normalised query, the answers reused for a short while, and the last good
// answer per query, kept so that a failing upstream degrades an answer instead of failing it.
// What is kept is bounded in bytes and entries, least recently used out first (cache.go).
// It knows nothing of how answers are merged (internal/api does that).
package upstream

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/singleflight"

	"github.com/oci-epr/package-registry/internal/retry"
)

// State says what part the upstream had in an answer.
type State string

const (
	// Fresh: the upstream answered this query within its cache time.
	Fresh State = "fresh"
	// Stale: the upstream failed; Body is its last good answer to this query.
	Stale State = "stale"
	// Missing: the upstream failed and no good answer to this query is kept.
	Missing State = "missing"
)

// Answer is the upstream's part of one answer.
type Answer struct {
	State State
	// Body is the upstream's JSON array; nil when Missing.
	Body []byte
	// ID names Body (a hash), so that merged answers can be cached per upstream answer.
	ID string
}

// Client forwards queries to the upstream. It is safe for concurrent use.
type Client struct {
	cfg     Config
	base    *url.URL
	http    *http.Client
	now     func() time.Time
	flight  singleflight.Group
	mu      sync.Mutex
	entries *cache
	metrics *metrics
}

// entry is what is known of one query; entries are replaced, never changed.
type entry struct {
	body      []byte
	id        string
	goodAt    time.Time // when body was fetched
	checkedAt time.Time // when the upstream was last asked
	ok        bool      // whether that last ask succeeded
}

// New checks cfg and builds a client; reg may be nil.
func New(cfg Config, reg prometheus.Registerer) (*Client, error) {
	u, err := parseURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.CacheTime <= 0 {
		cfg.CacheTime = 10 * time.Second
	}
	if cfg.KeepFor < cfg.CacheTime {
		cfg.KeepFor = max(cfg.CacheTime, 10*time.Minute)
	}
	if cfg.StaleWait <= 0 {
		cfg.StaleWait = time.Second
	}
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = 4096
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 64 << 20
	}
	if cfg.MaxCacheBytes <= 0 {
		cfg.MaxCacheBytes = DefaultMaxCacheBytes
	}
	// An answer the cache could not keep would be fetched again for every query; refusing it
	// keeps every answer within the cache's bound.
	cfg.MaxBodyBytes = max(1, min(cfg.MaxBodyBytes, cfg.MaxCacheBytes-entryOverhead-maxKeyBytes))
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = &tls.Config{InsecureSkipVerify: cfg.AllowInsecure, MinVersion: tls.VersionTLS12} //nolint:gosec // the operator's choice
	transport.MaxIdleConnsPerHost = 32
	return &Client{
		cfg: cfg, base: u, now: time.Now, entries: newCache(cfg.MaxEntries, cfg.MaxCacheBytes), metrics: m,
		// Redirects are not followed: an upstream that moves is misconfigured, and following
		// could leave the configured host.
		http: &http.Client{Transport: transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
	}, nil
}

// String is the upstream's address, for logs.
func (c *Client) String() string { return c.base.Redacted() }

// Location is the upstream URL of a path of ours (escaped, as in the request) and its query.
func (c *Client) Location(escapedPath, rawQuery string) string {
	u := *c.base
	loc := u.String() + escapedPath
	if rawQuery != "" {
		loc += "?" + rawQuery
	}
	return loc
}

// Query returns the upstream's answer to route ("/search" or "/categories") with query, which
// is forwarded as it is; key is the normalised query it stands for, under which concurrent and
// repeated queries share one upstream request and one kept answer (so the caller must pass the
// same query for the same key: the canonical one, not a client's spelling). It never takes longer than the timeout, and less when a
// kept answer can stand in; ctx ending makes it return at once with what is kept.
func (c *Client) Query(ctx context.Context, route, query, key string) Answer {
	k := route + "?" + key
	now := c.now()
	c.mu.Lock()
	e := c.entries.get(k)
	c.mu.Unlock()
	if e != nil && now.Sub(e.checkedAt) < c.cfg.CacheTime {
		return c.answer(route, e, e.ok, now)
	}
	ch := c.flight.DoChan(k, func() (any, error) { return c.refresh(k, route, query), nil })
	wait := c.cfg.Timeout
	if e != nil && e.body != nil && now.Sub(e.goodAt) < c.cfg.KeepFor {
		wait = min(wait, c.cfg.StaleWait)
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case r := <-ch:
		fresh := r.Val.(*entry)
		return c.answer(route, fresh, fresh.ok, c.now())
	case <-timer.C:
	case <-ctx.Done():
	}
	// The refresh goes on and fills the entry for the next query.
	return c.answer(route, e, false, c.now())
}

func (c *Client) answer(route string, e *entry, fresh bool, now time.Time) Answer {
	var a Answer
	switch {
	case e != nil && fresh && e.body != nil:
		a = Answer{State: Fresh, Body: e.body, ID: e.id}
	case e != nil && e.body != nil && now.Sub(e.goodAt) < c.cfg.KeepFor:
		a = Answer{State: Stale, Body: e.body, ID: e.id}
	default:
		a = Answer{State: Missing}
	}
	c.metrics.answers.WithLabelValues(route, string(a.State)).Inc()
	return a
}

// refresh asks the upstream and records the outcome under k. It runs detached from the
// request that started it (others may be waiting for it), bounded by the timeout.
func (c *Client) refresh(k, route, query string) *entry {
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.Timeout)
	defer cancel()
	body, err := c.fetch(ctx, route, query)
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.entries.get(k)
	var e *entry
	if err == nil {
		e = &entry{body: body, id: strconv.FormatUint(xxhash.Sum64(body), 36), goodAt: now, checkedAt: now, ok: true}
	} else {
		e = &entry{checkedAt: now}
		if old != nil {
			e.body, e.id, e.goodAt = old.body, old.id, old.goodAt
		}
	}
	evicted := c.entries.put(k, e, func(e *entry) bool { return expired(c.cfg, e, now) })
	for reason, n := range evicted {
		c.metrics.evictions.WithLabelValues(reason).Add(float64(n))
	}
	c.metrics.cacheBytes.Set(float64(c.entries.bytes))
	c.metrics.cacheEntries.Set(float64(c.entries.len()))
	return e
}

// maxKeyBytes is what New leaves of the cache's bound for a query's key and id beside the
// largest body.
const maxKeyBytes = 8 << 10

// errFinal marks an upstream answer that a retry would not change (a 4xx, a body that is not
// a JSON array).
var errFinal = errors.New("final")

// fetch gets one answer, retrying network errors and 5xx with a short backoff (three attempts)
// while the budget lasts. When the budget ends during a pause, the last answer's error is
// returned: it says more than the deadline does.
func (c *Client) fetch(ctx context.Context, route, query string) ([]byte, error) {
	target := c.Location(route, query)
	var body []byte
	var last error
	err := fetchPolicy.Do(ctx, func(actx context.Context) error {
		var outcome string
		body, outcome, last = c.get(actx, target)
		c.metrics.requests.WithLabelValues(route, outcome).Inc()
		return last
	})
	if err != nil && last != nil && ctx.Err() != nil {
		err = last
	}
	return body, err
}

// fetchPolicy retries what a retry can change: not a 4xx, not a body that is no JSON array.
var fetchPolicy = retry.Policy{First: 100 * time.Millisecond, Max: 400 * time.Millisecond, Tries: 3,
	Retryable: func(err error) bool { return !errors.Is(err, errFinal) }}

func (c *Client) get(ctx context.Context, target string) (body []byte, outcome string, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, "invalid", fmt.Errorf("%w: %w", errFinal, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "oci-epr-proxy")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, "network_error", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		err := fmt.Errorf("upstream answered %d", resp.StatusCode)
		if resp.StatusCode < 500 {
			return nil, "http_error", fmt.Errorf("%w: %w", errFinal, err)
		}
		return nil, "http_error", err
	}
	body, err = io.ReadAll(io.LimitReader(resp.Body, c.cfg.MaxBodyBytes+1))
	if err != nil {
		return nil, "network_error", err
	}
	if int64(len(body)) > c.cfg.MaxBodyBytes {
		return nil, "invalid", fmt.Errorf("%w: answer over %d bytes", errFinal, c.cfg.MaxBodyBytes)
	}
	if !isJSONArray(body) {
		return nil, "invalid", fmt.Errorf("%w: answer is not a JSON array", errFinal)
	}
	return body, "ok", nil
}

func isJSONArray(b []byte) bool {
	s := strings.TrimLeft(string(b), " \t\r\n")
	return strings.HasPrefix(s, "[") && json.Valid(b)
}

func redact(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Redacted()
	}
	return "[unparsable URL]"
}
