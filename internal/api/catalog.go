package api

import (
	"fmt"
	"log/slog"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/oci-epr/package-registry/internal/index"
)

// Catalog is the in-memory query index. Writers (Load, Apply, Reset) are
// serialised and build a new immutable Snapshot; readers take the current
// one with a single atomic load and never block.
type Catalog struct {
	log *slog.Logger

	mu   sync.Mutex // serialises writers
	real map[string]map[string]*facts
	// The groups of real are base overlaid by over (a nil value: gone from base). A change
	// copies only over, so applying one version costs O(that name), not O(names); over is
	// folded into a new base once it grows past a fraction of base, which keeps the copy
	// amortised O(1) per change and lookups at two map reads at most.
	base  map[string]*group
	over  map[string]*group
	names []string // sorted names of the groups
	count int      // versions in the groups
	mocks *mockSet // nil when the mock fallback is off
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
	c := &Catalog{log: log, real: map[string]map[string]*facts{}, base: map[string]*group{}}
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
		c.mocks = &mockSet{groups: groups, names: sortedKeys(groups)}
		for _, g := range groups {
			c.mocks.count += len(g.versions)
		}
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
	// Decoding the documents is nearly all of a replica's start-up, and each is independent.
	all := make([]*facts, len(records))
	errs := make([]error, len(records))
	parallel(len(records), func(i int) { all[i], errs[i] = newFacts(records[i]) })
	c.real = map[string]map[string]*facts{}
	skipped := 0
	for i, r := range records {
		if errs[i] != nil {
			c.log.Error("skipping index record with an unusable document", "key", r.Key(), "err", errs[i])
			skipped++
			continue
		}
		c.putFactsLocked(all[i])
	}
	c.base, c.over, c.count = map[string]*group{}, nil, 0
	for name, vs := range c.real {
		g := buildGroup(name, vs, nil)
		c.base[name] = g
		c.count += len(g.versions)
	}
	c.names = sortedKeys(c.base)
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
	over := make(map[string]*group, len(c.over)+len(touched))
	for name, g := range c.over {
		over[name] = g
	}
	var added, removed []string
	for name := range touched {
		old := c.lookup(name)
		if old != nil {
			c.count -= len(old.versions)
		}
		vs := c.real[name]
		if len(vs) == 0 {
			if _, inBase := c.base[name]; inBase {
				over[name] = nil
			} else {
				delete(over, name)
			}
			if old != nil {
				removed = append(removed, name)
			}
			continue
		}
		g := buildGroup(name, vs, old)
		c.count += len(g.versions)
		over[name] = g
		if old == nil {
			added = append(added, name)
		}
	}
	c.over = over
	if len(c.over) > 64+len(c.base)/8 {
		c.compactLocked()
	}
	if len(added)+len(removed) > 0 {
		c.names = c.updatedNames(added, removed)
	}
	c.publishLocked()
}

// lookup is the current group of name, nil if none.
func (c *Catalog) lookup(name string) *group {
	if g, ok := c.over[name]; ok {
		return g
	}
	return c.base[name]
}

// compactLocked folds over into a new base; snapshots keep the maps they were built from.
func (c *Catalog) compactLocked() {
	base := make(map[string]*group, len(c.base)+len(c.over))
	for name, g := range c.base {
		base[name] = g
	}
	for name, g := range c.over {
		if g == nil {
			delete(base, name)
		} else {
			base[name] = g
		}
	}
	c.base, c.over = base, nil
}

// updatedNames returns a new sorted name list with added inserted and removed taken out: a
// merge in one pass, so a batch of many new names (a replica catching up) costs one copy.
func (c *Catalog) updatedNames(added, removed []string) []string {
	sort.Strings(added)
	gone := make(map[string]bool, len(removed))
	for _, n := range removed {
		gone[n] = true
	}
	out := make([]string, 0, len(c.names)+len(added)-len(removed))
	i := 0
	for _, n := range c.names {
		for i < len(added) && added[i] < n {
			out = append(out, added[i])
			i++
		}
		if !gone[n] {
			out = append(out, n)
		}
	}
	return append(out, added[i:]...)
}

// Reset drops every real package: the replica is re-reading the bucket.
func (c *Catalog) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.real = map[string]map[string]*facts{}
	c.base, c.over, c.names, c.count = map[string]*group{}, nil, nil, 0
	c.publishLocked()
}

func (c *Catalog) putLocked(r *index.Record) bool {
	f, err := newFacts(r)
	if err != nil {
		c.log.Error("skipping index record with an unusable document", "key", r.Key(), "err", err)
		return false
	}
	c.putFactsLocked(f)
	return true
}

func (c *Catalog) putFactsLocked(f *facts) {
	vs := c.real[f.rec.Name]
	if vs == nil {
		vs = map[string]*facts{}
		c.real[f.rec.Name] = vs
	}
	vs[f.rec.Version] = f
}

// parallel runs fn(0) … fn(n-1) on as many goroutines as there are CPUs.
func parallel(n int, fn func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				fn(i)
			}
		}()
	}
	wg.Wait()
}

func (c *Catalog) publishLocked() {
	c.gen++
	var next *Snapshot
	if len(c.names) == 0 && c.mocks != nil {
		next = &Snapshot{mock: true, groups: c.mocks.groups, names: c.mocks.names, count: c.mocks.count}
	} else {
		next = &Snapshot{groups: c.base, over: c.over, names: c.names, count: c.count}
	}
	next.gen = c.gen
	prev := c.cur.Load()
	c.cur.Store(next)
	if c.onPublish != nil {
		c.onPublish(prev, next)
	}
}

// mockSet is the built-in fallback, built once.
type mockSet struct {
	groups map[string]*group
	names  []string
	count  int
}
