package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/oci-epr/package-registry/internal/retry"
)

// Names of the shared JetStream resources. Every deployment (three binaries or all-in-one) uses
// the same ones.
const (
	// StreamName holds registry events; file storage so nothing acknowledged is lost on restart.
	StreamName = "REGISTRY_EVENTS"
	// ConsumerName is the indexer's durable consumer.
	ConsumerName = "indexer"
	// PackagesBucket is the key-value bucket holding the package index: one key per name+version.
	PackagesBucket = "packages"
	// StatusBucket is the key-value bucket of the indexing status (internal/status): what the
	// indexer concluded per tag and repository, its own report and each API replica's.
	StatusBucket = "epr-status"
	// ZotSubject receives Zot's NATS sink (CloudEvents, structured mode) straight into the stream.
	ZotSubject = "registry.zot"
)

// StreamOptions tunes the event stream and the indexer's consumer.
type StreamOptions struct {
	// Replicas of the stream, consumer and bucket when this process creates them: 1 for a single
	// server, 3 for a cluster. Resources that exist keep theirs (see Setup).
	Replicas int
	// DuplicateWindow is how long a message id is remembered for deduplication.
	DuplicateWindow time.Duration
	// MaxAge bounds how long unconsumed events are kept.
	MaxAge time.Duration
	// AckWait is how long the indexer may hold an event before it is redelivered.
	AckWait time.Duration
	// MaxDeliver bounds redeliveries; the periodic resync repairs whatever is dropped after it.
	MaxDeliver int
	// Backoff spaces redeliveries after a failed handling.
	Backoff []time.Duration
}

// DefaultStreamOptions are sized for a registry's notification rate, with redeliveries spaced out
// so that a registry outage does not turn into a tight retry loop.
func DefaultStreamOptions() StreamOptions {
	return StreamOptions{
		Replicas:        1,
		DuplicateWindow: 10 * time.Minute,
		MaxAge:          7 * 24 * time.Hour,
		AckWait:         2 * time.Minute,
		MaxDeliver:      10,
		Backoff:         []time.Duration{time.Second, 5 * time.Second, 30 * time.Second, 2 * time.Minute},
	}
}

func (o StreamOptions) withDefaults() StreamOptions {
	d := DefaultStreamOptions()
	if o.Replicas <= 0 {
		o.Replicas = d.Replicas
	}
	if o.DuplicateWindow <= 0 {
		o.DuplicateWindow = d.DuplicateWindow
	}
	if o.MaxAge <= 0 {
		o.MaxAge = d.MaxAge
	}
	if o.AckWait <= 0 {
		o.AckWait = d.AckWait
	}
	if o.MaxDeliver <= 0 {
		o.MaxDeliver = d.MaxDeliver
	}
	if o.Backoff == nil {
		o.Backoff = d.Backoff
	}
	return o
}

// EnsureStream creates the event stream when it is missing, else binds to it as it is (Setup.Stream
// without logs or metrics).
func EnsureStream(ctx context.Context, js jetstream.JetStream, opts StreamOptions) (jetstream.Stream, error) {
	return Setup{JS: js, Options: opts}.Stream(ctx)
}

// EnsureConsumer creates the indexer's consumer when it is missing, else binds to it (Setup.Consumer
// without logs or metrics).
func EnsureConsumer(ctx context.Context, js jetstream.JetStream, opts StreamOptions) (jetstream.Consumer, error) {
	return Setup{JS: js, Options: opts}.Consumer(ctx)
}

// EnsurePackagesBucket creates the index bucket when it is missing, else binds to it as it is
// (Setup.Bucket without logs or metrics).
func EnsurePackagesBucket(ctx context.Context, js jetstream.JetStream, replicas int) (jetstream.KeyValue, error) {
	return Setup{JS: js, Options: StreamOptions{Replicas: replicas}}.Bucket(ctx)
}

// ErrUnavailable means NATS could not take the event now; the caller should ask its sender to
// retry later.
var ErrUnavailable = errors.New("event stream unavailable")

// Publisher stores events in the stream, deduplicated by event id.
type Publisher struct {
	conn    *nats.Conn
	js      jetstream.JetStream
	timeout time.Duration
}

// NewPublisher publishes through conn. Each publish waits at most timeout for JetStream's ack.
func NewPublisher(conn *nats.Conn, timeout time.Duration) (*Publisher, error) {
	js, err := jetstream.New(conn)
	if err != nil {
		return nil, err
	}
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	return &Publisher{conn: conn, js: js, timeout: timeout}, nil
}

// Connected reports whether the NATS connection is up.
func (p *Publisher) Connected() bool { return p.conn.IsConnected() }

