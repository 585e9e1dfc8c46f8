package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// LargeRecordsBucket is the object store beside PackagesBucket for records too big for one
// key-value entry (internal/index writes it).
const LargeRecordsBucket = "package-records"

// Who owns which shared resource (docs/operations.md, "Shared JetStream resources"):
//
//   - the event stream: the webhook and the indexer, whichever starts first, create it when it is
//     missing (each needs it to exist: one publishes, the other consumes);
//   - the indexer's consumer, the index bucket and its object store: the indexer;
//   - the API replica only binds to the bucket, waiting for the indexer while it does not exist.
//
// A resource that exists is never changed behind the operator's back: how durable it is
// (replicas, storage, retention, age and history limits) is the operator's, however the flags of
// one more process read. Each difference from this process's settings is logged (an error when
// the resource has fewer replicas than asked for, a warning otherwise) and shown as
// epr_jetstream_setting_mismatch. Only the consumer's delivery settings (ack wait, redeliveries
// and their back-off), which are the indexer's behaviour and no flag, are kept up to date by the
// indexer, keeping the consumer's replicas.

// Mismatch is one setting of an existing shared resource that differs from this process's
// settings; the set-up left the resource as it is.
type Mismatch struct {
	// Resource is "stream", "consumer", "bucket", "object_store" or "status_bucket".
	Resource string
	// Setting is "replicas", "storage", "retention", "max_age", "discard", "duplicates",
	// "subjects" or "history".
	Setting string
	// Want is this process's setting, Have the resource's.
	Want, Have string
	// Lower is set when the resource is less durable than asked for (fewer replicas).
	Lower bool
}

// settingCheck is one compared setting: its name and both values, rendered.
type settingCheck struct {
	setting    string
	want, have string
	lower      bool
}

func mismatches(resource string, checks []settingCheck) (all []string, found []Mismatch) {
	for _, c := range checks {
		all = append(all, c.setting)
		if c.want != c.have {
			found = append(found, Mismatch{Resource: resource, Setting: c.setting, Want: c.want, Have: c.have, Lower: c.lower})
		}
	}
	return all, found
}

func replicasCheck(want, have int) settingCheck {
	return settingCheck{"replicas", strconv.Itoa(want), strconv.Itoa(have), have < want}
}

// streamChecks compares the event stream as this process would create it with the one that
// exists. Subjects are ours when the stream holds at least ours.
func streamChecks(want, have jetstream.StreamConfig) []settingCheck {
	subjects := "present"
	for _, s := range want.Subjects {
		if !slices.Contains(have.Subjects, s) {
			subjects = fmt.Sprintf("%v", have.Subjects)
		}
	}
	return []settingCheck{
		replicasCheck(want.Replicas, have.Replicas),
		{"storage", want.Storage.String(), have.Storage.String(), false},
		{"retention", want.Retention.String(), have.Retention.String(), false},
		{"max_age", want.MaxAge.String(), have.MaxAge.String(), false},
		{"discard", want.Discard.String(), have.Discard.String(), false},
		{"duplicates", want.Duplicates.String(), have.Duplicates.String(), false},
		{"subjects", "present", subjects, false},
	}
}

// consumerChecks compares the durable settings of the indexer's consumer. A consumer created
// with replicas 0 follows its stream's, which is checked on its own.
func consumerChecks(want, have jetstream.ConsumerConfig) []settingCheck {
	if have.Replicas == 0 {
		return nil
	}
	return []settingCheck{replicasCheck(want.Replicas, have.Replicas)}
}

// deliveryDiffers reports whether the consumer's delivery settings, which the indexer keeps up
// to date, differ from want's.
func deliveryDiffers(want, have jetstream.ConsumerConfig) bool {
	// With a back-off the server makes its first step the ack wait.
	ackWait := want.AckWait
	if len(want.BackOff) > 0 {
		ackWait = want.BackOff[0]
	}
	return ackWait != have.AckWait || want.MaxDeliver != have.MaxDeliver ||
		!slices.Equal(want.BackOff, have.BackOff) || want.MaxAckPending != have.MaxAckPending ||
		want.Description != have.Description
}

// bucketChecks compares the index bucket's stream with the settings it would be created with.
func bucketChecks(want jetstream.KeyValueConfig, have jetstream.StreamConfig) []settingCheck {
	return []settingCheck{
		replicasCheck(want.Replicas, have.Replicas),
		{"storage", want.Storage.String(), have.Storage.String(), false},
		{"history", strconv.Itoa(int(want.History)), strconv.FormatInt(have.MaxMsgsPerSubject, 10), false},
	}
}

