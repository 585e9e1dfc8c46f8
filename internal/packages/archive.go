package packages

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Archive is a package zip whose layout has been checked: one top-level
// folder, safe relative paths, regular files only. It indexes files by their
// path relative to that folder, which is how the API addresses them.
// Opening scans the whole zip, so the API should keep one Archive per cached
// zip; it is safe for concurrent use if the underlying io.ReaderAt is (as
// *os.File and *bytes.Reader are).
type Archive struct {
	// Root is the top-level folder name; for a valid package it is
	// "<name>-<version>".
	Root   string
	files  map[string]*FileEntry
	assets []*FileEntry // level by level, then zip entry order
	dirs   []string     // directory entries below Root, as written in the zip
	ioErr  *ioErrorRecorder
	cost   int64 // estimated heap bytes, see MemoryCost
}

// FileEntry is a regular file of the archive.
type FileEntry struct {
	// Rel is the path below the top-level folder, e.g. "docs/README.md".
	Rel      string
	Size     int64
	Modified time.Time
	zf       *zip.File
}

// OpenArchiveBytes is OpenArchive over an in-memory zip.
func OpenArchiveBytes(zipBytes []byte, lim Limits) (*Archive, error) {
	return OpenArchive(bytes.NewReader(zipBytes), int64(len(zipBytes)), lim)
}

// OpenArchive checks the zip layout and indexes its files without inflating
// anything. Layout violations are *RejectError; failures of r itself are
// returned as they are, so that callers can retry them.
func OpenArchive(r io.ReaderAt, size int64, lim Limits) (*Archive, error) {
	lim = lim.withDefaults()
	if size < 0 {
		return nil, reject(RuleInvalidZip, "negative zip size")
	}
	if size > lim.MaxZipSize {
		return nil, reject(RuleZipTooLarge, fmt.Sprintf("zip is %d bytes, more than the limit of %d", size, lim.MaxZipSize))
	}
	rec := &ioErrorRecorder{r: r, size: size}
	// The standard parser keeps every central-directory header it finds, so
	// count header signatures first: an upper bound on what it would allocate.
	n, err := countDirectorySignatures(rec, size)
	if err != nil {
		return nil, err
	}
	if n > lim.MaxEntries {
		return nil, reject(RuleTooManyEntries, fmt.Sprintf("zip has more than %d entries", lim.MaxEntries))
	}
	zr, err := zip.NewReader(rec, size)
	if ioErr := rec.failure(); ioErr != nil {
		return nil, ioErr
	}
	// ErrInsecurePath only flags names checked below with clearer reasons.
	if err != nil && !(errors.Is(err, zip.ErrInsecurePath) && zr != nil) {
		return nil, reject(RuleInvalidZip, "not a readable zip: "+err.Error())
	}
	if len(zr.File) > lim.MaxEntries {
		return nil, reject(RuleTooManyEntries, fmt.Sprintf("zip has %d entries, more than the limit of %d", len(zr.File), lim.MaxEntries))
	}
	if len(zr.File) == 0 {
		return nil, reject(RuleLayout, "zip is empty")
	}

	a := &Archive{files: make(map[string]*FileEntry), ioErr: rec, cost: archiveBaseCost}
	seen := make(map[string]bool, len(zr.File))
	var declared uint64
	for _, zf := range zr.File {
		name := zf.Name
		a.cost += entryCost + 2*int64(len(name)) + int64(len(zf.Extra)+len(zf.Comment))
		if seen[name] {
			return nil, reject(RuleUnsafePath, fmt.Sprintf("zip entry %q appears twice", name))
		}
		seen[name] = true
		isDir := strings.HasSuffix(name, "/") || zf.Mode().IsDir()
		clean := strings.TrimSuffix(name, "/")
		if err := checkEntryName(name, clean); err != nil {
			return nil, err
		}
		mode := zf.Mode()
		if mode&fs.ModeSymlink != 0 {
			return nil, reject(RuleSymlink, fmt.Sprintf("zip entry %q is a symbolic link", name))
		}
		if !isDir && !mode.IsRegular() {
			return nil, reject(RuleSymlink, fmt.Sprintf("zip entry %q is not a regular file (mode %v)", name, mode))
		}
		root, rel, _ := strings.Cut(clean, "/")
		switch {
		case a.Root == "":
			a.Root = root
		case a.Root != root:
			return nil, reject(RuleLayout, fmt.Sprintf("zip has more than one top-level entry (%q and %q); exactly one folder <name>-<version>/ is allowed", a.Root, root))
		}
		if isDir {
			if rel != "" {
				a.dirs = append(a.dirs, rel)
			}
			continue
		}
		if rel == "" {
			return nil, reject(RuleLayout, fmt.Sprintf("zip has a file %q at the top level; files belong in the folder <name>-<version>/", name))
		}
		if zf.Flags&0x1 != 0 {
			return nil, reject(RuleInvalidZip, fmt.Sprintf("zip entry %q is encrypted", name))
		}
		if zf.Method != zip.Store && zf.Method != zip.Deflate {
			return nil, reject(RuleInvalidZip, fmt.Sprintf("zip entry %q uses unsupported compression method %d", name, zf.Method))
		}
		declared += zf.UncompressedSize64
		if zf.UncompressedSize64 > uint64(lim.MaxUncompressed) || declared > uint64(lim.MaxUncompressed) {
			return nil, reject(RuleTooLargeUncompressed, fmt.Sprintf("zip declares more than %d uncompressed bytes", lim.MaxUncompressed))
		}
		if zf.UncompressedSize64 > RatioCheckEntrySize && zf.UncompressedSize64 > uint64(lim.MaxEntryRatio)*max(zf.CompressedSize64, 1) {
			return nil, reject(RuleCompressionRatio, fmt.Sprintf("zip entry %q inflates %d bytes to %d, more than %d times", name, zf.CompressedSize64, zf.UncompressedSize64, lim.MaxEntryRatio))
		}
		e := &FileEntry{Rel: rel, Size: int64(zf.UncompressedSize64), Modified: zf.Modified, zf: zf}
		a.files[rel] = e
		if path.Base(rel) != ".DS_Store" {
			a.assets = append(a.assets, e)
		}
	}
	if declared > RatioCheckArchiveSize && declared > uint64(lim.MaxArchiveRatio)*uint64(max(size, 1)) {
		return nil, reject(RuleCompressionRatio, fmt.Sprintf("zip of %d bytes declares %d uncompressed bytes, more than %d times its size", size, declared, lim.MaxArchiveRatio))
	}
	// EPR lists assets level by level and, within a level, in the order the
	// zip's central directory gives them; a stable sort on depth alone keeps
	// that order.
	sort.SliceStable(a.assets, func(i, j int) bool {
		return strings.Count(a.assets[i].Rel, "/") < strings.Count(a.assets[j].Rel, "/")
	})
	return a, nil
}