// Publish stores each event and returns once JetStream acknowledged all of them. It fails fast
// with ErrUnavailable while disconnected rather than buffering, because the sender's retry is
// the only safe place to keep an unacknowledged event.
func (p *Publisher) Publish(ctx context.Context, evs ...Event) error {
	for _, e := range evs {
		if err := e.Validate(); err != nil {
			return err
		}
		if !p.conn.IsConnected() {
			return ErrUnavailable
		}
		data, err := e.Marshal()
		if err != nil {
			return err
		}
		if err := p.publish(ctx, Subject(e.Repository), data, e.ID); err != nil {
			return fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
	}
	return nil
}

// publishAttempt bounds one try at publishing. While a NATS cluster elects a new leader for the
// stream a publish goes unanswered; short attempts within the publish timeout answer the sender
// soon after the election instead of making it wait for its own retry back-off. The message id
// makes a repeated attempt harmless: the stream stores the event once.
var publishAttempt = time.Second

func (p *Publisher) publish(ctx context.Context, subject string, data []byte, id string) error {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	return retry.Policy{First: 50 * time.Millisecond, Max: 250 * time.Millisecond, Attempt: publishAttempt,
		Retryable: func(error) bool { return p.conn.IsConnected() }}.Do(ctx, func(ctx context.Context) error {
		_, err := p.js.Publish(ctx, subject, data, jetstream.WithMsgID(id))
		return err
	})
}

// Handler handles one event. A nil error acknowledges it; an error has it redelivered after the
// consumer's backoff.
type Handler func(ctx context.Context, ev Event) error

// Consume delivers the stream's events to h until the returned context is stopped. Each message
// is handled in its own goroutine (the consumer's MaxAckPending bounds how many), so a slow
// repository does not hold up the others; h coalesces work per repository. Payloads that do not
// decode are terminated, never redelivered, and logged.
func Consume(ctx context.Context, c jetstream.Consumer, log *slog.Logger, h Handler, decode Decoder) (jetstream.ConsumeContext, error) {
	if decode == nil {
		decode = DecodeMessage
	}
	backoff := DefaultStreamOptions().Backoff
	ackWait := DefaultStreamOptions().AckWait
	if info := c.CachedInfo(); info != nil {
		if len(info.Config.BackOff) > 0 {
			backoff = info.Config.BackOff
		}
		if info.Config.AckWait > 0 {
			ackWait = info.Config.AckWait
		}
	}
	return c.Consume(func(msg jetstream.Msg) {
		evs, err := decode(msg.Subject(), msg.Data())
		if err != nil {
			log.Warn("dropping undecodable event", "subject", msg.Subject(), "err", err)
			_ = msg.Term()
			return
		}
		go func() {
			// A reconcile of a large repository may outlast the ack wait; tell the server the
			// message is still being worked on rather than have it redelivered meanwhile.
			stop := keepInProgress(msg, ackWait/2)
			defer stop()
			for _, ev := range evs {
				if err := h(ctx, ev); err != nil {
					delay := backoff[0]
					if md, mdErr := msg.Metadata(); mdErr == nil && md.NumDelivered > 0 {
						delay = backoff[min(int(md.NumDelivered)-1, len(backoff)-1)]
					}
					log.Warn("event handling failed; redelivering", "repository", ev.Repository, "in", delay, "err", err)
					_ = msg.NakWithDelay(delay)
					return
				}
			}
			_ = msg.Ack()
		}()
	}, jetstream.PullExpiry(pullExpiry), jetstream.PullHeartbeat(pullHeartbeat))
}

// A pull request lives on the consumer's leader. When that node dies the request dies with it
// and nothing tells the client, which learns of it only from missing heartbeats: with the
// defaults (30 s pulls, 15 s heartbeats) events would wait half a minute after a failover.
// Two missed heartbeats renew the pull.
var (
	pullExpiry    = 5 * time.Second
	pullHeartbeat = 500 * time.Millisecond
)

// keepInProgress extends msg's ack deadline every interval until the returned stop is called.
func keepInProgress(msg jetstream.Msg, interval time.Duration) (stop func()) {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				_ = msg.InProgress()
			}
		}
	}()
	return func() { close(done) }
}

// Decoder turns a message from the stream into events.
type Decoder func(subject string, data []byte) ([]Event, error)

// DecodeMessage decodes a normalised event. Messages on ZotSubject need a CloudEvents decoder,
// which the webhook package provides; callers that read that subject pass their own decode.
func DecodeMessage(subject string, data []byte) ([]Event, error) {
	ev, err := Unmarshal(data)
	if err != nil {
		return nil, err
	}
	return []Event{ev}, nil
}
