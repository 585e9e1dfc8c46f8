package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// The indexer half: per repository the state of each tag, what each manifest digest produced,
// the layout conflicts, and what the indexer last wrote to the bucket per key. Only
// internal/indexer uses it (indexer.State).

// TagState is what the indexer concluded about one tag.
type TagState struct {
	Digest string `json:"digest"`
	// Key is the package key published for this tag; empty when the tag holds no valid package.
	Key string `json:"key,omitempty"`
	// Rejected says why the artifact was not indexed; empty when it was.
	Rejected string `json:"rejected,omitempty"`
	// Rule is the rejection rule Rejected broke (packages.Rule); empty in states recorded
	// before rules were stored.
	Rule string `json:"rule,omitempty"`
	// NotAPackage marks an artifact that is no package at all (no package zip layer, or not an
	// image manifest); ArtifactType is what it holds instead, when known.
	NotAPackage  bool   `json:"not_a_package,omitempty"`
	ArtifactType string `json:"artifact_type,omitempty"`
	// Policy names the indexing policy the tag was read under (empty: the default one); a tag
	// read under another policy is read again.
	Policy string `json:"policy,omitempty"`
	// AwaitingSignature marks a valid package kept out until its signature arrives
	// (-require-package-signatures).
	AwaitingSignature bool `json:"awaiting_signature,omitempty"`
}

// ManifestState is what parsing a manifest digest produced; a digest is parsed once.
type ManifestState struct {
	// Key is the package key the digest holds; empty when it was rejected.
	Key      string `json:"key,omitempty"`
	Rejected string `json:"rejected,omitempty"`
	// Rule, NotAPackage, ArtifactType: see TagState.
	Rule         string `json:"rule,omitempty"`
	NotAPackage  bool   `json:"not_a_package,omitempty"`
	ArtifactType string `json:"artifact_type,omitempty"`
	// AwaitingSignature: see TagState.
	AwaitingSignature bool `json:"awaiting_signature,omitempty"`
	// Signature is the digest of the signature blob the record names, if any: a manifest read
	// again for its referrers is published again only when it changed.
	Signature string `json:"signature,omitempty"`
	// Record is the encoded index record built from the digest, kept so that re-tagging known
	// content publishes it again without a download.
	Record []byte `json:"record,omitempty"`
}

// Repositories lists the repositories with recorded state.
func (db *DB) Repositories() ([]string, error) {
	var out []string
	err := db.bolt.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRepositories).ForEach(func(k, _ []byte) error {
			out = append(out, string(k))
			return nil
		})
	})
	return out, err
}

// Tags returns the recorded state of a repository's tags; empty when none is recorded.
func (db *DB) Tags(repository string) (map[string]TagState, error) {
	out := map[string]TagState{}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRepositories).Bucket([]byte(repository))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var s TagState
			if err := json.Unmarshal(v, &s); err != nil {
				return fmt.Errorf("store: tag %s:%s: %w", repository, k, err)
			}
			out[string(k)] = s
			return nil
		})
	})
	return out, err
}

// SetTags replaces the recorded state of a repository's tags; an empty map forgets the
// repository.
func (db *DB) SetTags(repository string, tags map[string]TagState) error {
	return db.Commit(repository, tags, nil)
}

// Published is what the indexer last wrote to the bucket under one package key: whose copy and
// the bucket revision of the write. A bucket whose revision for the key differs holds a value
// the indexer did not write, or one whose write a crash kept from being recorded.
type Published struct {
	Repository string `json:"repository"`
	Tag        string `json:"tag"`
	Digest     string `json:"digest"`
	Revision   uint64 `json:"revision"`
}

// Commit replaces the recorded state of a repository's tags (an empty map forgets the
// repository) and applies published (nil value: the key was deleted) in one transaction, so
// what a reconcile recorded about its tags and about its bucket writes cannot disagree.
func (db *DB) Commit(repository string, tags map[string]TagState, published map[string]*Published) error {
	return db.bolt.Update(func(tx *bolt.Tx) error {
		pb := tx.Bucket(bucketPublished)
		for key, p := range published {
			if p == nil {
				if err := pb.Delete([]byte(key)); err != nil {
					return err
				}
				continue
			}
			v, err := json.Marshal(p)
			if err != nil {
				return err
			}
			if err := pb.Put([]byte(key), v); err != nil {
				return err
			}
		}
		repos := tx.Bucket(bucketRepositories)
		if err := repos.DeleteBucket([]byte(repository)); err != nil && !errors.Is(err, berrors.ErrBucketNotFound) {
			return err
		}
		if len(tags) == 0 {
			return nil
		}
		b, err := repos.CreateBucket([]byte(repository))
		if err != nil {
			return err
		}
		for tag, s := range tags {
			v, err := json.Marshal(s)
			if err != nil {
				return err
			}
			if err := b.Put([]byte(tag), v); err != nil {
				return err
			}
		}
		return nil
	})
}

