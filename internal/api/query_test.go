package api

import (
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/oci-epr/package-registry/internal/index"
	"github.com/oci-epr/package-registry/internal/packages"
)

// pk is a minimal valid document; mods adjust it.
func pk(name, version string, mods ...func(*packages.Package)) *packages.Package {
	p := &packages.Package{
		Name: name, Version: version, Title: name, Description: name + " package",
		Type: packages.TypeIntegration, Release: packages.ReleaseGA, FormatVersion: "3.0.0",
		Download: "/epr/" + name + "/" + name + "-" + version + ".zip",
		Path:     "/package/" + name + "/" + version,
		Readme:   "/package/" + name + "/" + version + "/docs/README.md",
		License:  "basic",
	}
	if p.IsPrerelease() || strings.HasPrefix(version, "0.") {
		p.Release = packages.ReleaseBeta
	}
	for _, m := range mods {
		m(p)
	}
	return p
}

func cats(c ...string) func(*packages.Package) {
	return func(p *packages.Package) { p.Categories = c }
}

func kibana(c string) func(*packages.Package) {
	return func(p *packages.Package) {
		if p.Conditions == nil {
			p.Conditions = &packages.Conditions{}
		}
		p.Conditions.Kibana = &packages.KibanaConditions{Version: c}
	}
}

func agentCond(c string) func(*packages.Package) {
	return func(p *packages.Package) {
		if p.Conditions == nil {
			p.Conditions = &packages.Conditions{}
		}
		p.Conditions.Agent = &packages.AgentConditions{Version: c}
	}
}

func capabilities(c ...string) func(*packages.Package) {
	return func(p *packages.Package) {
		if p.Conditions == nil {
			p.Conditions = &packages.Conditions{}
		}
		p.Conditions.Elastic = &packages.ElasticConditions{Subscription: "basic", Capabilities: c}
	}
}

func release(r string) func(*packages.Package) { return func(p *packages.Package) { p.Release = r } }

func ptype(t string) func(*packages.Package) { return func(p *packages.Package) { p.Type = t } }

func format(v string) func(*packages.Package) {
	return func(p *packages.Package) { p.FormatVersion = v }
}

func deprecated(since, desc string) func(*packages.Package) {
	return func(p *packages.Package) { p.Deprecated = &packages.Deprecated{Since: since, Description: desc} }
}

func discoveryOf(fields, datasets []string) func(*packages.Package) {
	return func(p *packages.Package) {
		d := &packages.Discovery{}
		for _, f := range fields {
			d.Fields = append(d.Fields, packages.DiscoveryName{Name: f})
		}
		for _, f := range datasets {
			d.Datasets = append(d.Datasets, packages.DiscoveryName{Name: f})
		}
		p.Discovery = d
	}
}

func templates(ts ...packages.PolicyTemplate) func(*packages.Package) {
	return func(p *packages.Package) { p.PolicyTemplates = ts }
}

func tpl(name string, categories ...string) packages.PolicyTemplate {
	return packages.PolicyTemplate{Name: name, Title: name, Description: name, Categories: categories}
}

func catalogOf(t *testing.T, docs ...*packages.Package) *Catalog {
	t.Helper()
	c, err := NewCatalog(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var recs []*index.Record
	for _, d := range docs {
		recs = append(recs, docRecord(t, d))
	}
	if n := c.Load(recs); n != 0 {
		t.Fatalf("%d records skipped", n)
	}
	return c
}

func search(t *testing.T, c *Catalog, query string) []string {
	t.Helper()
	q, err := url.ParseQuery(query)
	if err != nil {
		t.Fatal(err)
	}
	f, err := ParseSearchQuery(q, true)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	out := []string{}
	for _, r := range c.Snapshot().Search(f) {
		s := r.Entry.Package.Name + "@" + r.Entry.Package.Version
		if r.Narrowed {
			var names []string
			for _, tp := range r.Templates {
				names = append(names, tp.Name)
			}
			s += "[" + strings.Join(names, ",") + "]"
		}
		out = append(out, s)
	}
	return out
}

type queryCase struct {
	query string
	want  []string
}

func runQueries(t *testing.T, c *Catalog, cases []queryCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.query, func(t *testing.T) {
			got := search(t, c, tc.query)
			if tc.want == nil {
				tc.want = []string{}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("search %q\n got %v\nwant %v", tc.query, got, tc.want)
			}
		})
	}
}

