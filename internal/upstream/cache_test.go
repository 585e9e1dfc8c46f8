package upstream

import (
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestCacheEvictsWithinBothBounds(t *testing.T) {
	body := func(n int) *entry { return &entry{body: make([]byte, n), ok: true} }
	never := func(*entry) bool { return false }
	type step struct {
		key     string
		e       *entry
		get     string // touched before the put
		evicted map[string]int
		keys    []string // most recently used first
	}
	tests := []struct {
		name       string
		maxEntries int
		maxBytes   int64
		useless    func(*entry) bool
		steps      []step
	}{
		{"least recently used goes first", 10, 3*(entryOverhead+101) + 50, never, []step{
			{key: "a", e: body(100), keys: []string{"a"}},
			{key: "b", e: body(100), keys: []string{"b", "a"}},
			{key: "c", e: body(100), keys: []string{"c", "b", "a"}},
			{key: "d", e: body(100), get: "a", evicted: map[string]int{evictBytes: 1}, keys: []string{"d", "a", "c"}},
		}},
		{"one large answer pushes out several", 10, 3*(entryOverhead+101) + 50, never, []step{
			{key: "a", e: body(100), keys: []string{"a"}},
			{key: "b", e: body(100), keys: []string{"b", "a"}},
			{key: "c", e: body(600), evicted: map[string]int{evictBytes: 2}, keys: []string{"c"}},
		}},
		{"replacing an entry counts its new size only", 10, 2*(entryOverhead+101) + 10, never, []step{
			{key: "a", e: body(100), keys: []string{"a"}},
			{key: "a", e: body(100), keys: []string{"a"}},
			{key: "b", e: body(100), keys: []string{"b", "a"}},
		}},
		{"entry bound", 2, 1 << 20, never, []step{
			{key: "a", e: body(1), keys: []string{"a"}},
			{key: "b", e: body(1), keys: []string{"b", "a"}},
			{key: "c", e: body(1), evicted: map[string]int{evictEntries: 1}, keys: []string{"c", "b"}},
		}},
		{"expired entries go before used ones", 2, 1 << 20, func(e *entry) bool { return !e.ok }, []step{
			{key: "old", e: &entry{}, keys: []string{"old"}},
			{key: "b", e: body(1), keys: []string{"b", "old"}},
			{key: "c", e: body(1), get: "old", evicted: map[string]int{evictExpired: 1}, keys: []string{"c", "b"}},
		}},
		{"larger than the whole bound: not kept", 10, entryOverhead + 100, never, []step{
			{key: "a", e: body(10), keys: []string{"a"}},
			{key: "a", e: body(200), evicted: map[string]int{evictLarge: 1}, keys: nil},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCache(tt.maxEntries, tt.maxBytes)
			for i, s := range tt.steps {
				if s.get != "" && c.get(s.get) == nil {
					t.Fatalf("step %d: %s not kept", i, s.get)
				}
				if got := c.put(s.key, s.e, tt.useless); !reflect.DeepEqual(got, s.evicted) {
					t.Fatalf("step %d: evicted %v, want %v", i, got, s.evicted)
				}
				var keys []string
				var bytes int64
				for el := c.order.Front(); el != nil; el = el.Next() {
					sl := el.Value.(*slot)
					keys = append(keys, sl.key)
					bytes += cost(sl.key, sl.e)
				}
				if !reflect.DeepEqual(keys, s.keys) || len(c.items) != len(keys) {
					t.Fatalf("step %d: keys %v (map %d), want %v", i, keys, len(c.items), s.keys)
				}
				if bytes != c.bytes || c.bytes > tt.maxBytes || c.len() > tt.maxEntries {
					t.Fatalf("step %d: %d bytes counted, %d held, bounds %d bytes, %d entries", i, c.bytes, bytes, tt.maxBytes, tt.maxEntries)
				}
			}
		})
	}
}

// Distinct queries with large answers keep at most -proxy-cache-bytes; the recently used
// answers stay, the others are asked again, and the operator sees both in the metrics.
func TestAnswersAreBoundedInBytes(t *testing.T) {
	const answer = 48 << 10
	big := "[" + strings.Repeat(" ", answer-2) + "]"
	srv, n := upstreamServer(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(big)) })
	reg := prometheus.NewRegistry()
	const bound = 200 << 10
	c, err := New(Config{URL: srv.URL, CacheTime: time.Hour, MaxCacheBytes: bound}, reg)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if a := c.Query(t.Context(), "/search", fmt.Sprintf("package=p%d", i), fmt.Sprint(i)); a.State != Fresh || len(a.Body) != answer {
			t.Fatalf("query %d: %s, %d bytes", i, a.State, len(a.Body))
		}
		// Query 0 is used again and again: it must outlive the others.
		c.Query(t.Context(), "/search", "package=p0", "0")
	}
	if got := testutil.ToFloat64(c.metrics.cacheBytes); got > bound || got < 3*answer {
		t.Fatalf("epr_proxy_cache_bytes %v, want at most %d (and several answers)", got, bound)
	}
	if got := testutil.ToFloat64(c.metrics.evictions.WithLabelValues(evictBytes)); got < 6 {
		t.Fatalf("evictions{reason=bytes} %v, want ≥ 6 of 10 answers of %d bytes in %d", got, answer, bound)
	}
	asked := n.Load()
	if c.Query(t.Context(), "/search", "package=p0", "0"); n.Load() != asked {
		t.Fatal("the most used answer was evicted")
	}
	if c.Query(t.Context(), "/search", "package=p9", "9"); n.Load() != asked {
		t.Fatal("the newest answer was evicted")
	}
	if c.Query(t.Context(), "/search", "package=p1", "1"); n.Load() != asked+1 {
		t.Fatal("the least recently used answer was still kept")
	}
	// An answer the cache could not hold at all is refused rather than fetched for every query.
	srv2, _ := upstreamServer(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("[" + strings.Repeat(" ", bound) + "]")) })
	c2, err := New(Config{URL: srv2.URL, MaxCacheBytes: bound}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if a := c2.Query(t.Context(), "/search", "", "k"); a.State != Missing {
		t.Fatalf("answer over the cache bound: %s", a.State)
	}
}
