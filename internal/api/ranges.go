package api

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"sync"

	"github.com/oci-epr/package-registry/internal/packages"
)

// Range requests on files inside a package zip. A deflated entry can only be
// read from its start, so a range at offset o costs inflating o bytes, and a
// header listing ranges last-first makes every range start over: 60 one-byte
// ranges on a 16 MiB file inflated ~500 MiB from a 1 KB request. The policy
// keeps every request to one forward pass over the entry:
//
//   - at most maxRanges ranges, for any entry;
//   - on a deflated entry, several ranges only in ascending order without
//     overlap, which http.ServeContent serves in that order, moving forward;
//   - a stored entry is read at any offset directly (packages.OpenSection),
//     so its ranges may come in any order.
//
// A Range header outside the policy is ignored and the whole file is served
// with 200, which RFC 9110 §14.2 allows. Whatever the header, the reader of
// a deflated entry refuses to inflate more than its size plus inflateSlack,
// and every reader stops when the request's context ends (client gone).

// maxRanges is more than any download client asks for in one request
// (resuming needs one range; parallel fetchers use one range per request).
const maxRanges = 8

// inflateSlack covers the one legitimate re-read: http.ServeContent sniffs
// the first 512 bytes of a type it does not know, then seeks back to 0.
const inflateSlack = 64 << 10

// errInflateBudget ends a response whose reads would inflate the entry more
// than once; the range policy keeps requests from getting there.
var errInflateBudget = errors.New("reading the entry would inflate more than its size")

// Reasons a Range header is ignored, the label of epr_ignored_ranges_total.
const (
	rangeTooMany   = "too_many"
	rangeUnordered = "unordered"
)

// rangeVerdict says why the Range header h on an entry of size bytes is not
// honoured, or "" when it is. seekable is true for stored entries.
func rangeVerdict(h string, size int64, seekable bool) string {
	spec, ok := strings.CutPrefix(h, "bytes=")
	if !ok {
		return "" // not a byte range: http.ServeContent answers it without reading
	}
	n := 0
	for _, ra := range strings.Split(spec, ",") {
		if textproto.TrimString(ra) != "" {
			n++
		}
	}
	if n > maxRanges {
		return rangeTooMany
	}
	if seekable || n <= 1 {
		return ""
	}
	spans, ok := parseRanges(spec, size)
	if !ok {
		// Malformed: http.ServeContent answers 416 before reading. Should the
		// two parsers ever disagree, the inflate budget still holds.
		return ""
	}
	for i := 1; i < len(spans); i++ {
		if spans[i].start < spans[i-1].end {
			return rangeUnordered
		}
	}
	return ""
}

// span is a satisfiable range, [start, end).
type span struct{ start, end int64 }

// parseRanges resolves the ranges of a "bytes=" header the way
// http.ServeContent does, leaving out those that start past the end.
func parseRanges(spec string, size int64) ([]span, bool) {
	var out []span
	for _, ra := range strings.Split(spec, ",") {
		ra = textproto.TrimString(ra)
		if ra == "" {
			continue
		}
		first, last, ok := strings.Cut(ra, "-")
		if !ok {
			return nil, false
		}
		first, last = textproto.TrimString(first), textproto.TrimString(last)
		if first == "" { // suffix: the last n bytes
			n, err := strconv.ParseInt(last, 10, 64)
			if last == "" || last[0] == '-' || err != nil || n < 0 {
				return nil, false
			}
			out = append(out, span{size - min(n, size), size})
			continue
		}
		start, err := strconv.ParseInt(first, 10, 64)
		if err != nil || start < 0 {
			return nil, false
		}
		end := size
		if last != "" {
			e, err := strconv.ParseInt(last, 10, 64)
			if err != nil || start > e {
				return nil, false
			}
			end = min(e+1, size)
		}
		if start >= size {
			continue
		}
		out = append(out, span{start, end})
	}
	return out, true
}

