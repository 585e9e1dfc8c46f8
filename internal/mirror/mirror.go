package mirror

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-epr/package-registry/internal/oci"
)

// Annotations written on every mirrored manifest; the indexer does not read them.
const (
	AnnotationSource = "org.oci-epr.mirror.source"
	AnnotationETag   = "org.oci-epr.mirror.source-etag"
)

// Selection is what Fleet would ask the source's /search for.
type Selection struct {
	// Packages limits the copy to these names; empty copies every package the search returns.
	Packages      []string
	KibanaVersion string
	SpecMin       string
	SpecMax       string
	Prerelease    bool
	// AllVersions copies every version; otherwise only what /search calls the latest.
	AllVersions  bool
	Capabilities []string
}

// Query is the /search query string the selection stands for.
func (s Selection) Query() url.Values {
	q := url.Values{}
	if s.AllVersions {
		q.Set("all", "true")
	}
	if s.Prerelease {
		q.Set("prerelease", "true")
	}
	if s.KibanaVersion != "" {
		q.Set("kibana.version", s.KibanaVersion)
	}
	if s.SpecMin != "" {
		q.Set("spec.min", s.SpecMin)
	}
	if s.SpecMax != "" {
		q.Set("spec.max", s.SpecMax)
	}
	if len(s.Capabilities) > 0 {
		q.Set("capabilities", strings.Join(s.Capabilities, ","))
	}
	if len(s.Packages) == 1 {
		q.Set("package", s.Packages[0])
	}
	return q
}

// Options configures a run.
type Options struct {
	// From is the source registry's base URL.
	From string
	// To is where versions go: Registry or Layout.
	To        Destination
	Selection Selection
	// Parallelism bounds the versions copied at once (default 4).
	Parallelism int
	// Keyring, when not nil, must verify every zip's detached signature.
	Keyring openpgp.EntityList
	// AllowUnsigned copies versions without a signature even when Keyring is set.
	AllowUnsigned bool
	DryRun        bool
	// MaxZipBytes bounds one download (default 512 MiB, the indexer's default).
	MaxZipBytes int64
	// Retries is how many times a request that failed with a 5xx or a network error is tried
	// again (default 4); RetryDelay the first wait, doubled each time (default 500ms).
	Retries    int
	RetryDelay time.Duration
	HTTPClient *http.Client
	Log        *slog.Logger
	Progress   Progress
}

// Outcome is what happened to one version.
type Outcome string

const (
	Copied    Outcome = "copied"
	Present   Outcome = "present"  // already at the destination with the same zip
	Unsigned  Outcome = "unsigned" // skipped: no signature while a key was given
	WouldCopy Outcome = "would_copy"
	Excluded  Outcome = "excluded" // a local package the selection leaves out
	Failed    Outcome = "failed"
)

// Result is one version's outcome.
type Result struct {
	Name, Version string
	Outcome       Outcome
	// Bytes downloaded (zip and signature).
	Bytes int64
	Err   error
}

// Summary is the whole run.
type Summary struct {
	Results  []Result
	Bytes    int64
	Duration time.Duration
}

// Count returns how many versions had outcome o.
func (s Summary) Count(o Outcome) int {
	n := 0
	for _, r := range s.Results {
		if r.Outcome == o {
			n++
		}
	}
	return n
}

// Err joins the failures, nil when there were none.
func (s Summary) Err() error {
	var errs []error
	for _, r := range s.Results {
		if r.Outcome == Failed {
			errs = append(errs, fmt.Errorf("%s-%s: %w", r.Name, r.Version, r.Err))
		}
	}
	return errors.Join(errs...)
}

// Progress hears about a run as it goes.
type Progress interface {
	Start(total int)
	Done(r Result)
}

// PermanentError is a 4xx answer: the request is not retried.
type PermanentError struct {
	URL    string
	Status int
}

func (e *PermanentError) Error() string {
	return fmt.Sprintf("GET %s: %d %s", e.URL, e.Status, http.StatusText(e.Status))
}

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
	base string
}