// Heap an open Archive holds, measured with runtime.MemStats on archives of
// 1,000 and 19,000 entries (Go 1.26, amd64): about 320 bytes per entry (the
// zip.File and its header, our FileEntry, the map slot, the asset pointer)
// plus each name twice (archive/zip's copy and our map key). Rounded up.
const (
	archiveBaseCost = 4 << 10
	entryCost       = 352
)

// MemoryCost estimates the heap bytes the open archive holds, for caches
// that bound memory rather than a count of archives.
func (a *Archive) MemoryCost() int64 { return a.cost }

// checkEntryName refuses names that could escape the package folder or be
// read differently by other tools (Windows separators, NUL, bad UTF-8).
func checkEntryName(name, clean string) error {
	switch {
	case clean == "":
		return reject(RuleUnsafePath, fmt.Sprintf("zip entry with empty name %q", name))
	case !utf8.ValidString(name):
		return reject(RuleUnsafePath, fmt.Sprintf("zip entry name %q is not valid UTF-8", name))
	case strings.ContainsAny(name, "\\\x00"):
		return reject(RuleUnsafePath, fmt.Sprintf("zip entry name %q contains a backslash or NUL", name))
	case strings.HasPrefix(name, "/"):
		return reject(RuleUnsafePath, fmt.Sprintf("zip entry %q has an absolute path", name))
	}
	for _, seg := range strings.Split(clean, "/") {
		switch seg {
		case "..":
			return reject(RuleUnsafePath, fmt.Sprintf("zip entry %q contains \"..\"", name))
		case "", ".":
			return reject(RuleUnsafePath, fmt.Sprintf("zip entry %q is not a clean relative path", name))
		}
	}
	return nil
}

// countDirectorySignatures counts "PK\x01\x02" occurrences in the zip. Every
// central-directory header starts with it, so the count bounds the entries
// the standard parser can produce however the directory lies about itself.
func countDirectorySignatures(r io.ReaderAt, size int64) (int, error) {
	sig := []byte("PK\x01\x02")
	// Most zips are far smaller than a chunk; a buffer of the zip's size spares the allocator
	// a megabyte per package.
	chunk := int64(1 << 20)
	if size < chunk {
		chunk = max(size, 1)
	}
	buf := make([]byte, chunk+int64(len(sig))-1)
	count := 0
	carry := 0
	for off := int64(0); off < size; off += chunk {
		n := chunk
		if size-off < n {
			n = size - off
		}
		got, err := r.ReadAt(buf[carry:carry+int(n)], off)
		if err != nil && !(errors.Is(err, io.EOF) && int64(got) == n) {
			return 0, fmt.Errorf("reading zip: %w", err)
		}
		window := buf[:carry+got]
		count += bytes.Count(window, sig)
		// Keep the last bytes so a signature across chunks is seen once.
		carry = copy(buf, window[max(0, len(window)-(len(sig)-1)):])
	}
	return count, nil
}

