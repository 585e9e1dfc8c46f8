package api

import (
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/oci-epr/package-registry/internal/index"
)

// Catalog is the in-memory query index. Writers (Load, Apply, Reset) are
// serialised and build a new immutable Snapshot; readers take the current
// one with a single atomic load and never block.
type Catalog struct {
	log *slog.Logger

	mu    sync.Mutex // serialises writers
	real  map[string]map[string]*facts
	group *groupMap // groups of real, reused while unchanged
	mocks *groupMap // nil when the mock fallback is off
	gen   uint64

	cur atomic.Pointer[Snapshot]
	// onPublish runs under mu after each swap; the server hangs metrics and
	// the mock-mode log on it.
	onPublish func(prev, next *Snapshot)
}

// NewCatalog returns an empty catalog. mocks, if not empty, are served
// whenever no real package is indexed.
func NewCatalog(log *slog.Logger, mocks []*index.Record) (*Catalog, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Catalog{log: log, real: map[string]map[string]*facts{}, group: newGroupMap(nil)}
	if len(mocks) > 0 {
		byName := map[string]map[string]*facts{}
		for _, r := range mocks {
			f, err := newFacts(r)
			if err != nil {
				return nil, fmt.Errorf("mock package %s: %w", r.Key(), err)
			}
			f.mock = true
			if byName[f.doc.Name] == nil {
				byName[f.doc.Name] = map[string]*facts{}
			}
			byName[f.doc.Name][f.doc.Version] = f
		}
		groups := map[string]*group{}
		for name, vs := range byName {
			groups[name] = buildGroup(name, vs, nil)
		}
		c.mocks = newGroupMap(groups)
	}
	c.mu.Lock()
	c.publishLocked()
	c.mu.Unlock()
	return c, nil
}

// Snapshot returns the current generation of the index.
func (c *Catalog) Snapshot() *Snapshot { return c.cur.Load() }

// Load replaces the whole index with records, as read from the store at
// start-up. Records whose document does not decode are logged and skipped
// (one bad record must not keep the rest from being served); the number
// skipped is returned.
func (c *Catalog) Load(records []*index.Record) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.real = map[string]map[string]*facts{}
	skipped := 0
	for _, r := range records {
		if !c.putLocked(r) {
			skipped++
		}
	}
	groups := make(map[string]*group, len(c.real))
	for name, vs := range c.real {
		groups[name] = buildGroup(name, vs, nil)
	}
	c.group = newGroupMap(groups)
	c.publishLocked()
	return skipped
}

// Apply applies a batch of index changes (Record nil = delete).
func (c *Catalog) Apply(changes []index.Change) {
	if len(changes) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	touched := map[string]bool{}
	for _, ch := range changes {
		if ch.Record == nil {
			name, version, ok := index.SplitKey(ch.Key)
			if !ok {
				c.log.Warn("ignoring index delete with a malformed key", "key", ch.Key)
				continue
			}
			if vs := c.real[name]; vs != nil {
				delete(vs, version)
				if len(vs) == 0 {
					delete(c.real, name)
				}
			}
			touched[name] = true
			continue
		}
		if c.putLocked(ch.Record) {
			touched[ch.Record.Name] = true
		}
	}
	if len(touched) == 0 {
		return
	}
	next := make(map[string]*group, len(touched))
	for name := range touched {
		if vs := c.real[name]; len(vs) > 0 {
			next[name] = buildGroup(name, vs, c.group.get(name))
		} else {
			next[name] = nil
		}
	}
	c.group = c.group.with(next)
	c.publishLocked()
}

// Reset drops every real package: the replica is re-reading the bucket.
func (c *Catalog) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.real = map[string]map[string]*facts{}
	c.group = newGroupMap(nil)
	c.publishLocked()
}

func (c *Catalog) putLocked(r *index.Record) bool {
	f, err := newFacts(r)
	if err != nil {
		c.log.Error("skipping index record with an unusable document", "key", r.Key(), "err", err)
		return false
	}
	vs := c.real[r.Name]
	if vs == nil {
		vs = map[string]*facts{}
		c.real[r.Name] = vs
	}
	vs[r.Version] = f
	return true
}

func (c *Catalog) publishLocked() {
	c.gen++
	var next *Snapshot
	if c.group.len() == 0 && c.mocks != nil {
		next = &Snapshot{mock: true, groups: c.mocks}
	} else {
		next = &Snapshot{groups: c.group}
	}
	next.gen = c.gen
	prev := c.cur.Load()
	c.cur.Store(next)
	if c.onPublish != nil {
		c.onPublish(prev, next)
	}
}