// Run copies the selection. Failures of single versions are in the summary (Summary.Err); the
// error is for a run that could not start (the search failed) or was cancelled.
func Run(ctx context.Context, o Options) (Summary, error) {
	start := time.Now()
	o.defaults()
	m := &mirror{Options: o, base: strings.TrimSuffix(o.From, "/")}
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
	u := m.base + "/search"
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
	docURL := m.base + "/package/" + url.PathEscape(it.Name) + "/" + url.PathEscape(it.Version) + "/"
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
	zipURL := m.base + doc.Download

	_, head, err := m.get(ctx, http.MethodHead, zipURL, 0)
	if err != nil {
		r.Err = err
		return r
	}
	present, err := m.present(ctx, it, zipURL, head, doc.SignaturePath != "")
	if err != nil {
		r.Err = err
		return r
	}
	if present {
		r.Outcome = Present
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
	r.Bytes += int64(len(zipData))
	var sig []byte
	if doc.SignaturePath != "" {
		if sig, _, err = m.get(ctx, http.MethodGet, m.base+doc.SignaturePath, 1<<20); err != nil {
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
	ann := map[string]string{AnnotationSource: zipURL}
	if etag := resp.Get("ETag"); etag != "" {
		ann[AnnotationETag] = etag
	}
	if err := m.To.Push(ctx, it.Name, it.Version, zipData, sig, ann); err != nil {
		r.Err = err
		return r
	}
	r.Outcome = Copied
	return r
}

// present applies the skip rule of the package documentation.
func (m *mirror) present(ctx context.Context, it item, zipURL string, head http.Header, wantSig bool) (bool, error) {
	man, err := m.To.Manifest(ctx, it.Name, it.Version)
	if err != nil || man == nil {
		return false, err
	}
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
		return false, nil
	}
	etag := head.Get("ETag")
	if d, ok := strings.CutPrefix(strings.Trim(etag, `"`), "sha256:"); ok {
		return "sha256:"+d == zipLayer.Digest.String(), nil
	}
	if etag != "" {
		return man.Annotations[AnnotationETag] == etag, nil
	}
	return head.Get("Content-Length") == fmt.Sprint(zipLayer.Size) && man.Annotations[AnnotationSource] == zipURL, nil
}

// get fetches u, retrying 5xx answers and network errors with exponential backoff, never 4xx.
// The body is read up to limit bytes; more is an error.
func (m *mirror) get(ctx context.Context, method, u string, limit int64) ([]byte, http.Header, error) {
	delay := m.RetryDelay
	for attempt := 0; ; attempt++ {
		body, h, err := m.once(ctx, method, u, limit)
		var perm *PermanentError
		if err == nil || errors.As(err, &perm) || ctx.Err() != nil || attempt >= m.Retries {
			return body, h, err
		}
		m.Log.Debug("retrying", "url", u, "attempt", attempt+1, "error", err)
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
		delay *= 2
	}
}

func (m *mirror) once(ctx context.Context, method, u string, limit int64) ([]byte, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, nil, &PermanentError{URL: u, Status: http.StatusBadRequest}
	}
	resp, err := m.HTTPClient.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 && resp.StatusCode < 500 {
		return nil, nil, &PermanentError{URL: u, Status: resp.StatusCode}
	}
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("%s %s: %s", method, u, resp.Status)
	}
	if method == http.MethodHead {
		return nil, resp.Header, nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, nil, err
	}
	if int64(len(body)) > limit {
		return nil, nil, &PermanentError{URL: u, Status: http.StatusRequestEntityTooLarge}
	}
	return body, resp.Header, nil
}

// ReadKeyring reads an OpenPGP public key ring, armored or binary.
func ReadKeyring(data []byte) (openpgp.EntityList, error) {
	if kr, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(data)); err == nil {
		return kr, nil
	}
	kr, err := openpgp.ReadKeyRing(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("mirror: not an OpenPGP public key: %w", err)
	}
	return kr, nil
}

// Verify checks a detached signature (armored, as EPR serves it, or binary) of data.
func Verify(kr openpgp.EntityList, data, sig []byte) error {
	var err error
	if bytes.Contains(sig, []byte("-----BEGIN PGP SIGNATURE-----")) {
		_, err = openpgp.CheckArmoredDetachedSignature(kr, bytes.NewReader(data), bytes.NewReader(sig), nil)
	} else {
		_, err = openpgp.CheckDetachedSignature(kr, bytes.NewReader(data), bytes.NewReader(sig), nil)
	}
	if err != nil {
		return fmt.Errorf("signature does not verify: %w", err)
	}
	return nil
}
