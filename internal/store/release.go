package store

import bolt "go.etcd.io/bbolt"

// ReleasePages lets the kernel drop this process's mapping of the file's pages read so far. bbolt
// reads through a shared read-only memory map, and every page a read touched stays mapped and
// counts in the process's RSS: after an API replica has loaded or caught up with its whole index,
// that is the whole file (tens of MB at 10,000 versions) although it is not read again until the
// next write touches a few pages. The pages stay in the page cache; a later read maps them again.
// Safe at any time: the read transaction keeps bbolt from remapping meanwhile.
func (db *DB) ReleasePages() error {
	return db.bolt.View(func(tx *bolt.Tx) error {
		return releaseMapping(db.bolt.Info().Data, tx.Size())
	})
}