func TestSearchReleaseAndPrerelease(t *testing.T) {
	c := catalogOf(t,
		pk("alpha", "1.0.0"), pk("alpha", "1.1.0"), pk("alpha", "1.2.0-rc1"),
		pk("zero", "0.1.0"), pk("zero", "0.2.0"),
		pk("lab", "1.0.0", release(packages.ReleaseExperimental)),
		pk("pre", "2.0.0-beta1"),
		pk("beta", "1.0.0", release(packages.ReleaseBeta)),
	)
	runQueries(t, c, []queryCase{
		// 0.x is not prerelease; experimental and prerelease are hidden.
		{"", []string{"alpha@1.1.0", "beta@1.0.0", "zero@0.2.0"}},
		{"prerelease=false", []string{"alpha@1.1.0", "beta@1.0.0", "zero@0.2.0"}},
		{"prerelease=true", []string{"alpha@1.2.0-rc1", "beta@1.0.0", "lab@1.0.0", "pre@2.0.0-beta1", "zero@0.2.0"}},
		{"prerelease=1", []string{"alpha@1.2.0-rc1", "beta@1.0.0", "lab@1.0.0", "pre@2.0.0-beta1", "zero@0.2.0"}},
		{"all=true", []string{"alpha@1.0.0", "alpha@1.1.0", "beta@1.0.0", "zero@0.1.0", "zero@0.2.0"}},
		{"all=true&prerelease=true", []string{"alpha@1.0.0", "alpha@1.1.0", "alpha@1.2.0-rc1", "beta@1.0.0", "lab@1.0.0",
			"pre@2.0.0-beta1", "zero@0.1.0", "zero@0.2.0"}},
		{"package=pre", nil},
		{"package=pre&prerelease=true", []string{"pre@2.0.0-beta1"}},
		{"package=alpha&prerelease=true", []string{"alpha@1.2.0-rc1"}},
		{"package=nothing", nil},
		// Only the first value of a key counts; an empty value is no value.
		{"prerelease=true&prerelease=false", []string{"alpha@1.2.0-rc1", "beta@1.0.0", "lab@1.0.0", "pre@2.0.0-beta1", "zero@0.2.0"}},
		{"package=&package=alpha", []string{"alpha@1.1.0", "beta@1.0.0", "zero@0.2.0"}},
		{"internal=true&unknown=1", []string{"alpha@1.1.0", "beta@1.0.0", "zero@0.2.0"}},
	})
}

func TestSearchSortOrder(t *testing.T) {
	c := catalogOf(t,
		pk("ab", "1.0.0"), pk("a_b", "1.0.0"), pk("a2", "1.0.0"), pk("a", "1.0.0"),
		pk("v", "1.10.0"), pk("v", "1.9.0"), pk("v", "1.2.0"), pk("v", "10.0.0"), pk("v", "2.0.0"),
	)
	runQueries(t, c, []queryCase{
		{"", []string{"a@1.0.0", "a2@1.0.0", "a_b@1.0.0", "ab@1.0.0", "v@10.0.0"}},
		{"package=v&all=true", []string{"v@1.2.0", "v@1.9.0", "v@1.10.0", "v@2.0.0", "v@10.0.0"}},
	})
}

