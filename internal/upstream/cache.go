package upstream

import (
	"container/list"
	"time"
)

// entryOverhead is what one remembered query costs besides its key and body (the entry, its list
// element and map slot), so that many empty answers count against the byte bound too.
const entryOverhead = 256

// Eviction reasons, the reason label of epr_proxy_cache_evictions_total.
const (
	evictExpired = "expired"   // nothing left to offer: past the cache time, its body past KeepFor
	evictBytes   = "bytes"     // the least recently used entry, to stay within MaxCacheBytes
	evictEntries = "entries"   // the least recently used entry, to stay within MaxEntries
	evictLarge   = "too_large" // an answer (with its key) larger than the whole byte bound, not kept
)

// cache remembers what is known of each query, least recently used first out, within a count
// and a byte bound. It is not safe for concurrent use; Client holds its lock around it.
type cache struct {
	maxEntries int
	maxBytes   int64
	items      map[string]*list.Element // of *slot
	order      *list.List               // front: most recently used
	bytes      int64
}

type slot struct {
	key string
	e   *entry
}

func newCache(maxEntries int, maxBytes int64) *cache {
	return &cache{maxEntries: maxEntries, maxBytes: maxBytes, items: map[string]*list.Element{}, order: list.New()}
}

func cost(key string, e *entry) int64 { return int64(len(key)+len(e.body)+len(e.id)) + entryOverhead }

// get returns the entry of key, or nil, and marks it used.
func (c *cache) get(key string) *entry {
	el := c.items[key]
	if el == nil {
		return nil
	}
	c.order.MoveToFront(el)
	return el.Value.(*slot).e
}

// put replaces key's entry and evicts until both bounds hold again: first entries that have
// nothing left to offer (useless), then the least recently used. An entry larger than the whole
// byte bound is not kept (New keeps bodies below it, so only a huge key can be). It reports what
// it evicted, by reason.
func (c *cache) put(key string, e *entry, useless func(*entry) bool) map[string]int {
	if cost(key, e) > c.maxBytes {
		if el := c.items[key]; el != nil {
			c.remove(el)
		}
		return map[string]int{evictLarge: 1}
	}
	if el := c.items[key]; el != nil {
		c.bytes -= cost(key, el.Value.(*slot).e)
		el.Value.(*slot).e = e
		c.order.MoveToFront(el)
	} else {
		c.items[key] = c.order.PushFront(&slot{key, e})
	}
	c.bytes += cost(key, e)
	var evicted map[string]int
	count := func(reason string) {
		if evicted == nil {
			evicted = map[string]int{}
		}
		evicted[reason]++
	}
	if c.over() {
		for el := c.order.Back(); el != nil; {
			prev := el.Prev()
			if s := el.Value.(*slot); s.key != key && useless(s.e) {
				c.remove(el)
				count(evictExpired)
			}
			el = prev
		}
	}
	for c.over() && c.order.Len() > 1 {
		reason := evictBytes
		if c.order.Len() > c.maxEntries {
			reason = evictEntries
		}
		el := c.order.Back()
		if el.Value.(*slot).key == key {
			el = el.Prev()
		}
		c.remove(el)
		count(reason)
	}
	return evicted
}

func (c *cache) over() bool { return c.order.Len() > c.maxEntries || c.bytes > c.maxBytes }

func (c *cache) remove(el *list.Element) {
	s := el.Value.(*slot)
	c.bytes -= cost(s.key, s.e)
	delete(c.items, s.key)
	c.order.Remove(el)
}

func (c *cache) len() int { return c.order.Len() }

// expired reports whether e has nothing left to offer at now: the upstream is due to be asked
// again and its body, if any, is too old to stand in.
func expired(cfg Config, e *entry, now time.Time) bool {
	return now.Sub(e.checkedAt) >= cfg.CacheTime && (e.body == nil || now.Sub(e.goodAt) >= cfg.KeepFor)
}
