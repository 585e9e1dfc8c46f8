package mirror

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/opencontainers/go-digest"

	"github.com/oci-epr/package-registry/internal/status"
)

// Annotations written on every mirrored manifest; the indexer does not read them.
const (
	// AnnotationSource is the zip's URL on the source, without credentials.
	AnnotationSource = "org.oci-epr.mirror.source"
	AnnotationETag   = "org.oci-epr.mirror.source-etag"
	// AnnotationDocument is the digest of the source's package document (/package/<n>/<v>/)
	// when the version was copied: a source that sends neither ETag nor Content-Length for its
	// zips (EPR building them from directories) is matched by it on the next run.
	AnnotationDocument = "org.oci-epr.mirror.source-document"
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
	// Digest is the manifest digest the destination holds for the version: the one pushed
	// (Copied) or found (Present).
	Digest digest.Digest
	// Served is how the wait for the version to be served ended (WaitServed); nil when not
	// waited for.
	Served *status.WaitResult
}

// NotServed reports whether the version was waited for and is not served: refused, or not
// served when the wait ended.
func (r Result) NotServed() bool { return r.Served != nil && r.Served.Verdict != status.Done }

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

// Err joins the failures, and the versions waited for that are not served, nil when there
// were none.
func (s Summary) Err() error {
	var errs []error
	for _, r := range s.Results {
		switch {
		case r.Outcome == Failed:
			errs = append(errs, fmt.Errorf("%s-%s: %w", r.Name, r.Version, r.Err))
		case r.NotServed():
			errs = append(errs, fmt.Errorf("%s-%s: not served: %s", r.Name, r.Version, r.Served.Why()))
		}
	}
	return errors.Join(errs...)
}

// Progress hears about a run as it goes.
type Progress interface {
	Start(total int)
	Done(r Result)
}
