package mirror

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-epr/package-registry/internal/oci"
)

type item struct {
	Name     string `json:"name"`
	Version  string `json:"version"`
	Download string `json:"download"`
}

type document struct {
	Download      string `json:"download"`
	SignaturePath string `json:"signature_path"`
}

type mirror struct {
	Options
	src *source
	// http is Options.HTTPClient with the source's redirect policy.
	http *http.Client
}

// Run copies the selection. Failures of single versions are in the summary (Summary.Err); the
// error is for a run that could not start (the search failed) or was cancelled.
func Run(ctx context.Context, o Options) (Summary, error) {
	start := time.Now()
	o.defaults()
	src, err := parseSource(o.From)
	if err != nil {
		return Summary{}, fmt.Errorf("mirror: %w", err)
	}
	m := &mirror{Options: o, src: src, http: src.client(o.HTTPClient)}
	items, err := m.search(ctx)
	if err != nil {
		return Summary{}, err
	}
	return runAll(ctx, o, start, len(items), func(i int) Result { return m.copy(ctx, items[i]) })
}

// defaults fills in the zero fields of o.
func (o *Options) defaults() {
	if o.Parallelism <= 0 {
		o.Parallelism = 4
	}
	if o.MaxZipBytes <= 0 {
		o.MaxZipBytes = 512 << 20
	}
	if o.Retries == 0 {
		o.Retries = 4
	}
	if o.RetryDelay <= 0 {
		o.RetryDelay = 500 * time.Millisecond
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 5 * time.Minute}
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
}

// runAll runs copy for items 0..n-1, o.Parallelism at a time, and sums up. A cancelled ctx
// stops handing out items; the summary holds those that were started.
func runAll(ctx context.Context, o Options, start time.Time, n int, copy func(int) Result) (Summary, error) {
	if o.Progress != nil {
		o.Progress.Start(n)
	}
	results := make([]Result, n)
	work := make(chan int)
	var wg sync.WaitGroup
	for range o.Parallelism {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				r := copy(i)
				results[i] = r
				if ctx.Err() == nil && o.Progress != nil {
					o.Progress.Done(r)
				}
			}
		}()
	}
hand:
	for i := range n {
		select {
		case work <- i:
		case <-ctx.Done():
			break hand
		}
	}
	close(work)
	wg.Wait()
	s := Summary{Duration: time.Since(start)}
	for _, r := range results {
		if r.Name == "" {
			continue // never started
		}
		s.Results = append(s.Results, r)
		s.Bytes += r.Bytes
	}
	return s, ctx.Err()
}

func (m *mirror) search(ctx context.Context) ([]item, error) {
	u := m.src.endpoint("/search")
	if q := m.Selection.Query().Encode(); q != "" {
		u += "?" + q
	}
	body, _, err := m.get(ctx, http.MethodGet, u, 64<<20)
	if err != nil {
		return nil, fmt.Errorf("mirror: search: %w", err)
	}
	var items []item
	if err := json.Unmarshal(body, &items); err != nil {
		return nil, fmt.Errorf("mirror: search %s: %w", u, err)
	}
	out := items[:0]
	for _, it := range items {
		if len(m.Selection.Packages) > 0 && !slices.Contains(m.Selection.Packages, it.Name) {
			continue
		}
		out = append(out, it)
	}
	return out, nil
}

