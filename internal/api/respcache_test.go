package api

import (
	"bytes"
	"testing"
)

// A list body whose plain bytes were dropped for its compressed forms costs the cache what it
// holds, so a second large body does not evict it for bytes no longer held (at 50,000 versions
// /search?all=true and /search together passed the default budget and evicted each other).
func TestCacheCountsWhatListBodiesHold(t *testing.T) {
	const size = 600 << 10
	budget := int64(1 << 20) // room for one plain body of size, not two
	body := func(b byte) func() ([]byte, error) {
		return func() ([]byte, error) { return bytes.Repeat([]byte{b, ' '}, size/2), nil }
	}
	var c responseCache
	all := cacheKey{kindSearch, "all=true"}
	first, err := c.render(all, budget, true, body('a'))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := first.in(codingGzip); err != nil { // a Kibana asks: the plain body is dropped
		t.Fatal(err)
	}
	if first.plain.Load() != nil || first.held() >= size/10 {
		t.Fatalf("the first body holds %d bytes after compression", first.held())
	}
	if _, err := c.render(cacheKey{kindSearch, ""}, budget, true, body('b')); err != nil {
		t.Fatal(err)
	}
	if got, ok := c.get(all); !ok || got != first {
		t.Fatal("the compressed list body was evicted for plain bytes it no longer holds")
	}
	if c.bytes > budget {
		t.Errorf("the cache counts %d bytes, over its budget %d", c.bytes, budget)
	}

	// Two bodies both held plain do not fit: the cache starts over, as before.
	third := cacheKey{kindSearch, "prerelease=true"}
	if _, err := c.render(third, budget, true, body('c')); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.get(third); !ok {
		t.Error("the newest body is not cached")
	}
	if _, ok := c.get(cacheKey{kindSearch, ""}); ok {
		t.Error("two plain bodies over the budget are both cached")
	}
	if c.bytes > budget {
		t.Errorf("the cache counts %d bytes, over its budget %d", c.bytes, budget)
	}
}
