package status

import (
	"encoding/base64"
	"fmt"
	"strings"
)

// Entries in a store are named so that the questions asked most are key filters (NATS subject
// wildcards), not scans: the tags in a state, the tags claiming a package name, the tags of a
// repository.
//
//	indexer                                   Indexer
//	replica.<id>                              Replica
//	repo.<repository>                         Repository
//	tag.<state>.<name>.<repository>.<tag>     Tag
//
// Repositories and tags are written base64url (no padding): they may hold dots, which separate
// tokens. A tag that claims no package has the name "-" (no package name holds a '-').

const (
	KeyIndexer    = "indexer"
	prefixRepl    = "replica."
	prefixRepo    = "repo."
	prefixTag     = "tag."
	noName        = "-"
	FilterTags    = "tag.>"
	FilterRepos   = "repo.>"
	FilterRepl    = "replica.>"
	FilterAll     = ">"
	tokenWildcard = "*"
)

func enc(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func dec(s string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	return string(b), err
}

// TagKey names a tag's entry.
func TagKey(t Tag) string {
	name := t.Name
	if name == "" {
		name = noName
	}
	return prefixTag + string(t.State) + "." + name + "." + enc(t.Repository) + "." + enc(t.Tag)
}

// RepositoryKey names a repository's entry.
func RepositoryKey(repository string) string { return prefixRepo + enc(repository) }

// ReplicaKey names a replica's entry; id is reduced to the characters a key may hold.
func ReplicaKey(id string) string {
	return prefixRepl + strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			return r
		}
		return '_'
	}, id)
}

// TagFilter is the key filter of the tags matching f's state, name and repository (each empty:
// any).
func TagFilter(f Filter) string {
	state, name, repo := tokenWildcard, tokenWildcard, tokenWildcard
	if f.State != "" {
		state = string(f.State)
	}
	if f.Name != "" {
		name = f.Name
	}
	if f.Repository != "" {
		repo = enc(f.Repository)
	}
	return prefixTag + state + "." + name + "." + repo + ".*"
}

// ParseTagKey returns the repository and tag a tag entry's key names.
func ParseTagKey(key string) (repository, tag string, err error) {
	parts := strings.Split(key, ".")
	if len(parts) != 5 || parts[0]+"." != prefixTag {
		return "", "", fmt.Errorf("status: %q is not a tag key", key)
	}
	if repository, err = dec(parts[3]); err != nil {
		return "", "", fmt.Errorf("status: key %q: %w", key, err)
	}
	if tag, err = dec(parts[4]); err != nil {
		return "", "", fmt.Errorf("status: key %q: %w", key, err)
	}
	return repository, tag, nil
}

// Match reports whether key matches filter, with NATS subject wildcards ('*' one token, '>'
// the rest).
func Match(filter, key string) bool {
	fs, ks := strings.Split(filter, "."), strings.Split(key, ".")
	for i, f := range fs {
		if f == ">" {
			return len(ks) > i
		}
		if i >= len(ks) || (f != "*" && f != ks[i]) {
			return false
		}
	}
	return len(fs) == len(ks)
}