func (m *mirror) copy(ctx context.Context, it item) (r Result) {
	r = Result{Name: it.Name, Version: it.Version}
	defer func() {
		if r.Err != nil {
			r.Outcome = Failed
			if ctx.Err() == nil {
				m.Log.Warn("version not copied", "package", it.Name, "version", it.Version, "error", r.Err)
			}
		}
	}()
	docURL := m.src.endpoint("/package/" + url.PathEscape(it.Name) + "/" + url.PathEscape(it.Version) + "/")
	raw, _, err := m.get(ctx, http.MethodGet, docURL, 16<<20)
	if err != nil {
		r.Err = err
		return r
	}
	var doc document
	if err := json.Unmarshal(raw, &doc); err != nil {
		r.Err = fmt.Errorf("package document: %w", err)
		return r
	}
	if doc.Download == "" {
		doc.Download = it.Download
	}
	if doc.Download == "" {
		r.Err = errors.New("package document has no download path")
		return r
	}
	if m.Keyring != nil && doc.SignaturePath == "" && !m.AllowUnsigned {
		r.Outcome = Unsigned
		return r
	}
	zipURL, err := m.src.resolve(doc.Download)
	if err != nil {
		r.Err = err
		return r
	}

	docDigest := digest.FromBytes(raw).String()
	_, head, err := m.get(ctx, http.MethodHead, zipURL, 0)
	if err != nil {
		r.Err = err
		return r
	}
	held, zipLayer, heldDigest, err := m.present(ctx, it, zipURL, docDigest, head, doc.SignaturePath != "")
	if err != nil {
		r.Err = err
		return r
	}
	if held == same {
		r.Outcome, r.Digest = Present, heldDigest
		return r
	}
	if m.DryRun {
		r.Outcome = WouldCopy
		return r
	}

	zipData, resp, err := m.get(ctx, http.MethodGet, zipURL, m.MaxZipBytes)
	if err != nil {
		r.Err = err
		return r
	}
	if held == unknown && digest.FromBytes(zipData) == zipLayer.Digest {
		// Only the bytes could tell, and they are the same: nothing to push.
		r.Bytes += int64(len(zipData))
		r.Outcome, r.Digest = Present, heldDigest
		return r
	}
	r.Bytes += int64(len(zipData))
	var sig []byte
	if doc.SignaturePath != "" {
		sigURL, err := m.src.resolve(doc.SignaturePath)
		if err != nil {
			r.Err = err
			return r
		}
		if sig, _, err = m.get(ctx, http.MethodGet, sigURL, 1<<20); err != nil {
			r.Err = err
			return r
		}
		r.Bytes += int64(len(sig))
	}
	if m.Keyring != nil && sig != nil {
		if err := Verify(m.Keyring, zipData, sig); err != nil {
			r.Err = err
			return r
		}
	}
	ann := map[string]string{AnnotationSource: zipURL, AnnotationDocument: docDigest}
	if etag := resp.Get("ETag"); etag != "" {
		ann[AnnotationETag] = etag
	}
	if r.Digest, r.Err = m.To.Push(ctx, it.Name, it.Version, zipData, sig, ann); r.Err != nil {
		return r
	}
	r.Outcome = Copied
	return r
}

// holding is what the destination holds of a version, compared with the source's.
type holding int

const (
	absent  holding = iota // nothing usable, or another zip: copy
	same                   // the same zip (and a signature when the source has one): skip
	unknown                // a zip the source's headers and our annotations cannot vouch for: compare bytes
)

// present applies the skip rule of the package documentation. docDigest is the digest of the
// source's package document for the version. It also returns the digest of the manifest the
// destination holds.
func (m *mirror) present(ctx context.Context, it item, zipURL, docDigest string, head http.Header, wantSig bool) (holding, *ocispec.Descriptor, digest.Digest, error) {
	man, held, err := m.To.Manifest(ctx, it.Name, it.Version)
	if err != nil || man == nil {
		return absent, nil, "", err
	}
	h, zipLayer := compare(man, zipURL, docDigest, head, wantSig)
	return h, zipLayer, held, nil
}

// compare is present's decision over the manifest the destination holds.
func compare(man *ocispec.Manifest, zipURL, docDigest string, head http.Header, wantSig bool) (holding, *ocispec.Descriptor) {
	var zipLayer *ocispec.Descriptor
	hasSig := false
	for i, l := range man.Layers {
		switch l.MediaType {
		case oci.MediaTypePackageZip:
			zipLayer = &man.Layers[i]
		case oci.MediaTypeSignature:
			hasSig = true
		}
	}
	if zipLayer == nil || (wantSig && !hasSig) {
		return absent, nil
	}
	verdict := func(ok bool) holding {
		if ok {
			return same
		}
		return absent
	}
	etag := head.Get("ETag")
	if d, ok := strings.CutPrefix(strings.Trim(etag, `"`), "sha256:"); ok {
		return verdict("sha256:"+d == zipLayer.Digest.String()), zipLayer
	}
	if etag != "" {
		return verdict(man.Annotations[AnnotationETag] == etag), zipLayer
	}
	length := head.Get("Content-Length")
	sameSource := man.Annotations[AnnotationSource] == zipURL
	if length != "" && length != fmt.Sprint(zipLayer.Size) {
		return absent, zipLayer
	}
	if recorded := man.Annotations[AnnotationDocument]; recorded != "" {
		return verdict(sameSource && recorded == docDigest), zipLayer
	}
	if length != "" {
		return verdict(sameSource), zipLayer
	}
	return unknown, zipLayer
}