func TestSearchConditions(t *testing.T) {
	c := catalogOf(t,
		pk("kb", "1.0.0", kibana("^8.0.0")),
		pk("kb", "2.0.0", kibana("^9.0.0")),
		pk("kb", "3.0.0-rc1", kibana("^8.0.0")),
		pk("free", "1.0.0"),
		pk("ag", "1.0.0", agentCond(">=8.10.0")),
		pk("ag", "1.1.0", agentCond(">=8.15.0")),
	)
	runQueries(t, c, []queryCase{
		{"", []string{"ag@1.1.0", "free@1.0.0", "kb@2.0.0"}},
		// The newest fails the Kibana constraint: an older passing one is
		// returned. Packages without the condition always pass.
		{"kibana.version=8.12.0", []string{"ag@1.1.0", "free@1.0.0", "kb@1.0.0"}},
		{"kibana.version=9.1.0", []string{"ag@1.1.0", "free@1.0.0", "kb@2.0.0"}},
		{"kibana.version=7.17.0", []string{"ag@1.1.0", "free@1.0.0"}},
		// Lenient versions.
		{"kibana.version=8", []string{"ag@1.1.0", "free@1.0.0", "kb@1.0.0"}},
		{"kibana.version=v8.1.0", []string{"ag@1.1.0", "free@1.0.0", "kb@1.0.0"}},
		{"kibana.version=8.12.0&prerelease=true", []string{"ag@1.1.0", "free@1.0.0", "kb@3.0.0-rc1"}},
		{"kibana.version=8.12.0&all=true", []string{"ag@1.0.0", "ag@1.1.0", "free@1.0.0", "kb@1.0.0"}},
		{"agent.version=8.12.0", []string{"ag@1.0.0", "free@1.0.0", "kb@2.0.0"}},
		{"agent.version=8.9.0", []string{"free@1.0.0", "kb@2.0.0"}},
		{"agent.version=8.16.0&kibana.version=8.16.0", []string{"ag@1.1.0", "free@1.0.0", "kb@1.0.0"}},
	})
}

func TestSearchPackageTypeCapabilities(t *testing.T) {
	c := catalogOf(t,
		pk("plain", "1.0.0"),
		pk("sec", "1.0.0", capabilities("security")),
		pk("both", "1.0.0", capabilities("security", "observability")),
		pk("inp", "1.0.0", ptype(packages.TypeInput)),
		pk("cont", "1.0.0", ptype(packages.TypeContent)),
	)
	runQueries(t, c, []queryCase{
		{"type=input", []string{"inp@1.0.0"}},
		{"type=integration", []string{"both@1.0.0", "plain@1.0.0", "sec@1.0.0"}},
		{"package=sec", []string{"sec@1.0.0"}},
		{"package=sec&type=input", nil},
		// Every capability a package lists must be in the query.
		{"capabilities=security", []string{"cont@1.0.0", "inp@1.0.0", "plain@1.0.0", "sec@1.0.0"}},
		{"capabilities=security,observability", []string{"both@1.0.0", "cont@1.0.0", "inp@1.0.0", "plain@1.0.0", "sec@1.0.0"}},
		{"capabilities=observability,security,uptime", []string{"both@1.0.0", "cont@1.0.0", "inp@1.0.0", "plain@1.0.0", "sec@1.0.0"}},
		{"capabilities=none", []string{"cont@1.0.0", "inp@1.0.0", "plain@1.0.0"}},
		// No trimming around commas.
		{"capabilities=security,%20observability", []string{"cont@1.0.0", "inp@1.0.0", "plain@1.0.0", "sec@1.0.0"}},
		{"capabilities=", []string{"both@1.0.0", "cont@1.0.0", "inp@1.0.0", "plain@1.0.0", "sec@1.0.0"}},
	})
}