// SetupMetrics shows the operator which shared settings differ from a process's own.
type SetupMetrics struct {
	mismatch *prometheus.GaugeVec
}

// NewSetupMetrics registers the set-up's gauge on reg (nil: none). Several roles of one process
// share it.
func NewSetupMetrics(reg prometheus.Registerer) (*SetupMetrics, error) {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "epr_jetstream_setting_mismatch",
		Help: "1 when a shared JetStream resource (stream, consumer, bucket, object_store) has a setting other than this process's flags and defaults ask for; the resource is left as it is.",
	}, []string{"resource", "setting"})
	if reg != nil {
		if err := reg.Register(g); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return nil, err
			}
			g = are.ExistingCollector.(*prometheus.GaugeVec)
		}
	}
	return &SetupMetrics{mismatch: g}, nil
}

// Setup creates the shared JetStream resources its role owns when they are missing and binds to
// those that exist, reporting how they differ from Options.
type Setup struct {
	JS      jetstream.JetStream
	Options StreamOptions
	// Log receives the mismatches and creations; nil: not logged.
	Log *slog.Logger
	// Metrics, when set, shows the mismatches.
	Metrics *SetupMetrics
}

func (s Setup) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

// report logs each mismatch and sets the gauge of every compared setting.
func (s Setup) report(resource, name string, checks []settingCheck) {
	all, found := mismatches(resource, checks)
	if s.Metrics != nil {
		for _, setting := range all {
			s.Metrics.mismatch.WithLabelValues(resource, setting).Set(0)
		}
	}
	for _, m := range found {
		if s.Metrics != nil {
			s.Metrics.mismatch.WithLabelValues(resource, m.Setting).Set(1)
		}
		level, msg := slog.LevelWarn, "shared JetStream resource differs from this process's settings; left as it is"
		if m.Lower {
			level, msg = slog.LevelError, "shared JetStream resource is less durable than this process's settings ask for; left as it is"
		}
		s.log().Log(context.Background(), level, msg, "resource", resource, "name", name, "setting", m.Setting,
			"existing", m.Have, "configured", m.Want,
			"hint", "align -nats-replicas (EPR_NATS_REPLICAS) of every process with the resource, or change the resource with the nats CLI (docs/operations.md)")
	}
}

// StreamConfig is the event stream as a process with opts creates it.
func StreamConfig(opts StreamOptions) jetstream.StreamConfig {
	opts = opts.withDefaults()
	return jetstream.StreamConfig{
		Name:        StreamName,
		Description: "Registry notifications, one subject per repository",
		Subjects:    []string{SubjectPrefix + ".>", ZotSubject},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Duplicates:  opts.DuplicateWindow,
		MaxAge:      opts.MaxAge,
		Replicas:    opts.Replicas,
		Discard:     jetstream.DiscardOld,
	}
}

// ConsumerConfig is the indexer's consumer as a process with opts creates it.
func ConsumerConfig(opts StreamOptions) jetstream.ConsumerConfig {
	opts = opts.withDefaults()
	backoff := opts.Backoff
	if len(backoff) >= opts.MaxDeliver {
		backoff = backoff[:opts.MaxDeliver-1]
	}
	return jetstream.ConsumerConfig{
		Durable:       ConsumerName,
		Description:   "Indexer: reconcile the repository each event names",
		AckPolicy:     jetstream.AckExplicitPolicy,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckWait:       opts.AckWait,
		MaxDeliver:    opts.MaxDeliver,
		BackOff:       backoff,
		MaxAckPending: 1000,
		Replicas:      opts.Replicas,
	}
}

// BucketConfig is the index bucket as a process with opts creates it.
func BucketConfig(opts StreamOptions) jetstream.KeyValueConfig {
	opts = opts.withDefaults()
	return jetstream.KeyValueConfig{
		Bucket:      PackagesBucket,
		Description: "Package index: one key per package name and version",
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    opts.Replicas,
	}
}

// Bounds of the status bucket. An entry is small (status.MaxText clips its texts), so a value
// beyond StatusMaxValue is a fault, refused by the server; StatusMaxBytes keeps the bucket small
// (an entry takes about 330 bytes stored: 10,000 tags take 3.5 MB, 50,000 about 17 MB; the bound
// holds about 200,000). A put beyond either is refused, logged and counted by the indexer, and
// never holds up indexing. Deleted entries leave markers that expire after StatusMarkerTTL.
const (
	StatusMaxValue  = 16 << 10
	StatusMaxBytes  = 64 << 20
	StatusMarkerTTL = time.Hour
)

