// Package indexer owns turning "repository R changed" into the exact set of packages the registry
// holds: it lists R's tags, compares them with what it indexed before (kept in the local store),
// fetches and parses only digests it has not seen, publishes new and changed records to the
// shared index bucket and deletes records whose tags are gone — the latter only after a complete,
// successful listing. It also owns which copy is served when two repositories (one per layout)
// hold the same name@version.
//
// Files by concern: plan.go decides, as pure functions, every step of a reconcile (its tables
// in plan_test.go state the invariants); coalesce.go gathers hints per repository and runs one
// reconcile at a time for it; reconcile.go executes the listing and per-tag rounds of the plan;
// referrers.go turns pushes by digest into the tags to read again; parse.go fetches and
// validates an artifact; publish.go executes the write round (bucket writes, layout
// precedence, the store's record of them); sync.go is the periodic resync and its check of
// what the bucket holds.
package indexer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-epr/package-registry/internal/index"
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

// Bucket is where records are published; *index.Bucket implements it. Every write is
// unconditional: the indexer never decides a write on what it reads from the bucket.
type Bucket interface {
	// Put writes encoded under key and returns the bucket revision now holding it.
	Put(ctx context.Context, key string, encoded []byte) (uint64, error)
	Delete(ctx context.Context, key string) error
	// Revisions is each key's current revision, read from the bucket's leader.
	Revisions(ctx context.Context) (index.Revisions, error)
}

// FaultPoint names a step of a reconcile after which a test may stop it, as a crash there
// would (Config.Fault).
type FaultPoint string

// The steps of a reconcile, in order, at which Config.Fault is asked.
const (
	// FaultParsed: a manifest was read and what it produced is stored.
	FaultParsed FaultPoint = "parsed"
	// FaultPut: a record was written to the bucket, not yet recorded in the store.
	FaultPut FaultPoint = "put"
	// FaultDeleted: a key was deleted from the bucket, not yet recorded in the store.
	FaultDeleted FaultPoint = "deleted"
	// FaultCommitted: the store recorded the reconcile; the caller has not heard of it.
	FaultCommitted FaultPoint = "committed"
)

// State is the indexer's own half of the store: per repository the state of each tag, what each
// manifest digest produced, the layout conflicts, and what was last written to the bucket per
// key. *store.DB implements it.
type State interface {
	Repositories() ([]string, error)
	Tags(repository string) (map[string]store.TagState, error)
	// Commit records a reconcile: its tag states and bucket writes, in one transaction.
	Commit(repository string, tags map[string]store.TagState, published map[string]*store.Published) error
	PublishedOf(keys []string) (map[string]store.Published, error)
	ProvidedKeys() (map[string]bool, error)
	Manifest(id store.ManifestID) (store.ManifestState, bool, error)
	PutManifest(id store.ManifestID, s store.ManifestState) error
	RecordConflict(key, repository string, c store.Conflict) (isNew bool, err error)
	ClearConflict(key, repository string) error
	ConflictsOf(repository string) (map[string]store.Conflict, error)
}

// DefaultMissingTagRetries are the pauses before looking again for a tag an event named but the
// listing lacked: distribution notifies before it writes the tag, by a few milliseconds usually.
var DefaultMissingTagRetries = []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond}

