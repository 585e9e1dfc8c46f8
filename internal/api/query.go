package api

import (
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// Filter is a parsed /search or /categories query (epr-api.md §3).
type Filter struct {
	KibanaVersion *semver.Version
	AgentVersion  *semver.Version
	Package       string
	Type          string
	Category      string
	All           bool
	Prerelease    bool
	// Experimental selects the legacy mode of Kibana 7.x; it overrides
	// Prerelease.
	Experimental bool
	// Capabilities is nil when the query does not filter on them.
	Capabilities []string
	SpecMin      *semver.Version
	SpecMax      *semver.Version
	// Discovery filters are ANDed.
	Discovery              []DiscoveryFilter
	IncludePolicyTemplates bool
}

// DiscoveryFilter is one discovery=<kind>:<a,b> parameter.
type DiscoveryFilter struct {
	Kind   string // "fields" or "datasets"
	Values []string
}

// QueryError is a bad query; its message is the 400 body (without the
// newline).
type QueryError struct{ Message string }

func (e *QueryError) Error() string { return e.Message }

func queryErrorf(format string, args ...any) error {
	return &QueryError{Message: fmt.Sprintf(format, args...)}
}

var (
	searchKeys = map[string]bool{
		"kibana.version": true, "agent.version": true, "package": true, "type": true, "category": true,
		"all": true, "prerelease": true, "experimental": true, "capabilities": true,
		"spec.min": true, "spec.max": true, "discovery": true, "internal": true,
	}
	categoriesKeys = map[string]bool{
		"kibana.version": true, "agent.version": true, "prerelease": true, "experimental": true,
		"capabilities": true, "spec.min": true, "spec.max": true, "discovery": true,
		"include_policy_templates": true,
	}
)

// ParseSearchQuery parses the query of /search.
func ParseSearchQuery(q url.Values, allowUnknown bool) (*Filter, error) {
	return parseQuery(q, allowUnknown, searchKeys)
}

// ParseCategoriesQuery parses the query of /categories.
func ParseCategoriesQuery(q url.Values, allowUnknown bool) (*Filter, error) {
	return parseQuery(q, allowUnknown, categoriesKeys)
}

func parseQuery(q url.Values, allowUnknown bool, known map[string]bool) (*Filter, error) {
	if !allowUnknown {
		keys := make([]string, 0, len(q))
		for k := range q {
			keys = append(keys, k)
		}
		// EPR reports one bad key at random; sorting makes ours stable.
		sort.Strings(keys)
		for _, k := range keys {
			if !known[k] {
				return nil, queryErrorf("unknown query parameter: %q", k)
			}
		}
	}
	// first is the value that counts: the first one, "" meaning absent. A
	// key the route does not know is never read, even when allowed.
	first := func(key string) string {
		if !known[key] {
			return ""
		}
		if vs := q[key]; len(vs) > 0 {
			return vs[0]
		}
		return ""
	}
	f := &Filter{}
	var err error
	if v := first("kibana.version"); v != "" {
		if f.KibanaVersion, err = semver.NewVersion(v); err != nil {
			return nil, queryErrorf("invalid Kibana version '%s': %v", v, err)
		}
	}
	if v := first("agent.version"); v != "" {
		if f.AgentVersion, err = semver.NewVersion(v); err != nil {
			return nil, queryErrorf("invalid agent version '%s': %v", v, err)
		}
	}
	f.Package = first("package")
	f.Type = first("type")
	f.Category = first("category")
	for _, b := range []struct {
		key string
		dst *bool
	}{
		{"all", &f.All},
		{"prerelease", &f.Prerelease},
		{"experimental", &f.Experimental},
		{"include_policy_templates", &f.IncludePolicyTemplates},
	} {
		if v := first(b.key); v != "" {
			if *b.dst, err = strconv.ParseBool(v); err != nil {
				return nil, queryErrorf("invalid '%s' query param: '%s'", b.key, v)
			}
		}
	}
	if v := first("capabilities"); v != "" {
		f.Capabilities = strings.Split(v, ",")
	}
	if f.SpecMin, err = parseSpecVersion("spec.min", first("spec.min")); err != nil {
		return nil, err
	}
	if f.SpecMax, err = parseSpecVersion("spec.max", first("spec.max")); err != nil {
		return nil, err
	}
	if known["discovery"] {
		for _, v := range q["discovery"] {
			df, err := parseDiscovery(v)
			if err != nil {
				return nil, queryErrorf("invalid 'discovery' query param: '%s': %v", v, err)
			}
			f.Discovery = append(f.Discovery, df)
		}
	}
	return f, nil
}

// parseSpecVersion accepts exactly "major.minor".
func parseSpecVersion(key, v string) (*semver.Version, error) {
	if v == "" {
		return nil, nil
	}
	ver, err := semver.NewVersion(v)
	if err != nil {
		return nil, queryErrorf("invalid '%s' version: invalid spec version '%s': %v", key, v, err)
	}
	if strings.Count(v, ".") != 1 {
		return nil, queryErrorf("invalid '%s' version: invalid version '%s': it should be <major.version>", key, v)
	}
	return ver, nil
}

func parseDiscovery(v string) (DiscoveryFilter, error) {
	kind, list, ok := strings.Cut(v, ":")
	if !ok {
		return DiscoveryFilter{}, fmt.Errorf("could not parse filter %q", v)
	}
	switch kind {
	case "fields", "datasets":
	default:
		return DiscoveryFilter{}, fmt.Errorf("unknown discovery filter %q", kind)
	}
	return DiscoveryFilter{Kind: kind, Values: strings.Split(list, ",")}, nil
}

// Key is the filter in a canonical form: two queries with the same Key select the same response,
// however their parameters were ordered, repeated or spelled.
func (f *Filter) Key() string {
	var b strings.Builder
	ver := func(v *semver.Version) string {
		if v == nil {
			return "-"
		}
		return v.String()
	}
	fmt.Fprintf(&b, "k=%s a=%s p=%q t=%q c=%q all=%t pre=%t exp=%t smin=%s smax=%s ipt=%t",
		ver(f.KibanaVersion), ver(f.AgentVersion), f.Package, f.Type, f.Category, f.All,
		f.Prerelease, f.Experimental, ver(f.SpecMin), ver(f.SpecMax), f.IncludePolicyTemplates)
	if f.Capabilities != nil {
		caps := append([]string(nil), f.Capabilities...)
		sort.Strings(caps)
		fmt.Fprintf(&b, " caps=%q", caps)
	}
	var disc []string
	for _, d := range f.Discovery {
		vals := append([]string(nil), d.Values...)
		sort.Strings(vals)
		disc = append(disc, fmt.Sprintf("%s:%q", d.Kind, vals))
	}
	sort.Strings(disc)
	fmt.Fprintf(&b, " disc=%v", disc)
	return b.String()
}

// Encode is the filter as a query string that parses back to the same Key: the parameters that
// select something, each once, in a fixed order. Proxy mode forwards it, never the client's raw
// query, so that the upstream answers exactly the query its answer is cached under (a parameter
// we ignore, or a second spelling, cannot make the upstream answer differently for one Key).
func (f *Filter) Encode() string {
	q := url.Values{}
	setVersion := func(key string, v *semver.Version) {
		if v != nil {
			q.Set(key, v.String())
		}
	}
	setSpec := func(key string, v *semver.Version) {
		if v != nil {
			q.Set(key, fmt.Sprintf("%d.%d", v.Major(), v.Minor()))
		}
	}
	setString := func(key, v string) {
		if v != "" {
			q.Set(key, v)
		}
	}
	setBool := func(key string, v bool) {
		if v {
			q.Set(key, "true")
		}
	}
	setVersion("kibana.version", f.KibanaVersion)
	setVersion("agent.version", f.AgentVersion)
	setString("package", f.Package)
	setString("type", f.Type)
	setString("category", f.Category)
	setBool("all", f.All)
	setBool("prerelease", f.Prerelease)
	setBool("experimental", f.Experimental)
	setBool("include_policy_templates", f.IncludePolicyTemplates)
	if f.Capabilities != nil {
		caps := append([]string(nil), f.Capabilities...)
		sort.Strings(caps)
		q.Set("capabilities", strings.Join(caps, ","))
	}
	setSpec("spec.min", f.SpecMin)
	setSpec("spec.max", f.SpecMax)
	var disc []string
	for _, d := range f.Discovery {
		vals := append([]string(nil), d.Values...)
		sort.Strings(vals)
		disc = append(disc, d.Kind+":"+strings.Join(vals, ","))
	}
	sort.Strings(disc)
	for _, d := range disc {
		q.Add("discovery", d)
	}
	return q.Encode()
}
