package events

import (
	"errors"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/oci-epr/package-registry/internal/testkit"
)

func TestStreamChecks(t *testing.T) {
	want := StreamConfig(StreamOptions{Replicas: 3})
	tests := []struct {
		name   string
		change func(*jetstream.StreamConfig)
		found  []Mismatch
	}{
		{"same", func(*jetstream.StreamConfig) {}, nil},
		{"fewer replicas", func(c *jetstream.StreamConfig) { c.Replicas = 1 },
			[]Mismatch{{Resource: "stream", Setting: "replicas", Want: "3", Have: "1", Lower: true}}},
		{"more replicas", func(c *jetstream.StreamConfig) { c.Replicas = 5 },
			[]Mismatch{{Resource: "stream", Setting: "replicas", Want: "3", Have: "5"}}},
		{"retention and age", func(c *jetstream.StreamConfig) { c.Retention, c.MaxAge = jetstream.WorkQueuePolicy, time.Hour },
			[]Mismatch{{Resource: "stream", Setting: "retention", Want: "Limits", Have: "WorkQueue"},
				{Resource: "stream", Setting: "max_age", Want: "168h0m0s", Have: "1h0m0s"}}},
		{"more subjects are fine", func(c *jetstream.StreamConfig) { c.Subjects = append(c.Subjects, "other.>") }, nil},
		{"a subject missing", func(c *jetstream.StreamConfig) { c.Subjects = c.Subjects[:1] },
			[]Mismatch{{Resource: "stream", Setting: "subjects", Want: "present", Have: "[registry.events.>]"}}},
	}
	for _, tt := range tests {
		have := want
		have.Subjects = append([]string(nil), want.Subjects...)
		tt.change(&have)
		if _, found := mismatches("stream", streamChecks(want, have)); !reflect.DeepEqual(found, tt.found) {
			t.Errorf("%s: %+v, want %+v", tt.name, found, tt.found)
		}
	}
}

// setupFixture is an embedded server, a JetStream context on it, and a set-up whose log and
// metrics the test reads.
func setupFixture(t *testing.T) (jetstream.JetStream, *testkit.SyncBuffer, *SetupMetrics) {
	t.Helper()
	nc := connectTestServer(t)
	logs := &testkit.SyncBuffer{}
	m, err := NewSetupMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	return mustJS(t, nc), logs, m
}

// A resource someone else made with other settings is bound as it is: nothing is updated, each
// difference is logged (an error when it is less durable than asked) and shown as a gauge.
func TestSetupLeavesExistingResourcesAlone(t *testing.T) {
	js, logs, m := setupFixture(t)
	ctx := t.Context()
	theirs := StreamConfig(StreamOptions{MaxAge: time.Hour})
	if _, err := js.CreateStream(ctx, theirs); err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: PackagesBucket, History: 5, Storage: jetstream.FileStorage}); err != nil {
		t.Fatal(err)
	}
	// This process asks for 3 replicas (the single server could not even give them).
	s := Setup{JS: js, Options: StreamOptions{Replicas: 3}, Log: slog.New(slog.NewTextHandler(logs, nil)), Metrics: m}
	st, err := s.Stream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := s.Bucket(ctx)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.Replicas != 1 || info.Config.MaxAge != time.Hour {
		t.Errorf("stream changed: replicas %d, max age %v", info.Config.Replicas, info.Config.MaxAge)
	}
	status, err := kv.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if status.History() != 5 || status.(*jetstream.KeyValueBucketStatus).StreamInfo().Config.Replicas != 1 {
		t.Errorf("bucket changed: history %d", status.History())
	}
	for _, want := range []string{
		`level=ERROR msg="shared JetStream resource is less durable than this process's settings ask for; left as it is" resource=stream name=REGISTRY_EVENTS setting=replicas existing=1 configured=3`,
		`level=WARN msg="shared JetStream resource differs from this process's settings; left as it is" resource=stream name=REGISTRY_EVENTS setting=max_age existing=1h0m0s configured=168h0m0s`,
		`level=ERROR msg="shared JetStream resource is less durable than this process's settings ask for; left as it is" resource=bucket name=packages setting=replicas existing=1 configured=3`,
		`resource=bucket name=packages setting=history existing=5 configured=1`,
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %s\n%s", want, logs)
		}
	}
	for _, g := range []struct {
		resource, setting string
		want              float64
	}{{"stream", "replicas", 1}, {"stream", "max_age", 1}, {"stream", "retention", 0}, {"bucket", "replicas", 1}, {"bucket", "history", 1}, {"bucket", "storage", 0}} {
		if got := testutil.ToFloat64(m.mismatch.WithLabelValues(g.resource, g.setting)); got != g.want {
			t.Errorf("epr_jetstream_setting_mismatch{resource=%q,setting=%q} = %v, want %v", g.resource, g.setting, got, g.want)
		}
	}
}

