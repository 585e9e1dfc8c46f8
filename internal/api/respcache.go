package api

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cespare/xxhash/v2"
)

// cachedResponse is a rendered body with the header values it is sent with, prepared once so
// that a hit only writes bytes. Its compressed forms are made on first demand, once each, and
// live as long as it does: a list body is compressed once per snapshot, not per request.
//
// A list body (one made with rerender) keeps its plain bytes only while a client without a
// compressed coding has asked for them: once a compressed form exists and no such client has
// come, the plain body is dropped, and the next plain request renders it again, byte for byte
// (same snapshot, same query), and keeps it. Kibana asks with gzip, so a replica serving only
// Kibanas holds the compressed forms alone (about a twelfth of the plain body).
type cachedResponse struct {
	encoded                       // the identity; body nil when the plain bytes live in plain (list bodies)
	coded   [codings - 1]struct { // gzip, zstd
		once sync.Once
		enc  atomic.Pointer[encoded] // nil: the coding saves nothing (or is not made yet), send the identity
	}
	size int // of the plain body

	// rerender makes the plain body again; nil: the body is never dropped.
	rerender   func() ([]byte, error)
	plain      atomic.Pointer[encoded] // the identity with its body, while held
	plainAsked atomic.Bool             // a client took the plain body: keep it
	renderMu   sync.Mutex              // one re-render at a time
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
	}, size: len(body)}
}

// newListResponse is newCachedResponse for a body rerender can make again (see cachedResponse).
func newListResponse(body []byte, rerender func() ([]byte, error)) *cachedResponse {
	r := newCachedResponse(body)
	if !r.varies() {
		return r // never compressed, so never dropped
	}
	r.rerender = rerender
	held := r.encoded
	r.plain.Store(&held)
	r.encoded.body = nil
	return r
}

// varies reports whether the response's bytes depend on Accept-Encoding.
func (r *cachedResponse) varies() bool { return r.size >= minCompressBytes }

// in returns the body in coding c, compressing it on first use. The ETag of a compressed form
// is the identity's with the coding appended, so a cache holding both forms tells them apart
// and a client revalidating one form never gets a 304 for the other.
func (r *cachedResponse) in(c coding) (*encoded, error) {
	if c == codingIdentity || !r.varies() {
		return r.identity(true)
	}
	slot := &r.coded[c-1]
	var err error
	slot.once.Do(func() {
		var plain *encoded
		if plain, err = r.identity(false); err != nil {
			return
		}
		body := compressBody(c, plain.body)
		if len(body) >= len(plain.body) {
			return
		}
		etag := strings.TrimSuffix(r.etag, `"`) + "-" + c.name() + `"`
		slot.enc.Store(&encoded{body: body, etag: etag, etagH: []string{etag},
			length: []string{strconv.Itoa(len(body))}, ce: []string{c.name()}})
		if !r.plainAsked.Load() {
			r.plain.Store(nil) // a compressed form now serves those who accept it
		}
	})
	if err != nil {
		return nil, err
	}
	enc := slot.enc.Load()
	if enc == nil {
		return r.identity(true)
	}
	return enc, nil
}

// held is how many body bytes r holds now: its plain body while held, and its compressed forms.
func (r *cachedResponse) held() int64 {
	var n int64
	switch {
	case r.rerender == nil:
		n = int64(r.size)
	default:
		if p := r.plain.Load(); p != nil {
			n = int64(len(p.body))
		}
	}
	for i := range r.coded {
		if e := r.coded[i].enc.Load(); e != nil {
			n += int64(len(e.body))
		}
	}
	return n
}

// identity is the plain form, rendered again if it was dropped; keep (a client takes it) keeps
// it from then on. A body rendered again must have the ETag's length, or it is not served.
func (r *cachedResponse) identity(keep bool) (*encoded, error) {
	if r.rerender == nil {
		return &r.encoded, nil
	}
	if keep {
		r.plainAsked.Store(true)
	}
	if e := r.plain.Load(); e != nil {
		return e, nil
	}
	r.renderMu.Lock()
	defer r.renderMu.Unlock()
	if e := r.plain.Load(); e != nil {
		return e, nil
	}
	body, err := r.rerender()
	if err != nil {
		return nil, err
	}
	if len(body) != r.size {
		return nil, fmt.Errorf("a body rendered again has %d bytes, not %d", len(body), r.size)
	}
	e := r.encoded
	e.body = body
	if r.plainAsked.Load() {
		r.plain.Store(&e)
	}
	return &e, nil
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
// distinct query strings clients invent. Before starting over it counts again
// what its responses hold: a list body whose plain bytes were dropped for its
// compressed forms holds a twelfth of what it cost when cached, and two large
// list bodies (at 50,000 versions /search?all=true is 60 MB plain, /search 20
// MB) must not keep evicting each other for bytes no longer held.
type responseCache struct {
	mu      sync.RWMutex
	m       map[cacheKey]*cachedResponse
	cost    map[cacheKey]int64
	aliased map[cacheKey]bool // entries filed under a second key: they cost their key only
	bytes   int64

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
// the same time, and caches it within budget. again: fn may be called again for the same bytes,
// so the plain body may be dropped while compressed forms serve (see cachedResponse).
func (c *responseCache) render(k cacheKey, budget int64, again bool, fn func() ([]byte, error)) (*cachedResponse, error) {
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
	if again {
		f.resp = newListResponse(body, fn)
	} else {
		f.resp = newCachedResponse(body)
	}
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
	c.store(k, r, int64(r.size), false, budget)
}

// alias files a response already cached under another key (the normalised query) under k (the
// query as the client spelled it). It costs the budget only the key, yet still counts, so that
// endless spellings cannot grow the cache without bound.
func (c *responseCache) alias(k cacheKey, r *cachedResponse, budget int64) {
	c.store(k, r, int64(len(k.key))+64, true, budget)
}

func (c *responseCache) store(k cacheKey, r *cachedResponse, cost int64, alias bool, budget int64) {
	if budget < 0 || cost > budget {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m != nil && c.bytes-c.cost[k]+cost > budget {
		c.recount()
	}
	if c.m == nil || c.bytes-c.cost[k]+cost > budget {
		c.m = map[cacheKey]*cachedResponse{}
		c.cost = map[cacheKey]int64{}
		c.aliased = map[cacheKey]bool{}
		c.bytes = 0
	}
	c.bytes -= c.cost[k]
	c.m[k] = r
	c.cost[k] = cost
	c.aliased[k] = alias
	c.bytes += cost
}

// recount sets each response's cost to what it holds now (see responseCache). Called with mu
// held.
func (c *responseCache) recount() {
	c.bytes = 0
	for k, r := range c.m {
		if !c.aliased[k] {
			c.cost[k] = r.held()
		}
		c.bytes += c.cost[k]
	}
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
