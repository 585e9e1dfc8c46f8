package webhook_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/oci-epr/package-registry/internal/events"
	"github.com/oci-epr/package-registry/internal/testkit"
	"github.com/oci-epr/package-registry/internal/webhook"
)

func startNATS(t *testing.T, dir, addr string) *events.Embedded {
	t.Helper()
	srv, err := events.StartEmbedded(events.EmbeddedOptions{StoreDir: dir, Address: addr})
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

// natsStack is an embedded NATS server with the event stream, and a reconnecting client.
type natsStack struct {
	srv *events.Embedded
	dir string
	nc  *nats.Conn
	js  jetstream.JetStream
	pub *events.Publisher
}

func newNATSStack(t *testing.T) *natsStack {
	t.Helper()
	s := &natsStack{dir: t.TempDir()}
	s.srv = startNATS(t, s.dir, "")
	t.Cleanup(func() {
		if s.srv != nil {
			s.srv.Shutdown()
		}
	})
	nc, err := events.Connect(s.srv.ClientURL(), t.Name(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	s.nc = nc
	if s.js, err = jetstream.New(nc); err != nil {
		t.Fatal(err)
	}
	if _, err := events.EnsureStream(t.Context(), s.js, events.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	// The timeout bounds a hung ack only: a publish while disconnected fails at once.
	if s.pub, err = events.NewPublisher(nc, time.Minute); err != nil {
		t.Fatal(err)
	}
	return s
}

// stop shuts the server down, waits until the client has noticed, and returns the address to
// restart it at.
func (s *natsStack) stop(t *testing.T) string {
	t.Helper()
	addr := s.srv.Address()
	s.srv.Shutdown()
	s.srv = nil
	testkit.Eventually(t, 10*time.Second, "client to notice NATS is down", func() bool { return !s.nc.IsConnected() })
	return addr
}

// restart starts the server again at the same address on the same store and waits for the
// client to reconnect.
func (s *natsStack) restart(t *testing.T, addr string) {
	t.Helper()
	s.srv = startNATS(t, s.dir, addr)
	testkit.Eventually(t, 10*time.Second, "client to reconnect", s.nc.IsConnected)
}

// stored is one message of the event stream.
type stored struct {
	Subject string
	MsgID   string
	Events  []events.Event
}

// streamContents reads the event stream from its first message.
func streamContents(t *testing.T, ctx context.Context, js jetstream.JetStream) []stored {
	t.Helper()
	s, err := js.Stream(ctx, events.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []stored
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		msg, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("get message %d: %v", seq, err)
		}
		evs, err := webhook.DecodeStreamMessage(msg.Subject, msg.Data)
		if err != nil {
			t.Fatalf("decode message %d: %v", seq, err)
		}
		out = append(out, stored{Subject: msg.Subject, MsgID: msg.Header.Get(jetstream.MsgIDHeader), Events: evs})
	}
	return out
}

// streamLen is the number of messages in the event stream, or -1 while it cannot be read.
func streamLen(ctx context.Context, js jetstream.JetStream) int {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	s, err := js.Stream(ctx, events.StreamName)
	if err != nil {
		return -1
	}
	info, err := s.Info(ctx)
	if err != nil {
		return -1
	}
	return int(info.State.Msgs)
}

// countingPublisher passes events to the real publisher and counts what it acknowledged.
type countingPublisher struct {
	next      webhook.Publisher
	mu        sync.Mutex
	attempts  int
	published int
}

func (p *countingPublisher) Publish(ctx context.Context, evs ...events.Event) error {
	err := p.next.Publish(ctx, evs...)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.attempts++
	if err == nil {
		p.published += len(evs)
	}
	return err
}

func (p *countingPublisher) counts() (attempts, published int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.attempts, p.published
}

// statusCounter wraps a handler and counts the status codes it answers.
type statusCounter struct {
	mu     sync.Mutex
	counts map[int]int
}

func (s *statusCounter) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		h.ServeHTTP(rec, r)
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.counts == nil {
			s.counts = map[int]int{}
		}
		s.counts[rec.code]++
	})
}

func (s *statusCounter) get(code int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[code]
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.code = code
	r.ResponseWriter.WriteHeader(code)
}

func debugLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// counterValue reads one series of a counter from a registry.
func counterValue(t *testing.T, g prometheus.Gatherer, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if labels[lp.GetName()] != lp.GetValue() {
					continue metrics
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	t.Fatalf("no series %s%v", name, labels)
	return 0
}
