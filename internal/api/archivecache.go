package api

import (
	"container/list"
	"context"
	"io"
	"sync"

	"github.com/oci-epr/package-registry/internal/packages"
)

// archiveCache keeps recently used package zips open, reference counted so
// that eviction never closes a file a request is still reading. It is bounded
// by count and by the heap its archives hold (packages.Archive.MemoryCost):
// an archive's index of entries is what costs memory, and a pushed package
// decides how many entries it has, so a count alone does not bound memory.
type archiveCache struct {
	mu       sync.Mutex
	max      int
	maxBytes int64
	bytes    int64 // MemoryCost of the archives in lru
	items    map[string]*cachedArchive
	lru      *list.List // front: most recently used
}

type cachedArchive struct {
	key    string
	ready  chan struct{}
	arch   *packages.Archive
	closer io.Closer
	err    error
	cost   int64
	refs   int
	gone   bool // out of the cache: close when the last reader is done
	elem   *list.Element
}

func newArchiveCache(max int, maxBytes int64) *archiveCache {
	return &archiveCache{max: max, maxBytes: maxBytes, items: map[string]*cachedArchive{}, lru: list.New()}
}

// acquire returns the archive for key, loading it once however many
// requests ask at the same time. hit reports that no load was needed.
func (c *archiveCache) acquire(ctx context.Context, key string, load func() (*packages.Archive, io.Closer, error)) (a *cachedArchive, hit bool, err error) {
	c.mu.Lock()
	if it, ok := c.items[key]; ok {
		it.refs++
		if it.elem != nil {
			c.lru.MoveToFront(it.elem)
		}
		c.mu.Unlock()
		select {
		case <-it.ready: // a loaded archive is served even if ctx has just ended
		default:
			select {
			case <-it.ready:
			case <-ctx.Done():
				c.release(it)
				return nil, false, ctx.Err()
			}
		}
		if it.err != nil {
			c.release(it)
			return nil, false, it.err
		}
		return it, true, nil
	}
	it := &cachedArchive{key: key, ready: make(chan struct{}), refs: 1}
	c.items[key] = it
	c.mu.Unlock()

	arch, closer, err := load()

	c.mu.Lock()
	it.arch, it.closer, it.err = arch, closer, err
	var unused []io.Closer
	if err != nil {
		// Failures are not cached: the next request tries again.
		delete(c.items, key)
		it.gone = true
	} else {
		it.elem = c.lru.PushFront(it)
		it.cost = arch.MemoryCost()
		c.bytes += it.cost
		// The bound is strict: an archive larger than maxBytes on its own is
		// evicted at once and serves only the requests that loaded it.
		for c.lru.Len() > c.max || c.bytes > c.maxBytes {
			if cl := c.evictLocked(c.lru.Back().Value.(*cachedArchive)); cl != nil {
				unused = append(unused, cl)
			}
		}
	}
	close(it.ready)
	c.mu.Unlock()
	for _, cl := range unused {
		_ = cl.Close()
	}
	if err != nil {
		c.release(it)
		return nil, false, err
	}
	return it, false, nil
}

// evictLocked drops it from the cache and returns its closer if nobody
// reads it any more (to be closed outside the lock).
func (c *archiveCache) evictLocked(it *cachedArchive) io.Closer {
	c.lru.Remove(it.elem)
	c.bytes -= it.cost
	it.elem = nil
	delete(c.items, it.key)
	it.gone = true
	if it.refs == 0 {
		return it.closer
	}
	return nil
}

func (c *archiveCache) release(it *cachedArchive) {
	c.mu.Lock()
	it.refs--
	closeNow := it.refs == 0 && it.gone && it.closer != nil
	c.mu.Unlock()
	if closeNow {
		_ = it.closer.Close()
	}
}

// Len reports the cached archives and their accounted heap bytes (tests).
func (c *archiveCache) Len() (n int, bytes int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len(), c.bytes
}
