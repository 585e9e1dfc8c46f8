package api

import (
	"encoding/json"
	"fmt"
	"sort"
	"sync"

	"github.com/Masterminds/semver/v3"

	"github.com/oci-epr/package-registry/internal/index"
	"github.com/oci-epr/package-registry/internal/packages"
)

// Snapshot is one immutable generation of the index.
type Snapshot struct {
	gen    uint64
	mock   bool
	names  []string // sorted, byte order
	groups map[string]*group
	over   map[string]*group // overrides groups; a nil value is a name gone (see Catalog)
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
	g := s.group(name)
	if g == nil {
		return nil, false
	}
	e, ok := g.byVersion[version]
	return e, ok
}

func (s *Snapshot) group(name string) *group {
	if g, ok := s.over[name]; ok {
		return g
	}
	return s.groups[name]
}

// group is every version of one package name.
type group struct {
	versions  []*Entry // semver ascending
	byVersion map[string]*Entry
}

// facts is what is derived once from a record; entries share it.
type facts struct {
	rec        *index.Record
	doc        *packages.Package // searchFields of the document as indexed, before deprecation propagation
	streams    []packages.ShortDataStream
	packed     []byte // the whole document as indexed, compressDocument'd
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
	// Package is the document as served, with the fields /search and the filters read
	// (searchFields): the name's propagated deprecation notice is already applied. Shared;
	// never modify. /package/<n>/<v>/ renders the whole document (packageResponse).
	Package *packages.Package

	searchOnce sync.Once
	searchJSON []byte // search item indented for array depth 1
	searchErr  error

	// The /package/<n>/<v>/ response lives with the entry rather than in a snapshot's response
	// cache: entries outlive the snapshots that share them, so a change to one version leaves
	// the rendered documents of all the others in place.
	pkgOnce sync.Once
	pkgResp *cachedResponse
	pkgErr  error
}

// packageResponse is the rendered package document; keep false renders it afresh each time
// (the response cache switched off).
func (e *Entry) packageResponse(keep bool) (*cachedResponse, error) {
	render := func() (*cachedResponse, error) {
		doc, err := fullDocument(e.packed)
		if err != nil {
			return nil, err
		}
		doc.Deprecated = e.Package.Deprecated // propagated from the name's highest deprecated version
		body, err := packages.Encode(doc)
		if err != nil {
			return nil, err
		}
		return newCachedResponse(body), nil
	}
	if !keep {
		return render()
	}
	e.pkgOnce.Do(func() { e.pkgResp, e.pkgErr = render() })
	return e.pkgResp, e.pkgErr
}

// Record is the index record the entry came from, without its Document (the
// parsed Package holds it); for mock packages it is synthetic and its blobs
// live in memory.
func (e *Entry) Record() *index.Record { return e.rec }

// IsMock reports a built-in mock package.
func (e *Entry) IsMock() bool { return e.mock }

func (e *Entry) searchItemJSON() ([]byte, error) {
	e.searchOnce.Do(func() {
		item := e.searchView()
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
	// The raw document is kept compressed (packed) and the parsed one only in part (searchFields):
	// the record's copy would hold every version's JSON a second time.
	kept := *r
	kept.Document = nil
	f := &facts{rec: &kept, packed: compressDocument(r.Document), ver: v,
		prerelease: doc.IsPrerelease(), zeroMajor: v.Major() == 0}
	f.doc, f.streams = searchFields(&doc)
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