func TestSearchDiscoveryAndSpec(t *testing.T) {
	c := catalogOf(t,
		pk("fields", "1.0.0", discoveryOf([]string{"host.ip", "acme.id"}, nil), format("3.0.5")),
		pk("sets", "1.0.0", discoveryOf(nil, []string{"acme.events", "acme.audit"}), format("2.9.0")),
		pk("both", "1.0.0", discoveryOf([]string{"host.ip"}, []string{"acme.events"}), format("3.1.0")),
		pk("none", "1.0.0", format("3.3.2")),
	)
	runQueries(t, c, []queryCase{
		{"discovery=fields:host.ip,acme.id,other", []string{"both@1.0.0", "fields@1.0.0"}},
		{"discovery=fields:host.ip", []string{"both@1.0.0"}},
		{"discovery=fields:acme.id", nil},
		{"discovery=datasets:acme.audit,x", []string{"sets@1.0.0"}},
		{"discovery=datasets:acme.events", []string{"both@1.0.0", "sets@1.0.0"}},
		{"discovery=datasets:nope", nil},
		// Repeated discovery parameters are ANDed.
		{"discovery=fields:host.ip&discovery=datasets:acme.events", []string{"both@1.0.0"}},
		{"discovery=fields:host.ip,acme.id&discovery=datasets:acme.events", []string{"both@1.0.0"}},
		// spec.min/max compare format_version reduced to major.minor.0,
		// inclusive at both ends.
		{"spec.min=3.0", []string{"both@1.0.0", "fields@1.0.0", "none@1.0.0"}},
		{"spec.min=3.1", []string{"both@1.0.0", "none@1.0.0"}},
		{"spec.max=3.0", []string{"fields@1.0.0", "sets@1.0.0"}},
		{"spec.max=2.9", []string{"sets@1.0.0"}},
		{"spec.min=3.0&spec.max=3.1", []string{"both@1.0.0", "fields@1.0.0"}},
		{"spec.min=3.3&spec.max=3.3", []string{"none@1.0.0"}},
	})
}

func TestSearchCategory(t *testing.T) {
	c := catalogOf(t,
		// The newest version lost the category: the older one is hidden.
		pk("moved", "1.0.0", cats("security")), pk("moved", "2.0.0", cats("network")),
		pk("mon", "1.0.0", cats("monitoring")),
		pk("obs", "1.0.0", cats("observability")),
		pk("tpl", "1.0.0", cats("network"), templates(tpl("a", "security"), tpl("b", "iam"), tpl("c", "network"), tpl("d", "security", "iam"))),
		pk("sub", "1.0.0", templates(tpl("x", "monitoring"), tpl("y", "web"))),
		pk("odd", "1.0.0", templates(tpl("z", "not_in_table"))),
	)
	runQueries(t, c, []queryCase{
		{"category=security", []string{"tpl@1.0.0[a,d]"}},
		{"category=network", []string{"moved@2.0.0", "tpl@1.0.0"}},
		{"category=network&all=true", []string{"moved@2.0.0", "tpl@1.0.0"}},
		{"category=security&all=true", []string{"moved@1.0.0", "tpl@1.0.0[a,d]"}},
		// A parent matches its subcategories; narrowing keeps templates that
		// list the parent itself, which here is none.
		{"category=observability", []string{"mon@1.0.0", "obs@1.0.0", "sub@1.0.0[]"}},
		{"category=monitoring", []string{"mon@1.0.0", "sub@1.0.0[x]"}},
		{"category=iam", []string{"tpl@1.0.0[b,d]"}},
		{"category=not_in_table", []string{"odd@1.0.0[z]"}},
		{"category=nothing", nil},
	})
}