// ioErrorRecorder tells the caller's I/O failures (retryable) apart from a
// malformed zip (a rejection), which archive/zip reports alike.
type ioErrorRecorder struct {
	r    io.ReaderAt
	size int64
	mu   sync.Mutex // an Archive is read concurrently by the API
	err  error
}

func (e *ioErrorRecorder) failure() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.err
}

func (e *ioErrorRecorder) ReadAt(p []byte, off int64) (int, error) {
	n, err := e.r.ReadAt(p, off)
	// Offsets outside the zip come from corrupt headers, not from the
	// storage: that failure belongs to the artifact.
	inside := off >= 0 && off < e.size
	if err != nil && inside && !errors.Is(err, io.EOF) {
		e.mu.Lock()
		if e.err == nil {
			e.err = fmt.Errorf("reading zip: %w", err)
		}
		e.mu.Unlock()
	}
	return n, err
}

// Files lists the regular files in asset order: level by level (top level
// first), then in the zip's own entry order. .DS_Store files are left out.
func (a *Archive) Files() []FileEntry {
	out := make([]FileEntry, len(a.assets))
	for i, e := range a.assets {
		out[i] = *e
	}
	return out
}

// Lookup finds the file the API route /package/<n>/<v>/<rel> names. rel may
// carry a leading "/"; paths that are not clean or leave the folder are not
// found rather than normalised, so one file has one URL.
func (a *Archive) Lookup(rel string) (FileEntry, bool) {
	rel = strings.TrimPrefix(rel, "/")
	e, ok := a.files[rel]
	if !ok {
		return FileEntry{}, false
	}
	return *e, true
}

// Open streams the file named rel. The reader fails rather than yield more
// bytes than the entry declares, and the zip's CRC is verified at EOF.
func (a *Archive) Open(rel string) (io.ReadCloser, FileEntry, error) {
	e, ok := a.Lookup(rel)
	if !ok {
		return nil, FileEntry{}, fs.ErrNotExist
	}
	rc, err := e.zf.Open()
	if err != nil {
		return nil, FileEntry{}, err
	}
	return &boundedReadCloser{r: io.LimitReader(rc, e.Size+1), c: rc, left: e.Size, name: rel}, e, nil
}

// Stored reports that the entry is kept uncompressed, so that any byte of it
// can be read directly (OpenSection) rather than by inflating from its start.
func (e FileEntry) Stored() bool {
	return e.zf != nil && e.zf.Method == zip.Store && e.zf.CompressedSize64 == e.zf.UncompressedSize64
}

// OpenSection gives random access to a stored entry's bytes. Unlike Open it
// cannot verify the CRC (a range does not cover the whole entry); the bytes
// are those of the zip the archive was opened over.
func (a *Archive) OpenSection(rel string) (*io.SectionReader, error) {
	e, ok := a.Lookup(rel)
	if !ok {
		return nil, fs.ErrNotExist
	}
	if !e.Stored() {
		return nil, fmt.Errorf("%s: not a stored entry", rel)
	}
	off, err := e.zf.DataOffset()
	if err != nil {
		return nil, err
	}
	if off < 0 || off > a.ioErr.size || e.Size > a.ioErr.size-off {
		return nil, fmt.Errorf("%s: data lies outside the zip", rel)
	}
	return io.NewSectionReader(a.ioErr, off, e.Size), nil
}

// ReadFile returns the whole content of the file named rel.
func (a *Archive) ReadFile(rel string) ([]byte, FileEntry, error) {
	rc, e, err := a.Open(rel)
	if err != nil {
		return nil, e, err
	}
	defer rc.Close()
	data := make([]byte, 0, e.Size)
	buf := bytes.NewBuffer(data)
	if _, err := buf.ReadFrom(rc); err != nil {
		if ioErr := a.ioErr.failure(); ioErr != nil {
			return nil, e, ioErr
		}
		return nil, e, err
	}
	return buf.Bytes(), e, nil
}

// errSizeMismatch marks an entry that inflates to more than it declares.
var errSizeMismatch = errors.New("zip entry is larger than its declared size")

type boundedReadCloser struct {
	r    io.Reader
	c    io.Closer
	left int64
	name string
}

func (b *boundedReadCloser) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		return 0, fmt.Errorf("%s: %w", b.name, errSizeMismatch)
	}
	return n, err
}

func (b *boundedReadCloser) Close() error { return b.c.Close() }
