package events

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/oci-epr/package-registry/internal/testkit"
)

func TestSubjectRoundTrip(t *testing.T) {
	tests := []struct {
		repository string
		subject    string
	}{
		{"packages/nginx", "registry.events.packages.nginx"},
		{"packages", "registry.events.packages"},
		{"team.a/pkgs", "registry.events.team%2Ea.pkgs"},
		{"we*rd/>x/100%", "registry.events.we%2Ard.%3Ex.100%25"},
	}
	for _, tt := range tests {
		if got := Subject(tt.repository); got != tt.subject {
			t.Errorf("Subject(%q) = %q, want %q", tt.repository, got, tt.subject)
		}
		back, ok := RepositoryFromSubject(tt.subject)
		if !ok || back != tt.repository {
			t.Errorf("RepositoryFromSubject(%q) = %q, %v; want %q", tt.subject, back, ok, tt.repository)
		}
	}
	for _, bad := range []string{"other.x", "registry.events.", "registry.events.a%2", "registry.events.%zz"} {
		if r, ok := RepositoryFromSubject(bad); ok {
			t.Errorf("RepositoryFromSubject(%q) = %q, want failure", bad, r)
		}
	}
}

func TestEventValidate(t *testing.T) {
	ok := Event{ID: "1", Repository: "r", Action: ActionPush}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, e := range map[string]Event{
		"no id":      {Repository: "r", Action: ActionPush},
		"no repo":    {ID: "1", Action: ActionPush},
		"bad action": {ID: "1", Repository: "r", Action: "pull"},
	} {
		if e.Validate() == nil {
			t.Errorf("%s: want error", name)
		}
	}
}

// StartTestServer runs an embedded NATS server for the duration of a test.
func startServer(t *testing.T, dir, addr string) *Embedded {
	t.Helper()
	srv, err := StartEmbedded(EmbeddedOptions{StoreDir: dir, Address: addr})
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

// streamFixture is an embedded server with the event stream, and a connection to it.
func streamFixture(t *testing.T) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc := connectTestServer(t)
	js := mustJS(t, nc)
	if _, err := EnsureStream(t.Context(), js, StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	return nc, js
}

func TestPublishDeduplicatesAndConsumes(t *testing.T) {
	ctx := t.Context()
	nc, js := streamFixture(t)
	pub, err := NewPublisher(nc, time.Minute) // bounds a hung ack only; disconnected publishes fail at once
	if err != nil {
		t.Fatal(err)
	}
	ev := Event{ID: "e1", Format: FormatDistribution, Repository: "packages/nginx", Tag: "1.0.0", Action: ActionPush, Time: time.Unix(1, 0).UTC()}
	for range 3 {
		if err := pub.Publish(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	ev2 := ev
	ev2.ID, ev2.Action, ev2.Tag = "e2", ActionDelete, ""
	if err := pub.Publish(ctx, ev2); err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(ctx, StreamName)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 2 {
		t.Fatalf("stream holds %d messages, want 2 (one per event id)", info.State.Msgs)
	}

	// JetStream takes the first back-off as the ack wait too, so a short one could redeliver an
	// event whose ack is merely slow on a busy machine. Delivery is at least once: the handler
	// counts distinct events, and the test waits for both however many deliveries that takes.
	c, err := EnsureConsumer(ctx, js, StreamOptions{Backoff: []time.Duration{100 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	got := map[string]Event{}
	failedOnce := false
	cc, err := Consume(ctx, c, slog.New(slog.DiscardHandler), func(_ context.Context, e Event) error {
		mu.Lock()
		defer mu.Unlock()
		if e.ID == "e2" && !failedOnce {
			failedOnce = true
			return context.DeadlineExceeded // first attempt fails: must be redelivered
		}
		got[e.ID] = e
		return nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Stop()
	testkit.Eventually(t, 10*time.Second, "both events consumed", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == 2
	})
	mu.Lock()
	failed, e1, e2 := failedOnce, got["e1"], got["e2"]
	mu.Unlock()
	if !failed {
		t.Fatal("handler never saw the failing attempt")
	}
	if e1 != ev || e2 != ev2 {
		t.Fatalf("consumed %+v and %+v, want %+v and %+v", e1, e2, ev, ev2)
	}
	// Acked messages leave nothing pending.
	var ci *jetstream.ConsumerInfo
	testkit.Eventually(t, 5*time.Second, "nothing pending on the consumer", func() bool {
		ci, err = c.Info(ctx)
		return err == nil && ci.NumAckPending == 0 && ci.NumPending == 0
	})
}

func TestPublishFailsFastWhileDisconnected(t *testing.T) {
	dir := t.TempDir()
	srv := startServer(t, dir, "")
	addr := srv.Address()
	nc, err := Connect(srv.ClientURL(), "test", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := EnsureStream(t.Context(), mustJS(t, nc), StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	pub, _ := NewPublisher(nc, time.Minute) // bounds a hung ack only; disconnected publishes fail at once
	srv.Shutdown()
	ev := Event{ID: "x", Repository: "r", Action: ActionPush}
	if err := pub.Publish(t.Context(), ev); err == nil {
		t.Fatal("publish succeeded with NATS down")
	}
	srv = startServer(t, dir, addr)
	defer srv.Shutdown()
	testkit.Eventually(t, 10*time.Second, "the client to reconnect", nc.IsConnected)
	if err := pub.Publish(t.Context(), ev); err != nil {
		t.Fatalf("publish after reconnect: %v", err)
	}
}

// A handler that outlasts the ack wait is not redelivered while it works.
func TestSlowHandlerIsNotRedelivered(t *testing.T) {
	ctx := t.Context()
	nc, js := streamFixture(t)
	// JetStream uses the first back-off as the ack wait. Two seconds leaves the in-progress
	// ticker (every half ack wait) a second of slack on a saturated machine.
	const ackWait = 2 * time.Second
	c, err := EnsureConsumer(ctx, js, StreamOptions{AckWait: ackWait, Backoff: []time.Duration{ackWait}})
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := NewPublisher(nc, time.Minute) // bounds a hung ack only; disconnected publishes fail at once
	if err := pub.Publish(ctx, Event{ID: "slow", Repository: "r", Action: ActionPush}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	calls := 0
	done := make(chan struct{})
	cc, err := Consume(ctx, c, slog.New(slog.DiscardHandler), func(context.Context, Event) error {
		mu.Lock()
		calls++
		first := calls == 1
		mu.Unlock()
		if first {
			time.Sleep(5 * ackWait / 2) // the slow work itself: more than two ack waits
			close(done)
		}
		return nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Stop()
	<-done
	// Once the ack is in, the server's own count says whether it ever delivered the event again.
	var ci *jetstream.ConsumerInfo
	testkit.Eventually(t, 5*time.Second, "the event acknowledged", func() bool {
		ci, err = c.Info(ctx)
		return err == nil && ci.NumAckPending == 0
	})
	mu.Lock()
	defer mu.Unlock()
	if calls != 1 || ci.Delivered.Consumer != 1 || ci.NumRedelivered != 0 {
		t.Fatalf("handler called %d times, server delivered %d times (%d redelivered), want once (redelivered while in progress)",
			calls, ci.Delivered.Consumer, ci.NumRedelivered)
	}
}