// Config wires an Indexer.
type Config struct {
	Layout   Layout
	Registry Registry
	Blobs    Blobs
	Bucket   Bucket
	DB       State
	Limits   packages.Limits
	// Policy decides which valid artifacts are indexed. What a digest produced is remembered
	// per policy, so a restart with another policy reads every tag again, once.
	Policy Policy
	// Catalog lists the registry's repositories; nil or oci.ErrCatalogUnsupported means the
	// indexer knows repositories only from events, its store and Repositories.
	Catalog func(ctx context.Context) ([]string, error)
	// TagDigests, when set, gives each tag's manifest digest from a registry search index
	// (Zot's search extension) in one query. Full reconciles then skip the HEAD of a tag whose
	// digest it confirms unchanged; tags named by events are still resolved. Any error (the
	// extension absent) falls back to a HEAD per tag.
	TagDigests func(ctx context.Context, repository string) (map[string]string, error)
	// Repositories are reconciled on every sync in addition to those discovered.
	Repositories []string
	// Parallelism bounds how many repositories reconcile at once.
	Parallelism int
	// Debounce is how long a request waits for more requests on the same repository before the
	// reconcile starts; a burst of notifications then costs one listing.
	Debounce time.Duration
	// MissingTagRetries are the pauses before each new listing when an event's tag is not listed
	// yet; the event is acknowledged after the last. Nil takes DefaultMissingTagRetries, an
	// empty non-nil slice retries nothing.
	MissingTagRetries []time.Duration
	// MaxPendingRetries bounds the repositories waiting for a missing-tag retry at once; beyond
	// it the event is acknowledged at once and counted. Zero takes DefaultMaxPendingRetries.
	MaxPendingRetries int
	// ReconcileTimeout bounds each reconcile; zero takes DefaultReconcileTimeout.
	ReconcileTimeout time.Duration
	Log              *slog.Logger
	Metrics          *Metrics
	// Status, when set, is told what each reconcile concluded (internal/status).
	Status StatusSink
	// Now is the clock; tests may fix it.
	Now func() time.Time
	// Fault, when set, is asked after each step of a reconcile (FaultPoint) with the
	// repository and the package key concerned; an error stops the reconcile there, as a crash
	// would. Tests only.
	Fault func(point FaultPoint, repository, key string) error
}

// Policy is what an operator chooses about the packages served, beyond the rules every
// artifact must pass.
type Policy struct {
	// DisableContentValidation skips EPR's content validation (-disable-package-validation).
	DisableContentValidation bool
	// RequireSignatures keeps a version out of the index until a signature (layer or
	// referrer) is found for it (-require-package-signatures).
	RequireSignatures bool
}

// id names the policy in the store; the default policy is "" so that state recorded before
// policies existed stays valid.
func (p Policy) id() string {
	var parts []string
	if p.DisableContentValidation {
		parts = append(parts, "novalidation")
	}
	if p.RequireSignatures {
		parts = append(parts, "signed")
	}
	return strings.Join(parts, ",")
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
	bounds  bounds

	// writeMu serialises the write phase of reconciles (decide, put/delete, record the tags):
	// two repositories may hold the same key, and the precedence between them is decided from
	// the store, so deciding and recording must not interleave.
	writeMu sync.Mutex
	// snapshots are the bucket reads of the syncs under way (guarded by writeMu).
	snapshots map[*snapshot]bool
	// syncedOnce is set when RunResync's first pass has ended, failures included.
	syncedOnce atomic.Bool
	// health is what the status tells of the registry and the resyncs.
	health registryHealth
}

// SyncedOnce reports whether the first pass of RunResync has ended (whatever it found). Until
// then a fresh indexer's bucket may lack what the registry holds, so the processes that report
// readiness wait for it: a probe must not send traffic to a replica that would answer with less
// than the registry holds (or with mock packages).
func (ix *Indexer) SyncedOnce() bool { return ix.syncedOnce.Load() }

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
	if cfg.MissingTagRetries == nil {
		cfg.MissingTagRetries = DefaultMissingTagRetries
	}
	if cfg.MaxPendingRetries <= 0 {
		cfg.MaxPendingRetries = DefaultMaxPendingRetries
	}
	if cfg.ReconcileTimeout <= 0 {
		cfg.ReconcileTimeout = DefaultReconcileTimeout
	}
	return &Indexer{cfg: cfg, sem: make(chan struct{}, cfg.Parallelism),
		pending: map[string]*request{}, running: map[string]bool{}, snapshots: map[*snapshot]bool{},
		bounds: newBounds(cfg.Parallelism)}
}

// fault asks Config.Fault whether the reconcile stops after point.
func (r *run) fault(point FaultPoint, key string) error {
	if r.ix.cfg.Fault == nil {
		return nil
	}
	if err := r.ix.cfg.Fault(point, r.repository, key); err != nil {
		return fmt.Errorf("fault after %s of %s: %w", point, key, err)
	}
	return nil
}