// PublishedOf returns what was last published under each of keys that has an entry.
func (db *DB) PublishedOf(keys []string) (map[string]Published, error) {
	out := map[string]Published{}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketPublished)
		for _, k := range keys {
			v := b.Get([]byte(k))
			if v == nil {
				continue
			}
			var p Published
			if err := json.Unmarshal(v, &p); err != nil {
				return fmt.Errorf("store: published %s: %w", k, err)
			}
			out[k] = p
		}
		return nil
	})
	return out, err
}

// ProvidedKeys is every package key some recorded tag holds, served or kept out.
func (db *DB) ProvidedKeys() (map[string]bool, error) {
	out := map[string]bool{}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRepositories).ForEachBucket(func(repo []byte) error {
			return tx.Bucket(bucketRepositories).Bucket(repo).ForEach(func(tag, v []byte) error {
				var s TagState
				if err := json.Unmarshal(v, &s); err != nil {
					return fmt.Errorf("store: tag %s:%s: %w", repo, tag, err)
				}
				if s.Key != "" {
					out[s.Key] = true
				}
				return nil
			})
		})
	})
	return out, err
}

// ManifestID names what parsing a manifest digest produced: per claimed identity (the package
// key of the tag's name and version), because the same content under another name or version
// is a different question, and per indexing policy (Policy, the policy's id; "" the default).
type ManifestID struct {
	Digest, Key, Policy string
}

// bytes is the stored key: "<digest> <package key>", then " <policy>" for a policy other than
// the default, as stores written before the type existed hold it.
func (id ManifestID) bytes() []byte {
	k := id.Digest + " " + id.Key
	if id.Policy != "" {
		k += " " + id.Policy
	}
	return []byte(k)
}

// Manifest returns what parsing id's digest produced, if it was parsed.
func (db *DB) Manifest(id ManifestID) (ManifestState, bool, error) {
	var s ManifestState
	var found bool
	err := db.bolt.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketManifests).Get(id.bytes())
		if v == nil {
			return nil
		}
		found = true
		return json.Unmarshal(v, &s)
	})
	return s, found, err
}

// PutManifest records what parsing id's digest produced.
func (db *DB) PutManifest(id ManifestID, s ManifestState) error {
	v, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return db.bolt.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketManifests).Put(id.bytes(), v)
	})
}

// Conflict records that a repository's copy of a package is not served because another
// repository's copy takes precedence.
type Conflict struct {
	Winner string `json:"winner"`
	// Digest is the manifest digest of the copy kept out.
	Digest string `json:"digest"`
}

func conflictKey(key, repository string) []byte { return []byte(key + " " + repository) }

// RecordConflict records that repository's copy of key is kept out, and reports whether that is
// news: nothing, or something else, was recorded for it before.
func (db *DB) RecordConflict(key, repository string, c Conflict) (isNew bool, err error) {
	v, err := json.Marshal(c)
	if err != nil {
		return false, err
	}
	err = db.bolt.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketConflicts)
		k := conflictKey(key, repository)
		if cur := b.Get(k); cur != nil && string(cur) == string(v) {
			return nil
		}
		isNew = true
		return b.Put(k, v)
	})
	return isNew, err
}

// ConflictsOf returns, per package key, the recorded conflicts in which repository's copy is
// the one kept out.
func (db *DB) ConflictsOf(repository string) (map[string]Conflict, error) {
	out := map[string]Conflict{}
	suffix := " " + repository
	err := db.bolt.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketConflicts).ForEach(func(k, v []byte) error {
			key, ok := strings.CutSuffix(string(k), suffix)
			if !ok || strings.Contains(key, " ") {
				return nil
			}
			var c Conflict
			if err := json.Unmarshal(v, &c); err != nil {
				return fmt.Errorf("store: conflict %s: %w", k, err)
			}
			out[key] = c
			return nil
		})
	})
	return out, err
}

// ClearConflict forgets that repository's copy of key was kept out.
func (db *DB) ClearConflict(key, repository string) error {
	return db.bolt.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketConflicts).Delete(conflictKey(key, repository))
	})
}
