package api

import (
	"hash/maphash"
	"slices"
)

// groupShards splits a groupMap so that a change copies 1/256 of it: one changed version costs
// a copy of one shard (about names/256 entries) and of the shard array, not of the catalog.
const groupShards = 256

var groupSeed = maphash.MakeSeed()

// groupMap is an immutable map of package name → group with copy-on-write updates, and the
// sorted names and version count that snapshots need, kept up to date per change.
type groupMap struct {
	shards   [groupShards]map[string]*group
	names    []string // sorted, byte order
	versions int
}

func shardOf(name string) int { return int(maphash.String(groupSeed, name) % groupShards) }

func newGroupMap(groups map[string]*group) *groupMap {
	m := &groupMap{}
	for name, g := range groups {
		s := shardOf(name)
		if m.shards[s] == nil {
			m.shards[s] = map[string]*group{}
		}
		m.shards[s][name] = g
		m.names = append(m.names, name)
		m.versions += len(g.versions)
	}
	slices.Sort(m.names)
	return m
}

func (m *groupMap) get(name string) *group { return m.shards[shardOf(name)][name] }

func (m *groupMap) len() int { return len(m.names) }

// with returns m with changes applied (a nil group removes the name); m is unchanged.
func (m *groupMap) with(changes map[string]*group) *groupMap {
	next := &groupMap{shards: m.shards, names: m.names, versions: m.versions}
	copied := map[int]bool{}
	namesCopied := false
	for name, g := range changes {
		s := shardOf(name)
		if !copied[s] {
			shard := make(map[string]*group, len(m.shards[s])+1)
			for k, v := range m.shards[s] {
				shard[k] = v
			}
			next.shards[s], copied[s] = shard, true
		}
		old, had := next.shards[s][name]
		if had {
			next.versions -= len(old.versions)
		}
		i, found := slices.BinarySearch(next.names, name)
		if g == nil {
			delete(next.shards[s], name)
			if found {
				if !namesCopied {
					next.names, namesCopied = slices.Clone(next.names), true
				}
				next.names = slices.Delete(next.names, i, i+1)
			}
			continue
		}
		next.shards[s][name] = g
		next.versions += len(g.versions)
		if !found {
			if !namesCopied {
				next.names, namesCopied = slices.Clone(next.names), true
			}
			next.names = slices.Insert(next.names, i, name)
		}
	}
	return next
}
