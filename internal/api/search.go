package api

import (
	"slices"
	"sort"

	"github.com/oci-epr/package-registry/internal/packages"
)

// Result is one /search hit.
type Result struct {
	Entry *Entry
	// Narrowed is set when only policy templates matched the category
	// filter; Templates then holds the templates kept (possibly none).
	Narrowed  bool
	Templates []packages.PolicyTemplate
}

// SearchItem is the /search view of the result, templates narrowed.
func (r Result) SearchItem() packages.SearchItem {
	item := r.Entry.searchView()
	if r.Narrowed {
		item.PolicyTemplates = nil
		for _, t := range r.Templates {
			item.PolicyTemplates = append(item.PolicyTemplates, t.Short())
		}
	}
	return item
}

// Search runs a /search query: results sorted by name (byte order), then
// semver ascending.
func (s *Snapshot) Search(f *Filter) []Result {
	var out []Result
	visit := func(g *group) {
		for _, e := range s.pick(g, f, f.All) {
			if r, ok := categoryMatch(e, f.Category); ok {
				out = append(out, r)
			}
		}
	}
	if f.Package != "" {
		if g := s.group(f.Package); g != nil {
			visit(g)
		}
		return out
	}
	for _, name := range s.names {
		visit(s.group(name))
	}
	return out
}

// pick applies steps 1-3 of the default mode, or the legacy mode, to one
// name: the versions that survive, ascending. Without all it is the latest.
func (s *Snapshot) pick(g *group, f *Filter, all bool) []*Entry {
	vs := g.versions
	if f.Experimental {
		return pickLegacy(vs, f, all)
	}
	if !all {
		// Highest first: usually the newest passes and the loop ends at once.
		for i := len(vs) - 1; i >= 0; i-- {
			if passes(vs[i], f) {
				return vs[i : i+1]
			}
		}
		return nil
	}
	var out []*Entry
	for _, e := range vs {
		if passes(e, f) {
			out = append(out, e)
		}
	}
	return out
}

// passes is steps 1 and 2 of the default mode.
func passes(e *Entry, f *Filter) bool {
	if !f.Prerelease && (e.prerelease || e.Package.IsExperimental()) {
		return false
	}
	if f.KibanaVersion != nil && e.kibana != nil && !e.kibana.Check(f.KibanaVersion) {
		return false
	}
	if f.AgentVersion != nil && e.agent != nil && !e.agent.Check(f.AgentVersion) {
		return false
	}
	if f.Type != "" && e.Package.Type != f.Type {
		return false
	}
	if f.Capabilities != nil {
		for _, c := range e.caps {
			if !slices.Contains(f.Capabilities, c) {
				return false
			}
		}
	}
	for _, d := range f.Discovery {
		if !discoveryMatch(e.Package.Discovery, d) {
			return false
		}
	}
	if f.SpecMin != nil && (e.format == nil || e.format.LessThan(f.SpecMin)) {
		return false
	}
	if f.SpecMax != nil && (e.format == nil || e.format.GreaterThan(f.SpecMax)) {
		return false
	}
	return true
}

func discoveryMatch(d *packages.Discovery, df DiscoveryFilter) bool {
	if d == nil {
		return false
	}
	switch df.Kind {
	case "fields":
		// Every field the package needs must be known to the client.
		if len(d.Fields) == 0 {
			return false
		}
		for _, fld := range d.Fields {
			if !slices.Contains(df.Values, fld.Name) {
				return false
			}
		}
		return true
	case "datasets":
		for _, ds := range d.Datasets {
			if slices.Contains(df.Values, ds.Name) {
				return true
			}
		}
	}
	return false
}

// pickLegacy is the experimental=true mode of old Kibana: only the Kibana
// version, package and type filter; every release level is in.
func pickLegacy(vs []*Entry, f *Filter, all bool) []*Entry {
	legacyPasses := func(e *Entry) bool {
		if f.KibanaVersion != nil && e.kibana != nil && !e.kibana.Check(f.KibanaVersion) {
			return false
		}
		return f.Type == "" || e.Package.Type == f.Type
	}
	if !all {
		var pre *Entry
		for i := len(vs) - 1; i >= 0; i-- {
			e := vs[i]
			if !legacyPasses(e) {
				continue
			}
			if !e.prerelease {
				return vs[i : i+1]
			}
			if pre == nil {
				pre = e
			}
		}
		if pre == nil {
			return nil
		}
		return []*Entry{pre}
	}
	var out []*Entry
	stable := false
	for _, e := range vs {
		if legacyPasses(e) {
			out = append(out, e)
			stable = stable || (!e.prerelease && !e.zeroMajor)
		}
	}
	if stable {
		out = slices.DeleteFunc(out, func(e *Entry) bool { return e.prerelease || e.zeroMajor })
	}
	return out
}

// categoryMatch is step 4: the package's own categories, else its policy
// templates', with c or a subcategory of c. When only templates match, the
// result keeps the templates that list c itself.
func categoryMatch(e *Entry, c string) (Result, bool) {
	r := Result{Entry: e}
	if c == "" {
		return r, true
	}
	p := e.Package
	for _, pc := range p.Categories {
		if packages.IsSubcategory(pc, c) {
			return r, true
		}
	}
	matched := false
	for _, t := range p.PolicyTemplates {
		for _, tc := range t.Categories {
			if packages.IsSubcategory(tc, c) {
				matched = true
			}
		}
	}
	if !matched {
		return r, false
	}
	r.Narrowed = true
	for _, t := range p.PolicyTemplates {
		if slices.Contains(t.Categories, c) {
			r.Templates = append(r.Templates, t)
		}
	}
	return r, true
}

// CategoryCount is one /categories item.
type CategoryCount struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Count       int    `json:"count"`
	ParentID    string `json:"parent_id,omitempty"`
	ParentTitle string `json:"parent_title,omitempty"`
}

// Categories runs a /categories query over the latest version per name.
func (s *Snapshot) Categories(f *Filter) []CategoryCount {
	counts := map[string]int{}
	for _, name := range s.names {
		for _, e := range s.pick(s.group(name), f, false) {
			countCategories(counts, e.Package, f.IncludePolicyTemplates)
		}
	}
	out := make([]CategoryCount, 0, len(counts))
	for id, n := range counts {
		cc := CategoryCount{ID: id, Title: id, Count: n}
		if cat, ok := packages.LookupCategory(id); ok {
			cc.Title = cat.Title
			if parent, ok := packages.LookupCategory(cat.Parent); ok {
				cc.ParentID, cc.ParentTitle = parent.ID, parent.Title
			}
		}
		out = append(out, cc)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// countCategories applies the counting rules of epr-api.md §3 to one
// package; the template rules reproduce EPR's counts, oddities included,
// because Fleet shows these numbers.
func countCategories(counts map[string]int, p *packages.Package, withTemplates bool) {
	for _, c := range p.Categories {
		counts[c]++
	}
	if !withTemplates {
		return
	}
	var seen []string
	for _, t := range p.PolicyTemplates {
		if len(p.PolicyTemplates) == 1 && len(t.Categories) == 0 {
			break
		}
		for _, c := range p.Categories {
			counts[c]++
		}
		for _, c := range t.Categories {
			counts[c]++
			if slices.Contains(seen, c) {
				continue
			}
			seen = append(seen, c)
			if !slices.Contains(p.Categories, c) && !isParentOfAny(c, p.Categories) {
				counts[c]++
			}
		}
	}
}

func isParentOfAny(parent string, cats []string) bool {
	for _, c := range cats {
		if cat, ok := packages.LookupCategory(c); ok && cat.Parent == parent {
			return true
		}
	}
	return false
}