// A reader binds and never creates: with no bucket it says so and leaves it to the indexer; once
// the owner has created it, the reader binds to it with no complaint.
func TestReaderBindsAndOwnerCreates(t *testing.T) {
	js, logs, m := setupFixture(t)
	ctx := t.Context()
	reader := Setup{JS: js, Options: StreamOptions{Replicas: 1}, Log: slog.New(slog.NewTextHandler(logs, nil)), Metrics: m}
	if _, err := reader.BindBucket(ctx); !errors.Is(err, ErrBucketMissing) {
		t.Fatalf("bind before the indexer: %v, want ErrBucketMissing", err)
	}
	if _, err := js.KeyValue(ctx, PackagesBucket); !errors.Is(err, jetstream.ErrBucketNotFound) {
		t.Fatalf("the reader created the bucket: %v", err)
	}
	owner := Setup{JS: js, Options: StreamOptions{Replicas: 1}, Log: slog.New(slog.NewTextHandler(logs, nil)), Metrics: m}
	if _, err := owner.Bucket(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := owner.Stream(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := reader.BindBucket(ctx); err != nil {
		t.Fatal(err)
	}
	// Both of a process's views agree with what exists: created and bound, nothing reported.
	if _, err := owner.Stream(ctx); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), "level=WARN") || strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("matching settings reported:\n%s", logs)
	}
	if !strings.Contains(logs.String(), `msg="created JetStream key-value bucket" name=packages replicas=1`) {
		t.Errorf("creation not logged:\n%s", logs)
	}
}

// The status bucket follows the index bucket's rule: replicas bind and wait, the indexer creates
// it bounded, and a second indexer leaves an existing one as it is, reporting a difference.
func TestStatusBucketIsTheIndexersAndBounded(t *testing.T) {
	js, logs, m := setupFixture(t)
	ctx := t.Context()
	reader := Setup{JS: js, Options: StreamOptions{Replicas: 1}, Log: slog.New(slog.NewTextHandler(logs, nil)), Metrics: m}
	if _, err := reader.BindStatusBucket(ctx); !errors.Is(err, ErrStatusBucketMissing) {
		t.Fatalf("bind before the indexer: %v, want ErrStatusBucketMissing", err)
	}
	owner := Setup{JS: js, Options: StreamOptions{Replicas: 1}, Log: slog.New(slog.NewTextHandler(logs, nil)), Metrics: m}
	kv, err := owner.StatusBucket(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st, err := kv.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cfg := st.(*jetstream.KeyValueBucketStatus).StreamInfo().Config
	if cfg.MaxBytes != StatusMaxBytes || cfg.MaxMsgSize != StatusMaxValue || cfg.MaxMsgsPerSubject != 1 || cfg.SubjectDeleteMarkerTTL != StatusMarkerTTL {
		t.Errorf("status bucket not bounded: max bytes %d, max value %d, history %d, marker TTL %v", cfg.MaxBytes, cfg.MaxMsgSize, cfg.MaxMsgsPerSubject, cfg.SubjectDeleteMarkerTTL)
	}
	if _, err := reader.BindStatusBucket(ctx); err != nil {
		t.Fatal(err)
	}
	more := Setup{JS: js, Options: StreamOptions{Replicas: 3}, Log: slog.New(slog.NewTextHandler(logs, nil)), Metrics: m}
	if _, err := more.StatusBucket(ctx); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(m.mismatch.WithLabelValues("status_bucket", "replicas")); got != 1 {
		t.Errorf("replicas mismatch not shown: %v", got)
	}
}

// The indexer, the consumer's only user, keeps its delivery settings current (they are its
// behaviour, not the operator's durability choice) and keeps the consumer's replicas.
func TestConsumerDeliverySettingsFollowTheIndexer(t *testing.T) {
	js, logs, m := setupFixture(t)
	ctx := t.Context()
	s := Setup{JS: js, Options: StreamOptions{MaxDeliver: 5}, Log: slog.New(slog.NewTextHandler(logs, nil)), Metrics: m}
	if _, err := s.Stream(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Consumer(ctx); err != nil {
		t.Fatal(err)
	}
	s.Options.MaxDeliver, s.Options.Backoff = 7, []time.Duration{2 * time.Second}
	c, err := s.Consumer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.MaxDeliver != 7 || !reflect.DeepEqual(info.Config.BackOff, []time.Duration{2 * time.Second}) || info.Config.Replicas != 1 {
		t.Errorf("consumer: max deliver %d, back-off %v, replicas %d", info.Config.MaxDeliver, info.Config.BackOff, info.Config.Replicas)
	}
	if !strings.Contains(logs.String(), "updated the delivery settings") {
		t.Errorf("update not logged:\n%s", logs)
	}
	// Unchanged settings are not updated again.
	before := strings.Count(logs.String(), "updated the delivery settings")
	if _, err := s.Consumer(ctx); err != nil {
		t.Fatal(err)
	}
	if after := strings.Count(logs.String(), "updated the delivery settings"); after != before {
		t.Errorf("an unchanged consumer was updated again:\n%s", logs)
	}
}
