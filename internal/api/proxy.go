package api

// Proxy mode (docs/epr-api.md §12): /search and /categories merge our answer with the
// upstream's, and the versions we do not hold are redirected there.

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"sort"

	"github.com/Masterminds/semver/v3"
	"github.com/labstack/echo/v4"

	"github.com/oci-epr/package-registry/internal/packages"
	"github.com/oci-epr/package-registry/internal/upstream"
)

// Upstream is the registry proxy mode also serves; *upstream.Client is the real one.
type Upstream interface {
	// Query returns the upstream's answer to a route's query: query is what is forwarded, key
	// the normalised query its answer is cached under; both stand for the same Filter.
	Query(ctx context.Context, route, query, key string) upstream.Answer
	// Location is the upstream URL of an escaped path of ours and its query.
	Location(escapedPath, rawQuery string) string
}

// hUpstream says on every proxied /search and /categories answer what part the upstream had in
// it: fresh, stale (its last good answer to this query) or missing.
const hUpstream = "X-Upstream-State"

// mergedItem is one search item of a merged answer, rendered as an array element.
type mergedItem struct {
	name    string
	version *semver.Version
	element []byte
}

// mergeSearch merges our results with the upstream's search answer: ours wins for the same
// name and version; unless all, only the highest version per name stays; sorted by name, then
// version ascending, as /search always is.
func mergeSearch(local []Result, upstreamBody []byte, all bool) ([]byte, error) {
	items := make([]mergedItem, 0, len(local))
	ours := make(map[string]bool, len(local))
	for _, r := range local {
		el, err := resultElement(r)
		if err != nil {
			return nil, err
		}
		items = append(items, mergedItem{r.Entry.Package.Name, r.Entry.ver, el})
		ours[r.Entry.Package.Name+"@"+r.Entry.ver.Original()] = true
	}
	for _, raw := range upstreamElements(upstreamBody) {
		var id struct {
			Name    string `json:"name"`
			Version string `json:"version"`
		}
		if json.Unmarshal(raw, &id) != nil || !packages.IsValidName(id.Name) || !packages.IsStrictSemver(id.Version) {
			continue // not a package an EPR client could use
		}
		v, err := semver.StrictNewVersion(id.Version)
		if err != nil || ours[id.Name+"@"+id.Version] {
			continue
		}
		var el bytes.Buffer
		if json.Indent(&el, raw, "  ", "  ") != nil {
			continue
		}
		items = append(items, mergedItem{id.Name, v, el.Bytes()})
	}
	sort.SliceStable(items, func(i, j int) bool {
		if items[i].name != items[j].name {
			return items[i].name < items[j].name
		}
		return items[i].version.LessThan(items[j].version)
	})
	if !all {
		// Ascending per name: the last of each run is the latest.
		latest := items[:0]
		for i, it := range items {
			if i+1 < len(items) && items[i+1].name == it.name {
				continue
			}
			latest = append(latest, it)
		}
		items = latest
	}
	parts := make([][]byte, len(items))
	for i, it := range items {
		parts[i] = it.element
	}
	return arrayBody(parts), nil
}

// upstreamElements splits an upstream JSON array into its elements; a body that is not an
// array gives none.
func upstreamElements(body []byte) []json.RawMessage {
	var elems []json.RawMessage
	if body == nil || json.Unmarshal(body, &elems) != nil {
		return nil
	}
	return elems
}

// mergeCategories adds the upstream's counts to ours, category by category; titles and parents
// are ours where our table knows the category.
func mergeCategories(local []CategoryCount, upstreamBody []byte) ([]byte, error) {
	byID := make(map[string]int, len(local))
	out := append([]CategoryCount(nil), local...)
	for i, c := range out {
		byID[c.ID] = i
	}
	for _, raw := range upstreamElements(upstreamBody) {
		var c CategoryCount
		if json.Unmarshal(raw, &c) != nil || c.ID == "" || c.Count < 0 {
			continue
		}
		if i, ok := byID[c.ID]; ok {
			out[i].Count += c.Count
			continue
		}
		if c.Title == "" {
			c.Title = c.ID
		}
		byID[c.ID] = len(out)
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return packages.Encode(out)
}

// serveProxiedQuery answers a query route in proxy mode. The merged answer is cached in the
// snapshot per upstream answer, so ETags and 304s work as without proxy mode; an answer the
// upstream had no fresh part in is not to be cached by clients.
func (s *Server) serveProxiedQuery(c echo.Context, snap *Snapshot, q *queryRoute, f *Filter, cc []string) string {
	r := c.Request()
	// The upstream is asked the canonical form of the query, not the client's spelling: its
	// answer is kept under f.Key() and reused for every spelling of that Key.
	ans := s.cfg.Upstream.Query(r.Context(), q.label, f.Encode(), f.Key())
	c.Response().Header()[hUpstream] = []string{string(ans.State)}
	if ans.State != upstream.Fresh {
		cc = ccNoStore
	}
	key := cacheKey{q.kind, "\x01" + f.Key() + "\x00" + ans.ID}
	resp, err := snap.cache.render(key, s.cfg.ResponseCacheBytes, false, func() ([]byte, error) { return q.merge(snap, f, ans.Body) })
	if err != nil {
		s.log.Error("rendering a response failed", "route", q.label, "query", r.URL.RawQuery, "err", err)
		s.writeError(c, http.StatusNotFound, q.failure(err), ccNoStore)
		return q.label
	}
	s.writeJSON(c, resp, cc)
	return q.label
}

// versionNotHeld answers a request for a version the index lacks: 301 upstream in proxy mode,
// else 404.
func (s *Server) versionNotHeld(c echo.Context) {
	if !s.redirectUpstream(c) {
		s.writeError(c, http.StatusNotFound, "package revision not found", ccNoStore)
	}
}

// redirectUpstream answers 301 to the same path upstream, when in proxy mode.
func (s *Server) redirectUpstream(c echo.Context) bool {
	if s.cfg.Upstream == nil {
		return false
	}
	r := c.Request()
	http.Redirect(c.Response(), r, s.cfg.Upstream.Location(r.URL.EscapedPath(), r.URL.RawQuery), http.StatusMovedPermanently)
	return true
}
