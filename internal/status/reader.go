package status

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Index is what the answering process serves, when it has the index (an API replica): the
// manifest digest it serves for name@version, and from which repository and tag.
type Index interface {
	Served(name, version string) (repository, tag, digest string, ok bool)
}

// Filter narrows the tags of an answer. Empty fields match anything.
type Filter struct {
	State      State
	Name       string
	Version    string
	Repository string
	// Query keeps tags whose repository, tag, name or message contains it (case-insensitive),
	// served ones included, and, in Overall, repositories whose name contains it.
	Query string
	// Limit bounds the tags returned (0: DefaultLimit); Truncated says how many were left out.
	Limit int
}

// DefaultLimit bounds the tags of one answer.
const DefaultLimit = 500

// RepositoryStatus is the answer to GET /status/repositories/<repository>.
type RepositoryStatus struct {
	Repository Repository `json:"repository"`
	Tags       []Tag      `json:"tags"`
	Truncated  int        `json:"truncated,omitempty"`
}

// PackageStatus is the answer to GET /status/packages/<name>: every tag claiming the name, in
// any repository, whatever its state.
type PackageStatus struct {
	Name      string `json:"name"`
	Tags      []Tag  `json:"tags"`
	Truncated int    `json:"truncated,omitempty"`
}

// Reader answers status queries from a Store.
type Reader struct {
	Store Store
	// Index, when set, fills each served tag's IndexDigest and InSync.
	Index Index
	// Now is the clock (replica staleness); nil is time.Now.
	Now func() time.Time
}

// Overall answers GET /status: the indexer's report, the replicas', every repository, and the
// tags not served that match f (problems first); a state or a query in f may show served ones.
func (r Reader) Overall(ctx context.Context, f Filter) (Overall, error) {
	var out Overall
	// Served tags are most of a registry's and the overview shows them only when asked (a
	// state, or a search): it lists the tags of the other states by key, not the whole bucket.
	filters := []string{KeyIndexer, FilterRepl, FilterRepos}
	if f.State != "" || f.Query != "" {
		filters = append(filters, TagFilter(f))
	} else {
		for _, s := range States {
			if s != Served {
				g := f
				g.State = s
				filters = append(filters, TagFilter(g))
			}
		}
	}
	entries := map[string][]byte{}
	for _, filter := range filters {
		got, err := r.Store.List(ctx, filter)
		if err != nil {
			return out, err
		}
		maps.Copy(entries, got)
	}
	now := time.Now()
	if r.Now != nil {
		now = r.Now()
	}
	var tagEntries = map[string][]byte{}
	for k, v := range entries {
		switch {
		case k == KeyIndexer:
			var ix Indexer
			if err := json.Unmarshal(v, &ix); err != nil {
				return out, fmt.Errorf("status: %s: %w", k, err)
			}
			out.Indexer = &ix
		case strings.HasPrefix(k, prefixRepl):
			var rep Replica
			if err := json.Unmarshal(v, &rep); err != nil {
				return out, fmt.Errorf("status: %s: %w", k, err)
			}
			rep.Stale = now.Sub(rep.UpdatedAt) > StaleAfter
			out.Replicas = append(out.Replicas, rep)
		case strings.HasPrefix(k, prefixRepo):
			var repo Repository
			if err := json.Unmarshal(v, &repo); err != nil {
				return out, fmt.Errorf("status: %s: %w", k, err)
			}
			if (f.Repository == "" || f.Repository == repo.Repository) && contains(repo.Repository, f.Query) {
				out.Repositories = append(out.Repositories, repo)
			}
		case strings.HasPrefix(k, prefixTag):
			if f.State == "" && f.Query == "" && strings.HasPrefix(k, prefixTag+string(Served)+".") {
				continue // the overview lists problems; served tags are asked for by state or found by a search
			}
			if Match(TagFilter(f), k) {
				tagEntries[k] = v
			}
		}
	}
	for i := range out.Replicas {
		if out.Indexer != nil && out.Indexer.IndexRevision >= out.Replicas[i].AppliedRevision {
			lag := out.Indexer.IndexRevision - out.Replicas[i].AppliedRevision
			out.Replicas[i].Lag = &lag
		}
	}
	slices.SortFunc(out.Replicas, func(a, b Replica) int { return cmp.Compare(a.ID, b.ID) })
	slices.SortFunc(out.Repositories, func(a, b Repository) int {
		return cmp.Or(cmp.Compare(repoRank(a), repoRank(b)), cmp.Compare(a.Repository, b.Repository))
	})
	var err error
	out.Problems, out.Truncated, err = r.tags(tagEntries, f)
	return out, err
}

