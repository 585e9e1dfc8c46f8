package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// A store is rebuildable (the indexer's from the registry, a replica's from the index bucket),
// so a damaged file must cost a rebuild, never the process: bbolt trusts its file and, on a
// truncated or overwritten one, panics or faults on its memory map (SIGBUS) inside bolt.Open.
// The file is therefore checked before it is opened, opened and read through once with faults
// turned into panics and panics recovered, and, if damaged, moved aside for inspection.

// CorruptError says that a store file cannot be used, and why.
type CorruptError struct {
	Path   string
	Reason string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("store: %s is damaged: %s", e.Path, e.Reason)
}

// Layout of a bbolt meta page (bbolt's file format, version 2): a 16-byte page header, then
// magic, version, page size, flags (4 bytes each), root bucket (16), freelist page (8), high
// water mark page id (8), transaction id (8) and an FNV-64a checksum of the meta before it.
const (
	boltMagic      = 0xED0CDAED
	boltVersion    = 2
	metaOffset     = 16
	metaChecksumAt = metaOffset + 56
	metaSize       = metaChecksumAt + 8
)

// boltMeta is what CheckFile reads of one meta page.
type boltMeta struct {
	pageSize uint32
	pgid     uint64 // pages in use: the file must hold at least pgid × pageSize bytes
	txid     uint64
}

// parseMeta reads the meta page in b, or says why it is not one.
func parseMeta(b []byte) (boltMeta, error) {
	if len(b) < metaSize {
		return boltMeta{}, errors.New("shorter than a meta page")
	}
	le := binary.LittleEndian
	if le.Uint32(b[metaOffset:]) != boltMagic {
		return boltMeta{}, errors.New("no bbolt magic number")
	}
	if v := le.Uint32(b[metaOffset+4:]); v != boltVersion {
		return boltMeta{}, fmt.Errorf("format version %d, want %d", v, boltVersion)
	}
	h := fnv.New64a()
	h.Write(b[metaOffset:metaChecksumAt])
	if h.Sum64() != le.Uint64(b[metaChecksumAt:]) {
		return boltMeta{}, errors.New("meta page checksum mismatch")
	}
	m := boltMeta{pageSize: le.Uint32(b[metaOffset+8:]), pgid: le.Uint64(b[metaOffset+40:]), txid: le.Uint64(b[metaOffset+48:])}
	if m.pageSize < 512 || m.pageSize > 1<<20 || m.pageSize&(m.pageSize-1) != 0 {
		return boltMeta{}, fmt.Errorf("page size %d", m.pageSize)
	}
	return m, nil
}

// CheckFile reports, without opening it with bbolt, whether the file at path is damaged in a way
// that would crash bbolt.Open: meta pages both invalid (zeroed, overwritten, not a bbolt file),
// or a file shorter than its meta says (truncated). A missing or empty file is a new store.
func CheckFile(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if st.Size() == 0 {
		return nil
	}
	corrupt := func(format string, args ...any) error {
		return &CorruptError{Path: path, Reason: fmt.Sprintf(format, args...)}
	}
	read := func(off int64) []byte {
		b := make([]byte, metaSize)
		n, _ := f.ReadAt(b, off)
		return b[:n]
	}
	m0, err0 := parseMeta(read(0))
	second := int64(os.Getpagesize())
	if err0 == nil {
		second = int64(m0.pageSize)
	}
	m1, err1 := parseMeta(read(second))
	var m boltMeta
	switch {
	case err0 != nil && err1 != nil:
		return corrupt("both meta pages are invalid (%v; %v)", err0, err1)
	case err0 != nil:
		m = m1
	case err1 != nil || m0.txid >= m1.txid:
		m = m0
	default:
		m = m1
	}
	if need := int64(m.pgid) * int64(m.pageSize); st.Size() < need {
		return corrupt("truncated: %d bytes, its meta page needs %d", st.Size(), need)
	}
	return nil
}

// openBolt opens path with bbolt after CheckFile, and reads every bucket and key once, with
// memory faults turned into panics and panics into a *CorruptError.
func openBolt(path string, opts *bolt.Options) (db *bolt.DB, err error) {
	if err := CheckFile(path); err != nil {
		return nil, err
	}
	// The file bbolt opens is kept, to be closed (releasing its lock) even when bbolt panics
	// half-way through Open, before it has a DB to close.
	var file *os.File
	o := *opts
	o.OpenFile = func(name string, flag int, perm os.FileMode) (*os.File, error) {
		f, err := os.OpenFile(name, flag, perm)
		file = f
		return f, err
	}
	var tx *bolt.Tx
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			// A panic inside bolt.Open leaves its memory map, which holds the file's lock until
			// the process ends: OpenOrRebuild moves the file aside rather than open it again.
			if tx != nil {
				rollbackQuietly(tx)
			}
			if db != nil {
				closeQuietly(db)
				db = nil
			}
			if file != nil {
				_ = file.Close()
			}
			err = &CorruptError{Path: path, Reason: fmt.Sprintf("bbolt failed reading it: %v", r)}
		}
	}()
	db, err = bolt.Open(path, 0o600, &o)
	if errors.Is(err, berrors.ErrInvalid) || errors.Is(err, berrors.ErrVersionMismatch) || errors.Is(err, berrors.ErrChecksum) {
		return nil, &CorruptError{Path: path, Reason: err.Error()}
	}
	if err != nil {
		return nil, err
	}
	// A transaction of its own rather than View: after a panic it must still be rolled back,
	// or closing the database would wait for it for ever.
	if tx, err = db.Begin(false); err != nil {
		closeQuietly(db)
		return nil, &CorruptError{Path: path, Reason: err.Error()}
	}
	err = walkAll(tx)
	rollbackQuietly(tx)
	tx = nil
	if err != nil {
		closeQuietly(db)
		return nil, &CorruptError{Path: path, Reason: err.Error()}
	}
	return db, nil
}

func rollbackQuietly(tx *bolt.Tx) {
	defer func() { _ = recover() }()
	_ = tx.Rollback()
}

// closeQuietly closes a damaged database, whose Close may panic too.
func closeQuietly(db *bolt.DB) {
	defer func() { _ = recover() }()
	_ = db.Close()
}

// walkAll touches every bucket, key and value, so that a damaged page shows now and not under
// a request later.
func walkAll(tx *bolt.Tx) error {
	var walk func(b *bolt.Bucket) error
	walk = func(b *bolt.Bucket) error {
		return b.ForEach(func(k, v []byte) error {
			if v == nil {
				if nested := b.Bucket(k); nested != nil {
					return walk(nested)
				}
			}
			_, _ = io.Discard.Write(v)
			return nil
		})
	}
	return tx.ForEach(func(_ []byte, b *bolt.Bucket) error { return walk(b) })
}

// OpenOrRebuild opens the store at path like Open; a damaged file is moved aside to
// "<path>.corrupt-<UTC time>", logged with the reason, and replaced by an empty store that the
// caller rebuilds (the indexer from the registry, a replica from the index bucket).
func OpenOrRebuild(path string, log *slog.Logger) (*DB, error) {
	db, err := Open(path)
	var ce *CorruptError
	if !errors.As(err, &ce) {
		return db, err
	}
	aside := fmt.Sprintf("%s.corrupt-%s", path, time.Now().UTC().Format("20060102T150405Z"))
	if err := os.Rename(path, aside); err != nil {
		return nil, fmt.Errorf("%w; moving it aside failed: %w", ce, err)
	}
	log.Error("store file is damaged; moved aside, starting from an empty store that is rebuilt",
		"file", path, "reason", ce.Reason, "moved_to", aside)
	return Open(path)
}
