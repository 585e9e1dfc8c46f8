package store

import (
	"encoding/binary"
	"errors"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// The replica half: what an API process serves (the records, as in the bucket) and the last
// key-value revision it applied. Only internal/index reads and writes it (index.Replica).

// PackageChange is one put (Value set) or delete (Value nil) of a package record.
type PackageChange struct {
	Key   string
	Value []byte
}

// ApplyPackages applies changes and records revision in one transaction, so a crash leaves the
// replica at a revision whose changes are all present.
func (db *DB) ApplyPackages(changes []PackageChange, revision uint64) error {
	return db.bolt.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketPackages)
		for _, c := range changes {
			var err error
			if c.Value == nil {
				err = b.Delete([]byte(c.Key))
			} else {
				err = b.Put([]byte(c.Key), c.Value)
			}
			if err != nil {
				return err
			}
		}
		var rev [8]byte
		binary.BigEndian.PutUint64(rev[:], revision)
		return tx.Bucket(bucketMeta).Put(keyKVRevision, rev[:])
	})
}

// ReplacePackages makes the package bucket hold exactly records, at revision. A replica uses it
// when it must re-read the whole index.
func (db *DB) ReplacePackages(records map[string][]byte, revision uint64) error {
	return db.bolt.Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket(bucketPackages); err != nil && !errors.Is(err, berrors.ErrBucketNotFound) {
			return err
		}
		b, err := tx.CreateBucket(bucketPackages)
		if err != nil {
			return err
		}
		for k, v := range records {
			if err := b.Put([]byte(k), v); err != nil {
				return err
			}
		}
		var rev [8]byte
		binary.BigEndian.PutUint64(rev[:], revision)
		return tx.Bucket(bucketMeta).Put(keyKVRevision, rev[:])
	})
}

// KVRevision is the last key-value revision applied; 0 when none was.
func (db *DB) KVRevision() (uint64, error) {
	var rev uint64
	err := db.bolt.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get(keyKVRevision); len(v) == 8 {
			rev = binary.BigEndian.Uint64(v)
		}
		return nil
	})
	return rev, err
}

// ForEachPackage calls fn for every stored record, in key order. The value is only valid during
// the call.
func (db *DB) ForEachPackage(fn func(key string, value []byte) error) error {
	return db.bolt.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketPackages).ForEach(func(k, v []byte) error { return fn(string(k), v) })
	})
}

// Package returns one record, or nil when absent.
func (db *DB) Package(key string) ([]byte, error) {
	var out []byte
	err := db.bolt.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketPackages).Get([]byte(key)); v != nil {
			out = append([]byte(nil), v...)
		}
		return nil
	})
	return out, err
}
