// Package testkit owns the small helpers the tests of several packages share: polling for a
// condition, picking a free port, collecting logs written from other goroutines. Only tests
// import it.
package testkit

import (
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// Patience is the least time Eventually waits before it fails a test. A condition that holds
// in milliseconds on a quiet machine can take many seconds on a saturated one (two cores, -race,
// other test binaries); a test must fail only when the condition never holds, so the outer
// limit is minutes, never a measurement.
const Patience = 3 * time.Minute

// Eventually polls cond until it holds and returns how long that took (for logs, never for
// assertions), failing the test after the larger of within and Patience. within documents what
// the caller expects on a quiet machine. The short sleep only paces the polling.
func Eventually(t testing.TB, within time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	limit := max(within, Patience)
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

// FreeAddr returns a loopback address with a port that was free a moment ago, for a server that
// must be started later at a known address.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// SyncBuffer collects output written from several goroutines, such as a logger's.
type SyncBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	return len(p), nil
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

// Env is a lookup function over m, standing in for os.LookupEnv in flag tests.
func Env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// WantErr checks err against want, a substring of the error expected ("" for none): it fails
// the test on a mismatch and reports whether an error was expected, so that a table test can
// stop there.
func WantErr(t testing.TB, err error, want string) bool {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatal(err)
		}
		return false
	}
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want it to mention %q", err, want)
	}
	return true
}

// Returns runs fn and fails the test if it has not returned within limit: for calls that a
// defect made run for ever, so that the test fails with a message rather than at the global
// test timeout. limit is an outer bound, generous, never a measurement.
func Returns(t testing.TB, limit time.Duration, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(limit):
		t.Fatalf("%s still running after %v", what, limit)
	}
}
