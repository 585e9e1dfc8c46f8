package api

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/Masterminds/semver/v3"

	"github.com/oci-epr/package-registry/internal/index"
	"github.com/oci-epr/package-registry/internal/packages"
)

// Catalog is the in-memory query index. Writers (Load, Apply, Reset) are
// serialised and build a new immutable Snapshot; readers take the current
// one with a single atomic load and never block.
type Catalog struct {
	log *slog.Logger

	mu    sync.Mutex // serialises writers
	real  map[string]map[string]*facts
	group map[string]*group // groups of real, reused while unchanged
	names []string          // sorted keys of group
	mocks *mockSet          // nil when the mock fallback is off
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
	c := &Catalog{log: log, real: map[string]map[string]*facts{}, group: map[string]*group{}}
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
	c.real = map[string]map[string]*facts{}
	skipped := 0
	for _, r := range records {
		if !c.putLocked(r) {
			skipped++
		}
	}
	c.group = map[string]*group{}
	for name, vs := range c.real {
		c.group[name] = buildGroup(name, vs, nil)
	}
	c.names = sortedKeys(c.group)
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
	namesChanged := false
	next := make(map[string]*group, len(c.group)+len(touched))
	for name, g := range c.group {
		next[name] = g
	}
	for name := range touched {
		vs := c.real[name]
		_, had := next[name]
		if len(vs) == 0 {
			delete(next, name)
			namesChanged = namesChanged || had
			continue
		}
		next[name] = buildGroup(name, vs, c.group[name])
		namesChanged = namesChanged || !had
	}
	c.group = next
	if namesChanged {
		c.names = sortedKeys(next)
	}
	c.publishLocked()
}

// Reset drops every real package: the replica is re-reading the bucket.
func (c *Catalog) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.real = map[string]map[string]*facts{}
	c.group = map[string]*group{}
	c.names = nil
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
	if len(c.group) == 0 && c.mocks != nil {
		next = &Snapshot{mock: true, groups: c.mocks.groups, names: c.mocks.names, count: c.mocks.count}
	} else {
		next = &Snapshot{groups: c.group, names: c.names}
		for _, g := range c.group {
			next.count += len(g.versions)
		}
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

// Snapshot is one immutable generation of the index.
type Snapshot struct {
	gen    uint64
	mock   bool
	names  []string // sorted, byte order
	groups map[string]*group
	count  int
	cache  responseCache
}

// Generation increases with every change of the index.
func (s *Snapshot) Generation() uint64 { return s.gen }

// Mock reports whether this generation serves the built-in mock packages.
func (s *Snapshot) Mock() bool { return s.mock }

// Len is the number of package versions served.
func (s *Snapshot) Len() int { return s.count }

// Lookup finds a version by its exact name and version, ignoring every
// filter, as /package, /epr and file routes do.
func (s *Snapshot) Lookup(name, version string) (*Entry, bool) {
	g := s.groups[name]
	if g == nil {
		return nil, false
	}
	e, ok := g.byVersion[version]
	return e, ok
}

// group is every version of one package name.
type group struct {
	versions  []*Entry // semver ascending
	byVersion map[string]*Entry
}

// facts is what is derived once from a record; entries share it.
type facts struct {
	rec        *index.Record
	doc        *packages.Package // as indexed, before deprecation propagation
	mock       bool
	ver        *semver.Version
	prerelease bool
	zeroMajor  bool
	kibana     *semver.Constraints
	agent      *semver.Constraints
	format     *semver.Version // format_version reduced to M.m.0
	caps       []string
}

// Entry is one package version as served.
type Entry struct {
	*facts
	// Package is the document as served: the name's propagated deprecation
	// notice is already applied. Shared; never modify.
	Package *packages.Package

	searchOnce sync.Once
	searchJSON []byte // search item indented for array depth 1
	searchErr  error
}

// Record is the index record the entry came from; for mock packages it is
// synthetic and its blobs live in memory.
func (e *Entry) Record() *index.Record { return e.rec }

// IsMock reports a built-in mock package.
func (e *Entry) IsMock() bool { return e.mock }

func (e *Entry) searchItemJSON() ([]byte, error) {
	e.searchOnce.Do(func() {
		item := e.Package.SearchView()
		e.searchJSON, e.searchErr = encodeArrayElement(&item)
	})
	return e.searchJSON, e.searchErr
}

func newFacts(r *index.Record) (*facts, error) {
	var doc packages.Package
	if err := json.Unmarshal(r.Document, &doc); err != nil {
		return nil, fmt.Errorf("document: %w", err)
	}
	if doc.Name != r.Name || doc.Version != r.Version {
		return nil, fmt.Errorf("document is %s %s, record is %s %s", doc.Name, doc.Version, r.Name, r.Version)
	}
	v, err := packages.ParseVersion(doc.Version)
	if err != nil {
		return nil, err
	}
	f := &facts{rec: r, doc: &doc, ver: v, prerelease: doc.IsPrerelease(), zeroMajor: v.Major() == 0}
	if fv, err := semver.NewVersion(doc.FormatVersion); err == nil {
		f.format = semver.New(fv.Major(), fv.Minor(), 0, "", "")
	}
	if cond := doc.Conditions; cond != nil {
		// A constraint that does not parse cannot be satisfied; the reader
		// rejects such packages, so this only guards hand-made records.
		if cond.Kibana != nil && cond.Kibana.Version != "" {
			if f.kibana, err = semver.NewConstraint(cond.Kibana.Version); err != nil {
				return nil, fmt.Errorf("conditions.kibana.version: %w", err)
			}
		}
		if cond.Agent != nil && cond.Agent.Version != "" {
			if f.agent, err = semver.NewConstraint(cond.Agent.Version); err != nil {
				return nil, fmt.Errorf("conditions.agent.version: %w", err)
			}
		}
		if cond.Elastic != nil {
			f.caps = cond.Elastic.Capabilities
		}
	}
	return f, nil
}

// buildGroup orders the versions of one name and applies deprecation
// propagation: the notice of the highest deprecated version stands for all
// versions. Entries of old whose document would not change are reused, so
// their encoded search items survive unrelated changes.
func buildGroup(name string, vs map[string]*facts, old *group) *group {
	list := make([]*facts, 0, len(vs))
	for _, f := range vs {
		list = append(list, f)
	}
	sort.Slice(list, func(i, j int) bool {
		if c := list[i].ver.Compare(list[j].ver); c != 0 {
			return c < 0
		}
		// Versions differing only in build metadata compare equal in
		// semver; keep a stable order anyway.
		return list[i].doc.Version < list[j].doc.Version
	})
	var notice *packages.Deprecated
	for i := len(list) - 1; i >= 0; i-- {
		if d := list[i].doc.Deprecated; d != nil {
			notice = d
			break
		}
	}
	g := &group{versions: make([]*Entry, len(list)), byVersion: make(map[string]*Entry, len(list))}
	for i, f := range list {
		want := f.doc.Deprecated
		if notice != nil {
			want = notice
		}
		var e *Entry
		if old != nil {
			if o := old.byVersion[f.doc.Version]; o != nil && o.facts == f && o.Package.Deprecated == want {
				e = o
			}
		}
		if e == nil {
			doc := f.doc
			if doc.Deprecated != want {
				cp := *doc
				cp.Deprecated = want
				doc = &cp
			}
			e = &Entry{facts: f, Package: doc}
		}
		g.versions[i] = e
		g.byVersion[f.doc.Version] = e
	}
	return g
}

func sortedKeys(m map[string]*group) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