func TestSearchLegacyExperimental(t *testing.T) {
	c := catalogOf(t,
		pk("stable", "0.9.0"), pk("stable", "1.0.0"), pk("stable", "1.1.0-rc1"),
		pk("early", "0.1.0"), pk("early", "0.2.0-rc1"),
		pk("rconly", "1.0.0-rc1"), pk("rconly", "1.0.0-rc2"),
		pk("lab", "1.0.0", release(packages.ReleaseExperimental)),
		pk("cond", "1.0.0", agentCond(">=99.0.0"), capabilities("x"), discoveryOf([]string{"f"}, nil), format("1.0.0"), cats("security")),
		pk("kb", "1.0.0", kibana("^7.0.0")), pk("kb", "2.0.0", kibana("^8.0.0")),
	)
	runQueries(t, c, []queryCase{
		// Latest = highest non-prerelease, else highest prerelease; every
		// release level is in; agent, capabilities, discovery and spec are
		// ignored.
		{"experimental=true", []string{"cond@1.0.0", "early@0.1.0", "kb@2.0.0", "lab@1.0.0", "rconly@1.0.0-rc2", "stable@1.0.0"}},
		{"experimental=true&prerelease=false", []string{"cond@1.0.0", "early@0.1.0", "kb@2.0.0", "lab@1.0.0", "rconly@1.0.0-rc2", "stable@1.0.0"}},
		{"experimental=true&agent.version=1.0.0&capabilities=none&discovery=fields:zzz&spec.max=0.1",
			[]string{"cond@1.0.0", "early@0.1.0", "kb@2.0.0", "lab@1.0.0", "rconly@1.0.0-rc2", "stable@1.0.0"}},
		{"experimental=true&kibana.version=7.17.0", []string{"cond@1.0.0", "early@0.1.0", "kb@1.0.0", "lab@1.0.0", "rconly@1.0.0-rc2", "stable@1.0.0"}},
		{"experimental=true&type=content", nil},
		{"experimental=true&package=stable", []string{"stable@1.0.0"}},
		{"experimental=true&category=security", []string{"cond@1.0.0"}},
		// all=true: a name with a version that is neither prerelease nor 0.x
		// loses its prerelease and 0.x versions; the others keep them all.
		{"experimental=true&all=true&package=stable", []string{"stable@1.0.0"}},
		{"experimental=true&all=true&package=early", []string{"early@0.1.0", "early@0.2.0-rc1"}},
		{"experimental=true&all=true&package=rconly", []string{"rconly@1.0.0-rc1", "rconly@1.0.0-rc2"}},
		{"experimental=true&all=true&package=kb", []string{"kb@1.0.0", "kb@2.0.0"}},
		{"experimental=false", []string{"cond@1.0.0", "early@0.1.0", "kb@2.0.0", "stable@1.0.0"}},
	})
}

func TestDeprecationPropagation(t *testing.T) {
	withTplNotice := func(p *packages.Package) {
		p.PolicyTemplates = []packages.PolicyTemplate{{Name: "t", Title: "t", Description: "t",
			Deprecated: &packages.Deprecated{Since: "1.0.0", Description: "template gone"}}}
	}
	c := catalogOf(t,
		pk("old", "1.0.0", deprecated("1.0.0", "first notice"), withTplNotice),
		pk("old", "1.1.0", deprecated("1.1.0", "second notice")),
		pk("old", "1.2.0"),
		pk("old", "2.0.0-rc1"),
		pk("fine", "1.0.0", withTplNotice),
	)
	notice := func(name, version string) string {
		e, ok := c.Snapshot().Lookup(name, version)
		if !ok {
			t.Fatalf("%s %s missing", name, version)
		}
		if e.Package.Deprecated == nil {
			return ""
		}
		return e.Package.Deprecated.Description
	}
	for _, v := range []string{"1.0.0", "1.1.0", "1.2.0", "2.0.0-rc1"} {
		if got := notice("old", v); got != "second notice" {
			t.Errorf("old %s: deprecated = %q, want the highest deprecated version's notice", v, got)
		}
	}
	// Nested notices are not propagated, and stay where they are.
	e, _ := c.Snapshot().Lookup("old", "1.2.0")
	if len(e.Package.PolicyTemplates) != 0 {
		t.Error("template notice propagated")
	}
	if notice("fine", "1.0.0") != "" {
		t.Error("fine got a package-level notice from its template")
	}
	// The search view carries it too.
	f, _ := ParseSearchQuery(url.Values{"package": {"old"}}, true)
	res := c.Snapshot().Search(f)
	if len(res) != 1 || res[0].SearchItem().Deprecated == nil || res[0].SearchItem().Deprecated.Description != "second notice" {
		t.Errorf("search item not deprecated: %+v", res)
	}

	// Removing the highest deprecated version hands over to the next one,
	// at once (EPR keeps the stale notice until restart).
	c.Apply([]index.Change{{Key: index.Key("old", "1.1.0")}})
	for _, v := range []string{"1.0.0", "1.2.0"} {
		if got := notice("old", v); got != "first notice" {
			t.Errorf("after delete, old %s: %q", v, got)
		}
	}
	c.Apply([]index.Change{{Key: index.Key("old", "1.0.0")}})
	if got := notice("old", "1.2.0"); got != "" {
		t.Errorf("no deprecated version left, still %q", got)
	}
	// A newly added deprecated version deprecates the others.
	nv := pk("old", "3.0.0", deprecated("3.0.0", "third notice"))
	c.Apply([]index.Change{{Key: index.Key("old", "3.0.0"), Record: docRecord(t, nv)}})
	if got := notice("old", "1.2.0"); got != "third notice" {
		t.Errorf("after add: %q", got)
	}
	// The stored documents themselves are untouched.
	if e, _ := c.Snapshot().Lookup("old", "1.2.0"); e.doc.Deprecated != nil {
		t.Error("original document modified")
	}
}

