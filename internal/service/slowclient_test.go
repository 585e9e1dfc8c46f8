package service

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oci-epr/package-registry/internal/events"
	"github.com/oci-epr/package-registry/internal/process"
)

// trickle sends a request that declares a body of declared bytes and then sends it one byte every
// 20 ms (so the whole body would take declared/50 seconds). It returns how long the server held
// the connection before answering or closing it, and how many body bytes it had sent by then.
func trickle(t *testing.T, addr, method, path string, header string, declared int) (held time.Duration, sent int64, status string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n%sContent-Length: %d\r\n\r\n", method, path, addr, header, declared)
	var n atomic.Int64
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for n.Load() < int64(declared) {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if _, err := conn.Write([]byte{' '}); err != nil {
				return
			}
			n.Add(1)
		}
	}()
	// The safety bound only ends a test whose server never cuts the client off; the assertion
	// below is on the bytes sent, which does not depend on this machine's speed.
	_ = conn.SetReadDeadline(time.Now().Add(time.Duration(declared) * 20 * time.Millisecond))
	line, err := bufio.NewReader(conn).ReadString('\n')
	held = time.Since(start)
	if err != nil {
		status = "closed: " + err.Error()
	} else {
		status = strings.TrimSpace(line)
	}
	return held, n.Load(), status
}

// TestSlowClientsAreCutOff holds for every listener of every mode: a client that declares a body
// and trickles it is answered or disconnected when its deadline passes, long before its body is
// complete, and a body over the limit is refused — with the same webhook options in the
// standalone receiver and the all-in-one mode.
func TestSlowClientsAreCutOff(t *testing.T) {
	t.Setenv("OTEL_TRACES_EXPORTER", "none")
	hooks := WebhookOptions{Token: testToken, MaxBodyBytes: 4 << 10, BodyTimeout: 300 * time.Millisecond, PublishTimeout: time.Second}
	listener := process.Timeouts{Read: 600 * time.Millisecond}
	// 1,000 bytes at 50 B/s take 20 s: a server that waits for them fails the test.
	const declared = 1000

	modes := []struct {
		name string
		// addr is the listener serving the webhooks; other is a route of that listener that
		// takes no body (the API in all-in-one, /health standalone).
		start func(t *testing.T) (addr, other string)
	}{
		{"webhook receiver", func(t *testing.T) (string, string) {
			nats := startEmbeddedNATS(t, t.TempDir(), "127.0.0.1:-1")
			t.Cleanup(nats.Shutdown)
			nc, err := events.Connect(nats.ClientURL(), "epr-webhook", testLogger(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(nc.Close)
			w, err := StartWebhook(t.Context(), nc, hooks)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { w.Close() })
			ln, err := process.Listen("webhook", "127.0.0.1:0", w.Handler())
			if err != nil {
				t.Fatal(err)
			}
			ln.SetTimeouts(listener)
			served := make(chan error, 1)
			go func() { served <- process.Serve(t.Context(), testLogger(t), ln) }()
			t.Cleanup(func() { <-served })
			return ln.Addr(), "/health"
		}},
		{"all-in-one", func(t *testing.T) (string, string) {
			s := startStackWith(t, stackOptions{timeouts: listener, hooks: hooks})
			return strings.TrimPrefix(s.base, "http://"), "/search"
		}},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			addr, other := m.start(t)
			auth := "Authorization: Bearer " + testToken + "\r\n"

			held, sent, status := trickle(t, addr, http.MethodPost, "/webhooks/distribution", auth, declared)
			t.Logf("webhook body trickle: held %v, %d of %d bytes sent, %s", held.Round(time.Millisecond), sent, declared, status)
			if sent >= declared {
				t.Fatalf("the server waited for the whole trickled body (%d bytes, %v)", sent, held)
			}

			held, sent, status = trickle(t, addr, http.MethodGet, other, "", declared)
			t.Logf("%s body trickle: held %v, %d of %d bytes sent, %s", other, held.Round(time.Millisecond), sent, declared, status)
			if sent >= declared {
				t.Fatalf("%s: the listener waited for the whole trickled body (%d bytes, %v)", other, sent, held)
			}

			big := strings.Repeat(" ", int(hooks.MaxBodyBytes)+1)
			req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/webhooks/distribution", strings.NewReader(big))
			req.ContentLength = -1 // chunked: the limit must hold while reading, not only on the header
			req.Header.Set("Authorization", "Bearer "+testToken)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusRequestEntityTooLarge {
				t.Fatalf("body over -max-body-bytes: status %d, want 413", resp.StatusCode)
			}
		})
	}
}
