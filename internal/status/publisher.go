package status

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Publisher writes the status the indexer concludes to a Store. Deciding is plan's (pure); the
// Publisher keeps what it last decided in memory, seeded from the store at start so that a
// restart rewrites nothing unchanged, and a writer (Run) puts and deletes the entries that
// changed. Reports never wait for the store: a NATS that is away leaves entries to write, kept
// by key (so bounded by the entries themselves), written when it is back.
type Publisher struct {
	Store Store
	Log   *slog.Logger
	// Metrics, when set, shows the tags by state and the writes the store refused.
	Metrics *PublisherMetrics
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// Facts, when set, gives the indexer's report (all but Counts and UpdatedAt), asked every
	// ReportEvery by Run.
	Facts func(ctx context.Context) Indexer

	// flushMu serialises Flush: two writers of one key would write it twice.
	flushMu sync.Mutex
	mu      sync.Mutex
	tags    map[string]map[string]Tag // repository → tag → its status
	repos   map[string]Repository
	dirty   map[string]bool // keys to write (put or delete) as tags and repos say
	wake    chan struct{}
}

// PublisherMetrics are the status' metrics.
type PublisherMetrics struct {
	Tags         *prometheus.GaugeVec
	WriteRefused prometheus.Counter
}

// NewPublisherMetrics registers the publisher's metrics on reg (nil: not registered).
func NewPublisherMetrics(reg prometheus.Registerer) *PublisherMetrics {
	m := &PublisherMetrics{
		Tags: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "epr_indexer_tags",
			Help: "Tags of the registry by indexing status (served, rejected, awaiting_signature, shadowed, not_a_package, failing); GET /status says which."}, []string{"state"}),
		WriteRefused: prometheus.NewCounter(prometheus.CounterOpts{Name: "epr_indexer_status_writes_refused_total",
			Help: "Status entries the status bucket refused (beyond its size bounds); each is logged with its key."}),
	}
	if reg != nil {
		// Parts of one process (or of one test) may share a metrics registry: the metrics
		// registered first are used.
		var are prometheus.AlreadyRegisteredError
		if err := reg.Register(m.Tags); errors.As(err, &are) {
			m.Tags = are.ExistingCollector.(*prometheus.GaugeVec)
		}
		if err := reg.Register(m.WriteRefused); errors.As(err, &are) {
			m.WriteRefused = are.ExistingCollector.(prometheus.Counter)
		}
	}
	for _, s := range States {
		m.Tags.WithLabelValues(string(s))
	}
	return m
}

func (p *Publisher) init() {
	if p.tags == nil {
		p.tags, p.repos, p.dirty = map[string]map[string]Tag{}, map[string]Repository{}, map[string]bool{}
		p.wake = make(chan struct{}, 1)
	}
	if p.Log == nil {
		p.Log = slog.New(slog.DiscardHandler)
	}
}

func (p *Publisher) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// Seed reads what the store holds as what was last written. Entries it cannot read, and a
// second entry for one tag (a move a crash cut short), are deleted by the next writes.
func (p *Publisher) Seed(ctx context.Context) error {
	tagEntries, err := p.Store.List(ctx, FilterTags)
	if err != nil {
		return err
	}
	repoEntries, err := p.Store.List(ctx, FilterRepos)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.init()
	for _, k := range slices.Sorted(maps.Keys(tagEntries)) {
		var t Tag
		if err := json.Unmarshal(tagEntries[k], &t); err != nil || TagKey(t) != k {
			p.dirty[k] = true
			continue
		}
		if p.tags[t.Repository] == nil {
			p.tags[t.Repository] = map[string]Tag{}
		}
		if old, ok := p.tags[t.Repository][t.Tag]; ok {
			p.dirty[TagKey(old)] = true
		}
		p.tags[t.Repository][t.Tag] = t
	}
	for k, v := range repoEntries {
		var r Repository
		if err := json.Unmarshal(v, &r); err != nil || RepositoryKey(r.Repository) != k {
			p.dirty[k] = true
			continue
		}
		p.repos[r.Repository] = r
	}
	p.signal()
	return nil
}

// VerifyEvery is how often Run compares the store with what the Publisher last decided, and
// writes again what differs: a status bucket lost or changed behind the indexer's back (a NATS
// store reset) is repaired, as the resync repairs the index bucket.
const VerifyEvery = 10 * time.Minute

// Verify reads the store's tag and repository entries and marks for writing every one that
// differs from what the Publisher holds: missing, changed, or not its own.
func (p *Publisher) Verify(ctx context.Context) error {
	stored := map[string][]byte{}
	for _, f := range []string{FilterTags, FilterRepos} {
		entries, err := p.Store.List(ctx, f)
		if err != nil {
			return err
		}
		maps.Copy(stored, entries)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.init()
	want := map[string]bool{}
	for _, tags := range p.tags {
		for _, t := range tags {
			want[TagKey(t)] = true
		}
	}
	for repo := range p.repos {
		want[RepositoryKey(repo)] = true
	}
	n := 0
	for k := range want {
		if v, ok := stored[k]; !ok || string(v) != string(p.valueLocked(k)) {
			p.dirty[k] = true
			n++
		}
	}
	for k := range stored {
		if !want[k] {
			p.dirty[k] = true
			n++
		}
	}
	if n > 0 {
		p.Log.Warn("the status bucket differs from what the indexer wrote; writing it again", "entries", n)
		p.signal()
	}
	return nil
}

// Report takes what a reconcile concluded. It never waits for the store.
func (p *Publisher) Report(r Report) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.init()
	var prevRepo *Repository
	if rs, ok := p.repos[r.Repository]; ok {
		prevRepo = &rs
	}
	next, repo, changes := plan(p.tags[r.Repository], prevRepo, r)
	if len(next) == 0 {
		delete(p.tags, r.Repository)
	} else {
		p.tags[r.Repository] = next
	}
	if repo == nil {
		delete(p.repos, r.Repository)
	} else {
		p.repos[r.Repository] = *repo
	}
	for _, c := range changes {
		p.dirty[c.Key] = true
	}
	if len(changes) > 0 {
		p.signal()
	}
}