func categories(t *testing.T, c *Catalog, query string) map[string]CategoryCount {
	t.Helper()
	q, _ := url.ParseQuery(query)
	f, err := ParseCategoriesQuery(q, true)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]CategoryCount{}
	var prev string
	for _, cc := range c.Snapshot().Categories(f) {
		if cc.ID <= prev {
			t.Errorf("categories not sorted by id: %q after %q", cc.ID, prev)
		}
		prev = cc.ID
		out[cc.ID] = cc
	}
	return out
}

func counts(m map[string]CategoryCount) map[string]int {
	out := map[string]int{}
	for id, c := range m {
		out[id] = c.Count
	}
	return out
}

func TestCategoriesCounts(t *testing.T) {
	c := catalogOf(t,
		// Only the latest version per name counts.
		pk("a", "1.0.0", cats("security")), pk("a", "2.0.0", cats("security", "iam"),
			templates(tpl("t1", "iam"), tpl("t2", "iam", "observability"))),
		pk("b", "1.0.0", cats("monitoring"), templates(tpl("t1", "observability"))),
		// Exactly one template without categories: stop.
		pk("c", "1.0.0", cats("custom"), templates(tpl("only"))),
		// Two templates, the first without categories: no stop.
		pk("d", "1.0.0", cats("custom"), templates(tpl("t1"), tpl("t2", "web"))),
		pk("e", "1.0.0", templates(tpl("t1", "not_in_table"))),
		pk("pre", "1.0.0-rc1", cats("network")),
		pk("lab", "1.0.0", cats("network"), release(packages.ReleaseExperimental)),
		pk("kb", "1.0.0", cats("crm"), kibana("^9.0.0")),
	)
	t.Run("package categories", func(t *testing.T) {
		got := counts(categories(t, c, ""))
		want := map[string]int{"security": 1, "iam": 1, "monitoring": 1, "custom": 2, "crm": 1}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got %v\nwant %v", got, want)
		}
	})
	t.Run("prerelease and filters", func(t *testing.T) {
		got := counts(categories(t, c, "prerelease=true&kibana.version=8.10.0"))
		want := map[string]int{"security": 1, "iam": 1, "monitoring": 1, "custom": 2, "network": 2}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got %v\nwant %v", got, want)
		}
	})
	t.Run("include_policy_templates", func(t *testing.T) {
		got := categories(t, c, "include_policy_templates=true")
		// a: security 1+2, iam 1+2 (template iam: +1 each, no extra: the
		//    package has iam), observability +1 and +1 extra (first time,
		//    not a package category, not a parent of one).
		// b: monitoring 1+1; observability +1, no extra: it is the parent
		//    of the package's monitoring.
		// c: stop rule. d: custom 1+2, web +1 and +1 extra.
		// e: not_in_table +1 and +1 extra, title = id, no parent.
		want := map[string]int{"security": 3, "iam": 5, "observability": 3, "monitoring": 2,
			"custom": 4, "web": 2, "not_in_table": 2, "crm": 1}
		if !reflect.DeepEqual(counts(got), want) {
			t.Errorf("got %v\nwant %v", counts(got), want)
		}
		if x := got["not_in_table"]; x.Title != "not_in_table" || x.ParentID != "" || x.ParentTitle != "" {
			t.Errorf("unknown category: %+v", x)
		}
		if x := got["monitoring"]; x.Title != "Monitoring" || x.ParentID != "observability" || x.ParentTitle != "Observability" {
			t.Errorf("monitoring: %+v", x)
		}
		if x := got["observability"]; x.Title != "Observability" || x.ParentID != "" {
			t.Errorf("observability: %+v", x)
		}
	})
	t.Run("parents appear only when used directly", func(t *testing.T) {
		got := categories(t, catalogOf(t, pk("m", "1.0.0", cats("monitoring"))), "")
		if _, ok := got["observability"]; ok || len(got) != 1 {
			t.Errorf("got %v", got)
		}
	})
	t.Run("legacy mode", func(t *testing.T) {
		got := counts(categories(t, c, "experimental=true"))
		want := map[string]int{"security": 1, "iam": 1, "monitoring": 1, "custom": 2, "network": 2, "crm": 1}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got %v\nwant %v", got, want)
		}
	})
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		categories bool
		strict     bool
		query      string
		want       string
	}{
		{false, false, "kibana.version=abc", "invalid Kibana version 'abc': invalid semantic version"},
		{true, false, "kibana.version=abc", "invalid Kibana version 'abc': invalid semantic version"},
		{false, false, "agent.version=abc", "invalid agent version 'abc': invalid semantic version"},
		{false, false, "all=maybe", "invalid 'all' query param: 'maybe'"},
		{false, false, "prerelease=yes", "invalid 'prerelease' query param: 'yes'"},
		{false, false, "experimental=2", "invalid 'experimental' query param: '2'"},
		{true, false, "include_policy_templates=on", "invalid 'include_policy_templates' query param: 'on'"},
		{false, false, "spec.max=2.10.1", "invalid 'spec.max' version: invalid version '2.10.1': it should be <major.version>"},
		{false, false, "spec.min=a.b", "invalid 'spec.min' version: invalid spec version 'a.b': invalid semantic version"},
		{true, false, "spec.min=3", "invalid 'spec.min' version: invalid version '3': it should be <major.version>"},
		{false, false, "discovery=foo", `invalid 'discovery' query param: 'foo': could not parse filter "foo"`},
		{false, false, "discovery=x:y", `invalid 'discovery' query param: 'x:y': unknown discovery filter "x"`},
		{false, false, "discovery=", `invalid 'discovery' query param: '': could not parse filter ""`},
		{false, false, "discovery=fields:a&discovery=foo", `invalid 'discovery' query param: 'foo': could not parse filter "foo"`},
		{false, true, "foo=1", `unknown query parameter: "foo"`},
		{false, true, "zeta=1&beta=2&all=true", `unknown query parameter: "beta"`},
		{false, true, "include_policy_templates=true", `unknown query parameter: "include_policy_templates"`},
		{true, true, "category=security", `unknown query parameter: "category"`},
		{true, true, "package=a", `unknown query parameter: "package"`},
		{true, true, "type=input", `unknown query parameter: "type"`},
		{true, true, "all=true", `unknown query parameter: "all"`},
		{true, true, "internal=true", `unknown query parameter: "internal"`},
		{false, true, "we\"ird=1", `unknown query parameter: "we\"ird"`},
	} {
		q, _ := url.ParseQuery(tc.query)
		var err error
		if tc.categories {
			_, err = ParseCategoriesQuery(q, !tc.strict)
		} else {
			_, err = ParseSearchQuery(q, !tc.strict)
		}
		if err == nil || err.Error() != tc.want {
			t.Errorf("categories=%v strict=%v %q: got %v, want %q", tc.categories, tc.strict, tc.query, err, tc.want)
		}
	}
	// Accepted forms.
	for _, ok := range []string{
		"all=1", "all=t", "all=T", "all=TRUE", "all=true", "all=True", "all=0", "all=f", "all=F", "all=FALSE", "all=false", "all=False",
		"kibana.version=", "all=", "spec.min=3.0&spec.max=v3.1", "discovery=fields:", "internal=whatever",
		"all=true&all=maybe", "kibana.version=8.1.0-SNAPSHOT",
	} {
		q, _ := url.ParseQuery(ok)
		if _, err := ParseSearchQuery(q, false); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	// Known keys pass the strict check on both routes.
	q, _ := url.ParseQuery("kibana.version=8.0.0&agent.version=8.0.0&prerelease=true&experimental=false&capabilities=a" +
		"&spec.min=1.0&spec.max=3.0&discovery=fields:a&include_policy_templates=true")
	if _, err := ParseCategoriesQuery(q, false); err != nil {
		t.Error(err)
	}
}