// applyRangePolicy drops a Range header the policy does not honour, so that
// http.ServeContent answers 200 with the whole file.
func (s *Server) applyRangePolicy(r *http.Request, fe packages.FileEntry) {
	h := r.Header.Get("Range")
	if h == "" {
		return
	}
	if reason := rangeVerdict(h, fe.Size, fe.Stored()); reason != "" {
		r.Header.Del("Range")
		s.metrics.rangesIgnored.WithLabelValues(reason).Inc()
	}
}

// openEntry returns the entry as http.ServeContent reads it: seekable, bound
// to ctx, and for deflated entries bounded in the bytes it inflates.
func openEntry(ctx context.Context, arch *packages.Archive, fe packages.FileEntry) io.ReadSeekCloser {
	if fe.Stored() {
		if sec, err := arch.OpenSection(fe.Rel); err == nil {
			return &sectionReader{ctx: ctx, sec: sec}
		}
	}
	return &entryReader{ctx: ctx, arch: arch, rel: fe.Rel, size: fe.Size, budget: fe.Size + inflateSlack}
}

// sectionReader reads a stored entry in place.
type sectionReader struct {
	ctx context.Context
	sec *io.SectionReader
}

func (r *sectionReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.sec.Read(p)
}

func (r *sectionReader) Seek(off int64, whence int) (int64, error) { return r.sec.Seek(off, whence) }
func (r *sectionReader) Close() error                              { return nil }

// entryReader makes a deflated entry seekable for http.ServeContent without
// inflating it into memory: seeking is free, and a read at another offset
// than the stream's re-opens (backwards) or skips ahead (forwards), all of
// it counted against budget. It is locked because http.ServeContent reads
// multipart ranges from a goroutine that can outlive the handler.
type entryReader struct {
	ctx    context.Context
	arch   *packages.Archive
	rel    string
	size   int64
	budget int64 // bytes left to inflate, skipped ones included

	mu     sync.Mutex
	pos    int64
	rc     io.ReadCloser
	src    io.Reader // rc, checked against ctx and budget
	rcPos  int64
	closed bool
}

func (r *entryReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return 0, errors.New("entryReader: read after close")
	}
	if r.pos >= r.size {
		return 0, io.EOF
	}
	if r.rc == nil || r.rcPos > r.pos {
		if r.rc != nil {
			_ = r.rc.Close()
		}
		rc, _, err := r.arch.Open(r.rel)
		if err != nil {
			r.rc = nil
			return 0, err
		}
		r.rc, r.rcPos = rc, 0
		r.src = &meteredReader{ctx: r.ctx, r: rc, left: &r.budget}
	}
	if r.rcPos < r.pos {
		n, err := io.CopyN(io.Discard, r.src, r.pos-r.rcPos)
		r.rcPos += n
		if err != nil {
			return 0, err
		}
	}
	if rem := r.size - r.pos; int64(len(p)) > rem {
		p = p[:rem]
	}
	n, err := r.src.Read(p)
	r.pos += int64(n)
	r.rcPos += int64(n)
	if err == io.EOF && r.pos < r.size {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

func (r *entryReader) Seek(offset int64, whence int) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = r.pos + offset
	case io.SeekEnd:
		abs = r.size + offset
	default:
		return 0, errors.New("entryReader.Seek: invalid whence")
	}
	if abs < 0 {
		return 0, errors.New("entryReader.Seek: negative position")
	}
	r.pos = abs
	return abs, nil
}

func (r *entryReader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	if r.rc == nil {
		return nil
	}
	err := r.rc.Close()
	r.rc = nil
	return err
}

// meteredReader stops when ctx ends or *left bytes have been read.
type meteredReader struct {
	ctx  context.Context
	r    io.Reader
	left *int64
}

func (m *meteredReader) Read(p []byte) (int, error) {
	if err := m.ctx.Err(); err != nil {
		return 0, err
	}
	if *m.left <= 0 {
		return 0, errInflateBudget
	}
	if int64(len(p)) > *m.left {
		p = p[:*m.left]
	}
	n, err := m.r.Read(p)
	*m.left -= int64(n)
	return n, err
}
