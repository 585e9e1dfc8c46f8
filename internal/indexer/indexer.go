// Package indexer owns turning "repository R changed" into the exact set of packages the registry
// holds: it lists R's tags, compares them with what it indexed before (kept in the local store),
// fetches and parses only digests it has not seen, publishes new and changed records to the
// shared index bucket and deletes records whose tags are gone — the latter only after a complete,
// successful listing. Requests for one repository are coalesced; repositories reconcile in
// parallel; a periodic resync repairs whatever notifications were lost.
package indexer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-epr/package-registry/internal/index"
	"github.com/oci-epr/package-registry/internal/oci"
	"github.com/oci-epr/package-registry/internal/packages"
	"github.com/oci-epr/package-registry/internal/store"
)

// Registry is what the indexer reads from the registry; *oci.Client implements it.
type Registry interface {
	Tags(ctx context.Context, repository string) ([]string, error)
	Resolve(ctx context.Context, repository, tag string) (ocispec.Descriptor, error)
	FetchManifest(ctx context.Context, repository string, desc ocispec.Descriptor) (ocispec.Manifest, []byte, error)
	// SignatureOf returns the signature attached to subject as an OCI referrer, or nil.
	SignatureOf(ctx context.Context, repository string, subject ocispec.Descriptor) (*ocispec.Descriptor, error)
}

// Blobs downloads a blob to local disk, once per digest, and returns its path.
type Blobs interface {
	Fetch(ctx context.Context, repository string, desc ocispec.Descriptor) (string, error)
}

// Bucket is where records are published; *index.Bucket implements it.
type Bucket interface {
	Put(ctx context.Context, key string, encoded []byte) error
	Delete(ctx context.Context, key string) error
	Keys(ctx context.Context) ([]string, error)
}

// Config wires an Indexer.
type Config struct {
	Layout   Layout
	Registry Registry
	Blobs    Blobs
	Bucket   Bucket
	DB       *store.DB
	Limits   packages.Limits
	// Catalog lists the registry's repositories; nil or oci.ErrCatalogUnsupported means the
	// indexer knows repositories only from events, its store and Repositories.
	Catalog func(ctx context.Context) ([]string, error)
	// Repositories are reconciled on every sync in addition to those discovered.
	Repositories []string
	// Parallelism bounds how many repositories reconcile at once.
	Parallelism int
	// Debounce is how long a request waits for more requests on the same repository before the
	// reconcile starts; a burst of notifications then costs one listing.
	Debounce time.Duration
	Log      *slog.Logger
	Metrics  *Metrics
	// Now is the clock; tests may fix it.
	Now func() time.Time
}

// Indexer reconciles repositories.
type Indexer struct {
	cfg Config
	sem chan struct{}

	mu      sync.Mutex
	pending map[string]*request // waiting to start, per repository
	running map[string]bool
	closed  bool
	workers sync.WaitGroup
}

// ErrClosed is returned by requests made after Close.
var ErrClosed = errors.New("indexer closed")

// Close refuses new requests and waits for the reconciles under way, so the store can be closed
// after it.
func (ix *Indexer) Close() {
	ix.mu.Lock()
	ix.closed = true
	ix.mu.Unlock()
	ix.workers.Wait()
}

// request gathers everything asked of one repository until a reconcile takes it.
type request struct {
	full    bool
	tags    map[string]bool
	waiters []chan error
	// present, when set, is the bucket's key set at the start of a sync: indexed tags whose key
	// is missing from it are published again.
	present map[string]bool
}