func TestCatalogRecordsAndChanges(t *testing.T) {
	c, _ := NewCatalog(nil, nil)
	bad := &index.Record{Name: "bad", Version: "1.0.0", Document: []byte(`{"name":`)}
	mismatch := docRecord(t, pk("x", "1.0.0"))
	mismatch.Version = "2.0.0"
	if n := c.Load([]*index.Record{bad, mismatch, docRecord(t, pk("good", "1.0.0"))}); n != 2 {
		t.Errorf("skipped %d, want 2", n)
	}
	if c.Snapshot().Len() != 1 {
		t.Fatalf("len %d", c.Snapshot().Len())
	}
	g0 := c.Snapshot().Generation()
	// Build metadata: distinct keys, equal precedence, stable order.
	c.Apply([]index.Change{
		{Key: index.Key("good", "1.0.0+b"), Record: docRecord(t, pk("good", "1.0.0+b"))},
		{Key: index.Key("good", "1.0.0+a"), Record: docRecord(t, pk("good", "1.0.0+a"))},
		{Key: "malformed"},
	})
	if c.Snapshot().Generation() <= g0 {
		t.Error("generation did not advance")
	}
	if got := search(t, c, "all=true"); !reflect.DeepEqual(got, []string{"good@1.0.0", "good@1.0.0+a", "good@1.0.0+b"}) {
		t.Errorf("got %v", got)
	}
	if _, ok := c.Snapshot().Lookup("good", "1.0.0+a"); !ok {
		t.Error("build metadata version not found")
	}
	c.Apply([]index.Change{{Key: index.Key("good", "1.0.0+a")}})
	if _, ok := c.Snapshot().Lookup("good", "1.0.0+a"); ok {
		t.Error("deleted by key with '_' but still there")
	}
	// An unchanged entry keeps its identity (and its encoded search item).
	e1, _ := c.Snapshot().Lookup("good", "1.0.0")
	c.Apply([]index.Change{{Key: index.Key("other", "1.0.0"), Record: docRecord(t, pk("other", "1.0.0"))}})
	e2, _ := c.Snapshot().Lookup("good", "1.0.0")
	if e1 != e2 {
		t.Error("unrelated change rebuilt an entry")
	}
	c.Reset()
	if c.Snapshot().Len() != 0 || c.Snapshot().Mock() {
		t.Error("reset left packages (or turned mocks on without mocks)")
	}
}