// contains reports whether s contains query, ignoring case; an empty query is in anything.
func contains(s, query string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(query))
}

// repoRank puts repositories whose last reconcile failed, then those with problem tags, first.
func repoRank(r Repository) int {
	if r.LastReconcile != nil && r.LastReconcile.Outcome == OutcomeFailed {
		return 0
	}
	for s, n := range r.Counts {
		if s != Served && n > 0 {
			return 1
		}
	}
	return 2
}

// Repository answers GET /status/repositories/<repository>; found is false when no status is
// held for it.
func (r Reader) Repository(ctx context.Context, repository string, f Filter) (out RepositoryStatus, found bool, err error) {
	v, err := r.Store.List(ctx, RepositoryKey(repository))
	if err != nil {
		return out, false, err
	}
	raw, found := v[RepositoryKey(repository)]
	if found {
		if err := json.Unmarshal(raw, &out.Repository); err != nil {
			return out, false, fmt.Errorf("status: %s: %w", repository, err)
		}
	}
	f.Repository = repository
	entries, err := r.Store.List(ctx, TagFilter(f))
	if err != nil {
		return out, false, err
	}
	out.Tags, out.Truncated, err = r.tags(entries, f)
	return out, found || len(out.Tags) > 0, err
}

// Package answers GET /status/packages/<name>.
func (r Reader) Package(ctx context.Context, name string, f Filter) (PackageStatus, error) {
	f.Name = name
	entries, err := r.Store.List(ctx, TagFilter(f))
	if err != nil {
		return PackageStatus{}, err
	}
	out := PackageStatus{Name: name}
	out.Tags, out.Truncated, err = r.tags(entries, f)
	return out, err
}

// tags decodes, filters, completes and orders tag entries: problems first, then by name,
// version, repository and tag.
func (r Reader) tags(entries map[string][]byte, f Filter) ([]Tag, int, error) {
	q := strings.ToLower(f.Query)
	tags := make([]Tag, 0, len(entries))
	for k, v := range entries {
		var t Tag
		if err := json.Unmarshal(v, &t); err != nil {
			return nil, 0, fmt.Errorf("status: %s: %w", k, err)
		}
		if f.Version != "" && t.Version != f.Version {
			continue
		}
		if q != "" && !strings.Contains(strings.ToLower(t.Repository+" "+t.Tag+" "+t.Name+" "+t.Message+" "+t.Error), q) {
			continue
		}
		if r.Index != nil && t.Name != "" && (t.State == Served || t.State == Failing) {
			repo, tag, digest, ok := r.Index.Served(t.Name, t.Version)
			switch {
			case ok && repo == t.Repository && tag == t.Tag:
				inSync := digest == t.Digest
				t.IndexDigest, t.InSync = digest, &inSync
			case t.State == Served:
				// The indexer serves this tag's copy and this process does not (yet): it has not
				// applied the write, or still serves the other layout's copy. A wait asking this
				// process must not take the indexer's word for what it serves.
				inSync := false
				t.InSync = &inSync
			}
		}
		tags = append(tags, t)
	}
	slices.SortFunc(tags, func(a, b Tag) int {
		return cmp.Or(cmp.Compare(a.State.Rank(), b.State.Rank()), cmp.Compare(a.Name, b.Name),
			cmp.Compare(a.Version, b.Version), cmp.Compare(a.Repository, b.Repository), cmp.Compare(a.Tag, b.Tag))
	})
	limit := cmp.Or(f.Limit, DefaultLimit)
	if len(tags) > limit {
		return tags[:limit], len(tags) - limit, nil
	}
	return tags, 0, nil
}