// New returns an Indexer.
func New(cfg Config) *Indexer {
	if cfg.Parallelism <= 0 {
		cfg.Parallelism = 4
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Indexer{cfg: cfg, sem: make(chan struct{}, cfg.Parallelism),
		pending: map[string]*request{}, running: map[string]bool{}}
}

// Request asks for repository to be reconciled and waits for the outcome of a reconcile that
// started after the request. Tags named are re-resolved even if already indexed (a push may have
// moved them); with no tags every tag is re-resolved. Requests arriving while one is pending or
// running are merged into the next reconcile.
func (ix *Indexer) Request(ctx context.Context, repository string, tags ...string) error {
	return ix.request(ctx, repository, nil, tags...)
}

func (ix *Indexer) request(ctx context.Context, repository string, present map[string]bool, tags ...string) error {
	if !ix.cfg.Layout.Owns(repository) {
		ix.cfg.Log.Debug("ignoring repository outside the package layout", "repository", repository)
		return nil
	}
	done := make(chan error, 1)
	ix.mu.Lock()
	if ix.closed {
		ix.mu.Unlock()
		return ErrClosed
	}
	req := ix.pending[repository]
	if req == nil {
		req = &request{tags: map[string]bool{}}
		ix.pending[repository] = req
	}
	if len(tags) == 0 {
		req.full = true
	}
	if present != nil {
		req.present = present
	}
	for _, t := range tags {
		req.tags[t] = true
	}
	req.waiters = append(req.waiters, done)
	if !ix.running[repository] {
		ix.running[repository] = true
		ix.workers.Add(1)
		go ix.worker(repository)
	}
	ix.mu.Unlock()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// worker runs reconciles for one repository until nothing is pending for it.
func (ix *Indexer) worker(repository string) {
	defer ix.workers.Done()
	for {
		if ix.cfg.Debounce > 0 {
			time.Sleep(ix.cfg.Debounce)
		}
		ix.sem <- struct{}{}
		ix.mu.Lock()
		req := ix.pending[repository]
		delete(ix.pending, repository)
		ix.mu.Unlock()
		var err error
		if req != nil {
			// Reconciles are not tied to a caller's context: waiters may give up, the work is
			// still worth finishing.
			err = ix.reconcile(context.Background(), repository, req.full, req.tags, req.present)
		}
		<-ix.sem
		if req != nil {
			for _, w := range req.waiters {
				w <- err
			}
		}
		ix.mu.Lock()
		if ix.pending[repository] == nil {
			delete(ix.running, repository)
			ix.mu.Unlock()
			return
		}
		ix.mu.Unlock()
	}
}

// Reconcile reconciles repository now, re-resolving every tag.
func (ix *Indexer) Reconcile(ctx context.Context, repository string) error {
	return ix.Request(ctx, repository)
}

// tagOutcome is what one tag resolved to in this reconcile.
type tagOutcome struct {
	state store.TagState
	// record is the encoded record to publish, when the tag's digest changed.
	record []byte
}

func (ix *Indexer) reconcile(ctx context.Context, repository string, full bool, hinted map[string]bool, present map[string]bool) (err error) {
	start := ix.cfg.Now()
	log := ix.cfg.Log.With("repository", repository)
	defer func() {
		ix.cfg.Metrics.ReconcileSeconds.Observe(time.Since(start).Seconds())
		if err != nil {
			ix.cfg.Metrics.ReconcileError.Inc()
			log.Warn("reconcile failed; will retry", "err", err)
		} else {
			ix.cfg.Metrics.ReconcileSuccess.Inc()
		}
	}()

	listed, err := ix.cfg.Registry.Tags(ctx, repository)
	if errors.Is(err, oci.ErrRepositoryNotFound) {
		listed, err = nil, nil
	}
	if err != nil {
		// Invariant: a failed listing changes nothing.
		return fmt.Errorf("list tags: %w", err)
	}
	old, err := ix.cfg.DB.Tags(repository)
	if err != nil {
		return err
	}

	// A referrer pushed by digest (a signature attached later) names its subject: tags holding
	// that subject are read again so that the record gains the signature.
	forced := ix.subjectsOf(ctx, log, repository, hinted)

	next := map[string]store.TagState{}
	var publish []tagOutcome
	var failures []error
	for _, tag := range listed {
		name, version, ok := ix.cfg.Layout.Candidate(repository, tag)
		if !ok {
			log.Debug("skipping tag that is not a package version", "tag", tag)
			continue
		}
		prev, known := old[tag]
		if _, reread := forced[prev.Digest]; known && !full && !hinted[tag] && !reread {
			next[tag] = prev
			continue
		}
		out, err := ix.resolveTag(ctx, log, repository, tag, name, version, prev, known, forced)
		if err == nil && out.record == nil && out.state.Key != "" && present != nil && !present[out.state.Key] {
			// Indexed before, but the bucket lost it (a NATS store that was reset): publish again.
			out.record, err = ix.storedRecord(out.state.Digest, name, version)
			if err == nil && out.record != nil {
				log.Warn("republishing a package missing from the index bucket", "key", out.state.Key)
			}
		}
		if err != nil {
			failures = append(failures, fmt.Errorf("tag %s: %w", tag, err))
			if known {
				next[tag] = prev // keep what was indexed until the tag can be read again
			}
			continue
		}
		next[tag] = out.state
		if out.record != nil {
			publish = append(publish, out)
		}
	}

	for _, out := range publish {
		if err := ix.cfg.Bucket.Put(ctx, out.state.Key, out.record); err != nil {
			return err // nothing recorded yet: the whole reconcile repeats
		}
		ix.cfg.Metrics.Published.Inc()
	}
	if err := ix.deleteGone(ctx, log, repository, old, next); err != nil {
		return err
	}
	if err := ix.cfg.DB.SetTags(repository, next); err != nil {
		return err
	}
	if len(publish) > 0 || len(old) != len(next) {
		log.Info("reconciled", "tags", len(listed), "indexed", countIndexed(next), "published", len(publish), "took", time.Since(start).Round(time.Millisecond))
	}
	return errors.Join(failures...)
}

func countIndexed(tags map[string]store.TagState) int {
	n := 0
	for _, s := range tags {
		if s.Key != "" {
			n++
		}
	}
	return n
}

// deleteGone deletes the records of keys this repository no longer provides, unless another tag
// (here or in another repository) still provides them.
func (ix *Indexer) deleteGone(ctx context.Context, log *slog.Logger, repository string, old, next map[string]store.TagState) error {
	kept := map[string]bool{}
	for _, s := range next {
		kept[s.Key] = true
	}
	var gone []string
	for _, s := range old {
		if s.Key != "" && !kept[s.Key] {
			gone = append(gone, s.Key)
			kept[s.Key] = true // once
		}
	}
	if len(gone) == 0 {
		return nil
	}
	elsewhere, err := ix.keysOutside(repository)
	if err != nil {
		return err
	}
	sort.Strings(gone)
	for _, key := range gone {
		if elsewhere[key] {
			continue
		}
		if err := ix.cfg.Bucket.Delete(ctx, key); err != nil {
			return err
		}
		ix.cfg.Metrics.Deleted.Inc()
		log.Info("package removed", "key", key)
	}
	return nil
}

func (ix *Indexer) keysOutside(repository string) (map[string]bool, error) {
	repos, err := ix.cfg.DB.Repositories()
	if err != nil {
		return nil, err
	}
	keys := map[string]bool{}
	for _, r := range repos {
		if r == repository {
			continue
		}
		tags, err := ix.cfg.DB.Tags(r)
		if err != nil {
			return nil, err
		}
		for _, s := range tags {
			if s.Key != "" {
				keys[s.Key] = true
			}
		}
	}
	return keys, nil
}

// subjectsOf reads the manifests named by "@<digest>" hints and returns the digests they refer
// to as subjects, each with the signature layer when the referrer is a signature. Using the
// referrer just pushed, rather than listing referrers again, matters on registries without the
// referrers API: there the client updates the referrers index after the push that notified us.
func (ix *Indexer) subjectsOf(ctx context.Context, log *slog.Logger, repository string, hinted map[string]bool) map[string]*ocispec.Descriptor {
	subjects := map[string]*ocispec.Descriptor{}
	for h := range hinted {
		digest, ok := strings.CutPrefix(h, "@")
		if !ok {
			continue
		}
		desc, err := ix.cfg.Registry.Resolve(ctx, repository, digest)
		if err != nil {
			log.Debug("pushed manifest is gone", "digest", digest, "err", err)
			continue
		}
		m, _, err := ix.cfg.Registry.FetchManifest(ctx, repository, desc)
		if err != nil {
			log.Debug("pushed manifest is not an image manifest", "digest", digest, "err", err)
			continue
		}
		if m.Subject == nil {
			continue
		}
		subject := m.Subject.Digest.String()
		if _, seen := subjects[subject]; !seen {
			subjects[subject] = nil
		}
		if sig := oci.SignatureLayer(m); sig != nil {
			subjects[subject] = sig
		}
	}
	return subjects
}

// storedRecord is the record parsed earlier from digest for name and version.
func (ix *Indexer) storedRecord(digest, name, version string) ([]byte, error) {
	ms, ok, err := ix.cfg.DB.Manifest(digest + " " + index.Key(name, version))
	if err != nil || !ok {
		return nil, err
	}
	return ms.Record, nil
}

// resolveTag resolves one tag and, when its digest is new to this tag, produces its record.
func (ix *Indexer) resolveTag(ctx context.Context, log *slog.Logger, repository, tag, name, version string, prev store.TagState, known bool, forced map[string]*ocispec.Descriptor) (tagOutcome, error) {
	desc, err := ix.cfg.Registry.Resolve(ctx, repository, tag)
	if err != nil {
		return tagOutcome{}, fmt.Errorf("resolve: %w", err)
	}
	digest := desc.Digest.String()
	knownSig, reread := forced[digest]
	if known && prev.Digest == digest && !reread {
		return tagOutcome{state: prev}, nil
	}
	// The same content under another name or version is a different question (it is rejected
	// there), so what a digest produced is remembered per claimed identity.
	parsedAs := digest + " " + index.Key(name, version)
	ms, seen, err := ix.cfg.DB.Manifest(parsedAs)
	if err != nil {
		return tagOutcome{}, err
	}
	if !seen || reread {
		ms, err = ix.parse(ctx, log, repository, tag, name, version, desc, knownSig)
		if err != nil {
			return tagOutcome{}, err
		}
		if err := ix.cfg.DB.PutManifest(parsedAs, ms); err != nil {
			return tagOutcome{}, err
		}
	}
	out := tagOutcome{state: store.TagState{Digest: digest, Key: ms.Key, Rejected: ms.Rejected}}
	if ms.Key != "" {
		out.record = ms.Record
	}
	return out, nil
}

// parse fetches a manifest and its zip and builds the record. A broken artifact is not an
// error: it is logged once (a digest is parsed once) and remembered as rejected.
func (ix *Indexer) parse(ctx context.Context, log *slog.Logger, repository, tag, name, version string, desc ocispec.Descriptor, knownSig *ocispec.Descriptor) (store.ManifestState, error) {
	ix.cfg.Metrics.Downloads.Inc()
	rejected := func(rule, reason string) (store.ManifestState, error) {
		ix.cfg.Metrics.Rejected.WithLabelValues(rule).Inc()
		log.Error("artifact rejected", "tag", tag, "digest", desc.Digest.String(), "rule", rule, "reason", reason)
		return store.ManifestState{Rejected: reason}, nil
	}
	manifest, _, err := ix.cfg.Registry.FetchManifest(ctx, repository, desc)
	if errors.Is(err, oci.ErrUnsupportedManifest) || errors.Is(err, oci.ErrTooLarge) {
		return rejected("manifest", err.Error())
	}
	if err != nil {
		return store.ManifestState{}, fmt.Errorf("fetch manifest: %w", err)
	}
	zipDesc, sigDesc, err := oci.PickLayers(manifest)
	if err != nil {
		return rejected("layers", err.Error())
	}
	if sigDesc == nil {
		sigDesc = knownSig
	}
	if sigDesc == nil {
		// A registry whose referrers listing misbehaves must not keep the package out of the
		// index: it is indexed unsigned, and a later signature push reads it again.
		if sigDesc, err = ix.cfg.Registry.SignatureOf(ctx, repository, desc); err != nil {
			log.Warn("looking for a signature referrer failed; indexing unsigned", "tag", tag, "digest", desc.Digest.String(), "err", err)
			sigDesc = nil
		}
	}
	path, err := ix.cfg.Blobs.Fetch(ctx, repository, zipDesc)
	if errors.Is(err, oci.ErrTooLarge) {
		return rejected(string(packages.RuleZipTooLarge), err.Error())
	}
	if err != nil {
		return store.ManifestState{}, fmt.Errorf("fetch zip: %w", err)
	}
	pkg, warnings, err := readZip(path, packages.Options{
		Limits:       ix.cfg.Limits,
		Expect:       packages.Expect{Name: name, Version: version},
		HasSignature: sigDesc != nil,
	})
	if re, ok := packages.AsReject(err); ok {
		return rejected(string(re.Rule), re.Reason)
	}
	if err != nil {
		return store.ManifestState{}, fmt.Errorf("read zip: %w", err)
	}
	for _, w := range warnings {
		log.Warn("package warning", "tag", tag, "digest", desc.Digest.String(), "warning", w)
	}
	doc, err := packages.Marshal(pkg)
	if err != nil {
		return store.ManifestState{}, err
	}
	rec := &index.Record{
		Name: pkg.Name, Version: pkg.Version, Document: doc,
		Repository: repository, Tag: tag, ManifestDigest: desc.Digest.String(),
		Zip:       blob(zipDesc),
		IndexedAt: ix.cfg.Now().UTC().Truncate(time.Second),
	}
	if sigDesc != nil {
		b := blob(*sigDesc)
		rec.Signature = &b
	}
	encoded, err := index.Encode(rec)
	if err != nil {
		return store.ManifestState{}, err
	}
	return store.ManifestState{Key: rec.Key(), Record: encoded}, nil
}

func blob(d ocispec.Descriptor) index.Blob {
	return index.Blob{Digest: d.Digest.String(), Size: d.Size, MediaType: d.MediaType}
}

func readZip(path string, opts packages.Options) (*packages.Package, []string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	return packages.Read(f, st.Size(), opts)
}

// CacheBlobs downloads through an on-disk blob cache, so the API in the same process (or a later
// run) finds the zip already there.
type CacheBlobs struct {
	Cache   *oci.BlobCache
	Fetcher oci.BlobFetcher
}

// Fetch implements Blobs.
func (b CacheBlobs) Fetch(ctx context.Context, repository string, desc ocispec.Descriptor) (string, error) {
	return b.Cache.Fetch(ctx, b.Fetcher, repository, desc)
}
