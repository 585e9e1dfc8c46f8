package oci

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"oras.land/oras-go/v2/errdef"
)

// Bounds on what one registry answer may cost. A registry is trusted to say what it holds, not
// to be well behaved: a Link header that loops, a listing that never ends or a server that
// trickles its answer must each end in an error, not in a reconcile that never returns or a
// process that grows without bound.
const (
	// DefaultMaxTags bounds one repository's tag listing; the largest real package repository
	// holds tens of thousands of versions.
	DefaultMaxTags = 200_000
	// DefaultMaxTagBytes bounds the bytes of tag names one listing keeps in memory.
	DefaultMaxTagBytes = 16 << 20
	// maxReferrers bounds how many referrers of one manifest are read, of any artifact type: a
	// subject anyone can attach referrers to must not make a listing unbounded.
	maxReferrers = 1000
	// maxReferrerPages bounds referrers pagination: empty pages that each link onward would
	// otherwise keep a listing running forever. oras-go reads each page into memory bounded
	// by its MaxMetadataBytes (4 MiB).
	maxReferrerPages = 100
	// DefaultRequestTimeout bounds each registry request but blob transfers, body included:
	// a tag page, a manifest or a referrers page takes milliseconds, so only a registry that
	// stalls or trickles comes near it. Blob downloads are bounded by BlobCache.FetchTimeout.
	DefaultRequestTimeout = time.Minute
)

// LimitError is a registry answer that exceeded one of the bounds above. It wraps
// ErrTooLarge; Bound is a stable name, used as a metric label.
type LimitError struct {
	Bound string // "tags", "tag_bytes", "tag_pages", "catalog_pages", "referrers", "referrer_pages"
	Limit int64
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("%v: more than %d %s", ErrTooLarge, e.Limit, strings.ReplaceAll(e.Bound, "_", " "))
}

func (e *LimitError) Unwrap() error { return ErrTooLarge }

// pagesLimit turns oras-go's page bound error into a LimitError.
func pagesLimit(err error, bound string, limit int) error {
	if errors.Is(err, errdef.ErrTooManyPages) {
		return fmt.Errorf("%w (%w)", &LimitError{Bound: bound, Limit: int64(limit)}, err)
	}
	return err
}

// tagCollector gathers a listing's pages within the tag and byte bounds.
type tagCollector struct {
	maxTags, maxBytes int
	tags              []string
	bytes             int
}

func (tc *tagCollector) add(page []string) error {
	for _, t := range page {
		tc.bytes += len(t)
	}
	if len(tc.tags)+len(page) > tc.maxTags {
		return &LimitError{Bound: "tags", Limit: int64(tc.maxTags)}
	}
	if tc.bytes > tc.maxBytes {
		return &LimitError{Bound: "tag_bytes", Limit: int64(tc.maxBytes)}
	}
	tc.tags = append(tc.tags, page...)
	return nil
}

// withRequestDeadline returns a copy of base whose requests each end after timeout, body
// included, unless they transfer a blob (their caller bounds those: a zip may take minutes).
// The caller's context still ends a request earlier.
func withRequestDeadline(base *http.Client, timeout time.Duration) *http.Client {
	if timeout <= 0 {
		return base
	}
	next := base.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	c := *base
	c.Transport = &deadlineTransport{next: next, timeout: timeout}
	return &c
}

type deadlineTransport struct {
	next    http.RoundTripper
	timeout time.Duration
}

func (t *deadlineTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.Contains(req.URL.Path, "/blobs/") {
		return t.next.RoundTrip(req)
	}
	ctx, cancel := context.WithTimeoutCause(req.Context(), t.timeout,
		fmt.Errorf("registry request exceeded its deadline of %s: %w", t.timeout, context.DeadlineExceeded))
	resp, err := t.next.RoundTrip(req.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// cancelOnClose releases a request's deadline once its body is closed.
type cancelOnClose struct {
	io.ReadCloser
	once   sync.Once
	cancel context.CancelFunc
}

func (b *cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.cancel)
	return err
}