func (p *Publisher) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Counts is how many tags are in each state, over every repository.
func (p *Publisher) Counts() map[State]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.countsLocked()
}

func (p *Publisher) countsLocked() map[State]int {
	out := map[State]int{}
	for _, tags := range p.tags {
		for _, t := range tags {
			out[t.State]++
		}
	}
	return out
}

// Run writes what changed until ctx ends: at once after a report, and the indexer's entry every
// ReportEvery (with what could not be written before).
func (p *Publisher) Run(ctx context.Context) {
	p.mu.Lock()
	p.init()
	wake := p.wake
	p.mu.Unlock()
	tick := time.NewTicker(ReportEvery)
	defer tick.Stop()
	verify := time.NewTicker(VerifyEvery)
	defer verify.Stop()
	p.reportIndexer(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-tick.C:
			p.reportIndexer(ctx)
		case <-verify.C:
			if err := p.Verify(ctx); err != nil && ctx.Err() == nil {
				p.Log.Warn("reading the status bucket to verify it failed", "err", err)
			}
			if c, ok := p.Store.(interface{ Compact(context.Context) error }); ok {
				if err := c.Compact(ctx); err != nil && ctx.Err() == nil {
					p.Log.Warn("purging the status bucket's delete markers failed", "err", err)
				}
			}
		}
		_ = p.Flush(ctx)
	}
}

// reportIndexer writes the indexer's entry: Facts, the counts, now.
func (p *Publisher) reportIndexer(ctx context.Context) {
	var ix Indexer
	if p.Facts != nil {
		ix = p.Facts(ctx)
	}
	ix.RegistryError = Clip(Redact(ix.RegistryError))
	p.mu.Lock()
	p.init()
	ix.Counts = p.countsLocked()
	p.mu.Unlock()
	if p.Metrics != nil {
		for _, s := range States {
			p.Metrics.Tags.WithLabelValues(string(s)).Set(float64(ix.Counts[s]))
		}
	}
	ix.UpdatedAt = p.now().UTC()
	b, err := json.Marshal(ix)
	if err == nil {
		err = p.Store.Put(ctx, KeyIndexer, b)
	}
	if err != nil && ctx.Err() == nil {
		p.Log.Warn("writing the indexer's status failed", "err", err)
	}
}

// Flush writes every changed entry: puts, then deletes, so a tag that moves between states is
// never missing. It stops at the first error other than a refused entry (the store is away) and
// keeps the rest for the next call.
func (p *Publisher) Flush(ctx context.Context) error {
	p.flushMu.Lock()
	defer p.flushMu.Unlock()
	p.mu.Lock()
	p.init()
	keys := slices.Sorted(maps.Keys(p.dirty))
	type write struct {
		key   string
		value []byte
	}
	var puts, dels []write
	for _, k := range keys {
		if v := p.valueLocked(k); v != nil {
			puts = append(puts, write{k, v})
		} else {
			dels = append(dels, write{key: k})
		}
	}
	p.mu.Unlock()
	for _, w := range append(puts, dels...) {
		var err error
		if w.value != nil {
			err = p.Store.Put(ctx, w.key, w.value)
		} else {
			err = p.Store.Delete(ctx, w.key)
		}
		if errors.Is(err, ErrTooBig) {
			if p.Metrics != nil {
				p.Metrics.WriteRefused.Inc()
			}
			p.Log.Error("the status bucket refused an entry; it is not shown", "key", w.key, "err", err)
			err = nil
		}
		if err != nil {
			if ctx.Err() == nil {
				p.Log.Warn("writing the status failed; will retry", "key", w.key, "err", err)
			}
			return err
		}
		p.mu.Lock()
		// Written as decided then; a report since may have changed it again.
		if cur := p.valueLocked(w.key); string(cur) == string(w.value) {
			delete(p.dirty, w.key)
		}
		p.mu.Unlock()
	}
	return nil
}

// valueLocked is the entry key should hold now, encoded, or nil when it should not exist.
func (p *Publisher) valueLocked(key string) []byte {
	var v any
	switch {
	case strings.HasPrefix(key, prefixTag):
		repo, tag, err := ParseTagKey(key)
		if err != nil {
			return nil
		}
		t, ok := p.tags[repo][tag]
		if !ok || TagKey(t) != key {
			return nil
		}
		v = t
	case strings.HasPrefix(key, prefixRepo):
		repo, err := dec(strings.TrimPrefix(key, prefixRepo))
		if err != nil {
			return nil
		}
		r, ok := p.repos[repo]
		if !ok {
			return nil
		}
		v = r
	default:
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}