// StatusBucketConfig is the status bucket as a process with opts creates it: the index bucket's
// settings (one value per key, file storage, replicas), bounded.
func StatusBucketConfig(opts StreamOptions) jetstream.KeyValueConfig {
	c := BucketConfig(opts)
	c.Bucket = StatusBucket
	c.Description = "Indexing status: per tag, per repository, the indexer's and each API replica's report"
	c.MaxValueSize, c.MaxBytes, c.LimitMarkerTTL = StatusMaxValue, StatusMaxBytes, StatusMarkerTTL
	return c
}

// bindOrCreate binds to a resource, creates it when it is missing (notFound), and binds again
// when another process created it in between (exists). created is called after a creation.
func bindOrCreate[T any](bind, create func() (T, error), notFound, exists error, created func()) (T, error) {
	r, err := bind()
	if !errors.Is(err, notFound) {
		return r, err
	}
	if r, err = create(); err == nil {
		created()
		return r, nil
	}
	if errors.Is(err, exists) {
		return bind()
	}
	return r, err
}

// created logs the creation of a resource.
func (s Setup) created(kind, name string, replicas int) func() {
	return func() { s.log().Info("created JetStream "+kind, "name", name, "replicas", replicas) }
}

// Stream creates the event stream when it is missing, else binds to it as it is.
func (s Setup) Stream(ctx context.Context) (jetstream.Stream, error) {
	want := StreamConfig(s.Options)
	st, err := bindOrCreate(
		func() (jetstream.Stream, error) { return s.JS.Stream(ctx, StreamName) },
		func() (jetstream.Stream, error) { return s.JS.CreateStream(ctx, want) },
		jetstream.ErrStreamNotFound, jetstream.ErrStreamNameAlreadyInUse, s.created("stream", StreamName, want.Replicas))
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", StreamName, err)
	}
	s.report("stream", StreamName, streamChecks(want, st.CachedInfo().Config))
	return st, nil
}

// Consumer creates the indexer's consumer when it is missing, else binds to it, bringing its
// delivery settings up to date and keeping its replicas.
func (s Setup) Consumer(ctx context.Context) (jetstream.Consumer, error) {
	want := ConsumerConfig(s.Options)
	c, err := bindOrCreate(
		func() (jetstream.Consumer, error) { return s.JS.Consumer(ctx, StreamName, ConsumerName) },
		func() (jetstream.Consumer, error) { return s.JS.CreateConsumer(ctx, StreamName, want) },
		jetstream.ErrConsumerNotFound, jetstream.ErrConsumerExists, s.created("consumer", ConsumerName, want.Replicas))
	if err != nil {
		return nil, fmt.Errorf("consumer %s: %w", ConsumerName, err)
	}
	have := c.CachedInfo().Config
	s.report("consumer", ConsumerName, consumerChecks(want, have))
	if deliveryDiffers(want, have) {
		update := have
		update.Description, update.AckWait, update.MaxDeliver, update.BackOff, update.MaxAckPending =
			want.Description, want.AckWait, want.MaxDeliver, want.BackOff, want.MaxAckPending
		updated, err := s.JS.UpdateConsumer(ctx, StreamName, update)
		if err != nil {
			return nil, fmt.Errorf("consumer %s: update delivery settings: %w", ConsumerName, err)
		}
		s.log().Info("updated the delivery settings of JetStream consumer", "name", ConsumerName,
			"ack_wait", want.AckWait, "max_deliver", want.MaxDeliver, "replicas", have.Replicas)
		c = updated
	}
	return c, nil
}

// Bucket creates the index bucket when it is missing, else binds to it as it is; it also checks
// the object store beside it, when one exists.
func (s Setup) Bucket(ctx context.Context) (jetstream.KeyValue, error) {
	return s.keyValue(ctx, BucketConfig(s.Options), s.checkBucket)
}

// ErrBucketMissing means the index bucket does not exist yet; the indexer creates it.
var ErrBucketMissing = errors.New("the index bucket does not exist yet; the indexer creates it (waiting for it)")

// BindBucket binds to the index bucket, which the indexer creates; ErrBucketMissing while it
// does not exist. An API replica uses it: it never creates the bucket, which would give it the
// replica's settings instead of the indexer's.
func (s Setup) BindBucket(ctx context.Context) (jetstream.KeyValue, error) {
	return s.bindKeyValue(ctx, BucketConfig(s.Options), ErrBucketMissing, s.checkBucket)
}

