// Package store owns a process's local bbolt file. It has two halves that share only Open: the
// replica half (replica.go: the records an API replica serves and the last key-value revision
// applied; used through index.Replica) and the indexer half (state.go: what the indexer
// concluded per repository, tag and manifest, the layout conflicts and its bucket writes; used
// through indexer.State). An API process's file holds only the first, an indexer's only the
// second.
//
// Schema (bucket → key → value):
//
//	packages            package key ("<name>/<version>")  → encoded index record (as in the KV bucket)
//	meta                "kv_revision"                     → uint64, big endian
//	repositories        repository name                   → nested bucket: tag → JSON TagState
//	manifests           ManifestID "<digest> <key>[ <policy>]" → JSON ManifestState
//	conflicts           "<package key> <repository>"      → JSON Conflict (that repository's copy is not served)
//	published           package key                       → JSON Published (what the indexer last wrote to the bucket)
//
// bbolt takes an exclusive file lock, so each process keeps its own file and nothing here is
// shared across processes. Every write is one transaction, fsynced on commit.
package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

var (
	bucketPackages     = []byte("packages")
	bucketRepositories = []byte("repositories")
	bucketManifests    = []byte("manifests")
	bucketMeta         = []byte("meta")
	bucketConflicts    = []byte("conflicts")
	bucketPublished    = []byte("published")
	keyKVRevision      = []byte("kv_revision")
)

// DB is an open store.
type DB struct {
	bolt *bolt.DB
}

// Open opens or creates the database file, waiting up to a few seconds for another process to
// release it.
func Open(path string) (*DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	b, err := openBolt(path, &bolt.Options{Timeout: 5 * time.Second})
	if _, ok := errors.AsType[*CorruptError](err); ok {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	err = b.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketPackages, bucketRepositories, bucketManifests, bucketMeta, bucketConflicts, bucketPublished} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("store: init %s: %w", path, err)
	}
	return &DB{bolt: b}, nil
}

// Close releases the file.
func (db *DB) Close() error { return db.bolt.Close() }
