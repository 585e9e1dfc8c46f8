package api

import (
	"errors"
	"strconv"
	"strings"
	"sync"

	"github.com/cespare/xxhash/v2"
)

// cachedResponse is a rendered body with the header values it is sent with, prepared once so
// that a hit only writes bytes. Its compressed forms are made on first demand, once each, and
// live as long as it does: a list body is compressed once per snapshot, not per request.
type cachedResponse struct {
	encoded
	coded [codings - 1]struct { // gzip, zstd
		once sync.Once
		enc  *encoded // nil: the coding saves nothing, send the identity
	}
}

// encoded is one form of a body and its header values (shared, read-only slices).
type encoded struct {
	body   []byte
	etag   string // quoted
	etagH  []string
	length []string
	ce     []string // Content-Encoding; nil for the identity
}

func newCachedResponse(body []byte) *cachedResponse {
	// The ETag depends on the bytes only, not on the index generation, so
	// replicas and restarts agree on it and a client's copy stays valid
	// across index changes that do not touch this response. xxhash is fast
	// enough to hash megabyte bodies on every uncached request.
	etag := `"` + strconv.FormatUint(xxhash.Sum64(body), 16) + `"`
	return &cachedResponse{encoded: encoded{
		body:   body,
		etag:   etag,
		etagH:  []string{etag},
		length: []string{strconv.Itoa(len(body))},
	}}
}

// varies reports whether the response's bytes depend on Accept-Encoding.
func (r *cachedResponse) varies() bool { return len(r.body) >= minCompressBytes }

// in returns the body in coding c, compressing it on first use. The ETag of a compressed form
// is the identity's with the coding appended, so a cache holding both forms tells them apart
// and a client revalidating one form never gets a 304 for the other.
func (r *cachedResponse) in(c coding) *encoded {
	if c == codingIdentity || !r.varies() {
		return &r.encoded
	}
	slot := &r.coded[c-1]
	slot.once.Do(func() {
		body := compressBody(c, r.body)
		if len(body) >= len(r.body) {
			return
		}
		etag := strings.TrimSuffix(r.etag, `"`) + "-" + c.name() + `"`
		slot.enc = &encoded{body: body, etag: etag, etagH: []string{etag},
			length: []string{strconv.Itoa(len(body))}, ce: []string{c.name()}}
	})
	if slot.enc == nil {
		return &r.encoded
	}
	return slot.enc
}

// cacheKey separates the routes sharing a cache: the route kind plus the
// raw query.
type cacheKey struct {
	kind byte
	key  string
}

const (
	kindSearch byte = iota + 1
	kindCategories
)

// responseCache belongs to one Snapshot, so an index change invalidates it
// by construction: the next snapshot starts empty. It is bounded in bytes;
// when full it starts over, which keeps memory bounded however many
// distinct query strings clients invent.
type responseCache struct {
	mu    sync.RWMutex
	m     map[cacheKey]*cachedResponse
	cost  map[cacheKey]int64
	bytes int64

	flights sync.Map // cacheKey → *flight: renders under way
}

// flight is one render that concurrent requests for the same key wait for, so the first
// /search?all=true after a change is assembled once, not once per client asking meanwhile.
type flight struct {
	done chan struct{}
	resp *cachedResponse
	err  error
}

// render returns the response cached under k, or renders it once however many callers ask at
// the same time, and caches it within budget.
func (c *responseCache) render(k cacheKey, budget int64, fn func() ([]byte, error)) (*cachedResponse, error) {
	if r, ok := c.get(k); ok {
		return r, nil
	}
	f := &flight{done: make(chan struct{})}
	if other, loaded := c.flights.LoadOrStore(k, f); loaded {
		f = other.(*flight)
		<-f.done
		return f.resp, f.err
	}
	defer func() {
		if f.resp == nil && f.err == nil { // fn panicked: the waiters get an error, not nil
			f.err = errors.New("rendering the response failed")
		}
		c.flights.Delete(k)
		close(f.done)
	}()
	body, err := fn()
	if err != nil {
		f.err = err
		return nil, err
	}
	f.resp = newCachedResponse(body)
	c.put(k, f.resp, budget)
	return f.resp, nil
}

func (c *responseCache) get(k cacheKey) (*cachedResponse, bool) {
	c.mu.RLock()
	r, ok := c.m[k]
	c.mu.RUnlock()
	return r, ok
}

func (c *responseCache) put(k cacheKey, r *cachedResponse, budget int64) {
	c.store(k, r, int64(len(r.body)), budget)
}

// alias files a response already cached under another key (the normalised query) under k (the
// query as the client spelled it). It costs the budget only the key, yet still counts, so that
// endless spellings cannot grow the cache without bound.
func (c *responseCache) alias(k cacheKey, r *cachedResponse, budget int64) {
	c.store(k, r, int64(len(k.key))+64, budget)
}

func (c *responseCache) store(k cacheKey, r *cachedResponse, cost, budget int64) {
	if budget < 0 || cost > budget {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || c.bytes+cost > budget {
		c.m = map[cacheKey]*cachedResponse{}
		c.cost = map[cacheKey]int64{}
		c.bytes = 0
	}
	c.bytes -= c.cost[k]
	c.m[k] = r
	c.cost[k] = cost
	c.bytes += cost
}

// etagMatches implements the weak comparison If-None-Match asks for.
func etagMatches(header, etag string) bool {
	for header != "" {
		header = strings.TrimLeft(header, " \t,")
		if header == "" {
			break
		}
		if header[0] == '*' {
			return true
		}
		header = strings.TrimPrefix(header, "W/")
		if header == "" || header[0] != '"' {
			return false
		}
		end := strings.IndexByte(header[1:], '"')
		if end < 0 {
			return false
		}
		if header[:end+2] == etag {
			return true
		}
		header = header[end+2:]
	}
	return false
}