// StatusBucket creates the status bucket when it is missing, else binds to it as it is. The
// indexer owns it, as it owns the index bucket.
func (s Setup) StatusBucket(ctx context.Context) (jetstream.KeyValue, error) {
	want := StatusBucketConfig(s.Options)
	kv, err := s.keyValue(ctx, want, s.checkStatusBucket)
	if errors.Is(err, jetstream.ErrLimitMarkerTTLNotSupported) {
		// A NATS server before 2.11 cannot expire delete markers: the bucket is made without,
		// and status.KV purges the markers itself.
		s.log().Warn("the NATS server cannot expire delete markers; the status bucket's are purged by the indexer", "bucket", StatusBucket)
		want.LimitMarkerTTL = 0
		kv, err = s.keyValue(ctx, want, s.checkStatusBucket)
	}
	return kv, err
}

// ErrStatusBucketMissing means the status bucket does not exist yet; the indexer creates it.
var ErrStatusBucketMissing = errors.New("the status bucket does not exist yet; the indexer creates it (waiting for it)")

// BindStatusBucket binds to the status bucket, which the indexer creates; ErrStatusBucketMissing
// while it does not exist. An API replica uses it, as BindBucket.
func (s Setup) BindStatusBucket(ctx context.Context) (jetstream.KeyValue, error) {
	return s.bindKeyValue(ctx, StatusBucketConfig(s.Options), ErrStatusBucketMissing, s.checkStatusBucket)
}

// bucketCheck reports how an existing bucket differs from want.
type bucketCheck func(ctx context.Context, kv jetstream.KeyValue, want jetstream.KeyValueConfig) error

// keyValue creates the key-value bucket want describes when it is missing, else binds to it as
// it is, and checks it.
func (s Setup) keyValue(ctx context.Context, want jetstream.KeyValueConfig, check bucketCheck) (jetstream.KeyValue, error) {
	kv, err := bindOrCreate(
		func() (jetstream.KeyValue, error) { return s.JS.KeyValue(ctx, want.Bucket) },
		func() (jetstream.KeyValue, error) { return s.JS.CreateKeyValue(ctx, want) },
		jetstream.ErrBucketNotFound, jetstream.ErrBucketExists, s.created("key-value bucket", want.Bucket, want.Replicas))
	if err != nil {
		return nil, fmt.Errorf("bucket %s: %w", want.Bucket, err)
	}
	return kv, check(ctx, kv, want)
}

// bindKeyValue binds to the key-value bucket want names, never creating it: missing while it
// does not exist.
func (s Setup) bindKeyValue(ctx context.Context, want jetstream.KeyValueConfig, missing error, check bucketCheck) (jetstream.KeyValue, error) {
	kv, err := s.JS.KeyValue(ctx, want.Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, fmt.Errorf("bucket %s: %w", want.Bucket, missing)
	}
	if err != nil {
		return nil, fmt.Errorf("bucket %s: %w", want.Bucket, err)
	}
	return kv, check(ctx, kv, want)
}

// reportBucket reports, as resource, how a bucket's stream differs from want.
func (s Setup) reportBucket(ctx context.Context, resource string, kv jetstream.KeyValue, want jetstream.KeyValueConfig) error {
	st, err := kv.Status(ctx)
	if err != nil {
		return fmt.Errorf("bucket %s: %w", want.Bucket, err)
	}
	if bs, ok := st.(*jetstream.KeyValueBucketStatus); ok {
		s.report(resource, want.Bucket, bucketChecks(want, bs.StreamInfo().Config))
	}
	return nil
}

func (s Setup) checkStatusBucket(ctx context.Context, kv jetstream.KeyValue, want jetstream.KeyValueConfig) error {
	return s.reportBucket(ctx, "status_bucket", kv, want)
}

func (s Setup) checkBucket(ctx context.Context, kv jetstream.KeyValue, want jetstream.KeyValueConfig) error {
	if err := s.reportBucket(ctx, "bucket", kv, want); err != nil {
		return err
	}
	os, err := s.JS.ObjectStore(ctx, LargeRecordsBucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil // created with the bucket's replicas on the first large record
	}
	if err != nil {
		return fmt.Errorf("object store %s: %w", LargeRecordsBucket, err)
	}
	ost, err := os.Status(ctx)
	if err != nil {
		return fmt.Errorf("object store %s: %w", LargeRecordsBucket, err)
	}
	s.report("object_store", LargeRecordsBucket, []settingCheck{
		replicasCheck(want.Replicas, ost.Replicas()),
		{"storage", want.Storage.String(), ost.Storage().String(), false},
	})
	return nil
}
