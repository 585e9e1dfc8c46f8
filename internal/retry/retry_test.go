package retry

import (
	"context"
	"errors"
	"testing"
	"time"
)

var errTransient, errFinal = errors.New("transient"), errors.New("final")

func TestDo(t *testing.T) {
	for _, row := range []struct {
		name     string
		fails    []error // what the attempts return, in order, then success
		p        Policy
		want     error
		attempts int
	}{
		{"succeeds after transient failures", []error{errTransient, errTransient}, Policy{}, nil, 3},
		{"a non-retryable error ends at once", []error{errTransient, errFinal, errTransient}, Policy{Retryable: func(err error) bool { return err == errTransient }}, errFinal, 2},
		{"the first success ends", nil, Policy{}, nil, 1},
	} {
		t.Run(row.name, func(t *testing.T) {
			row.p.First, row.p.Max = time.Microsecond, time.Microsecond
			n, retries := 0, 0
			row.p.OnRetry = func(error, time.Duration) { retries++ }
			err := row.p.Do(t.Context(), func(context.Context) error {
				n++
				if n <= len(row.fails) {
					return row.fails[n-1]
				}
				return nil
			})
			if !errors.Is(err, row.want) || (row.want == nil && err != nil) {
				t.Fatalf("err %v, want %v", err, row.want)
			}
			if n != row.attempts || retries != n-1 && row.want == nil {
				t.Fatalf("%d attempts (%d retries reported), want %d", n, retries, row.attempts)
			}
		})
	}
}

// Each attempt gets its own deadline, and an ended context stops the retries with its error.
func TestDoBoundsAttemptsAndStopsWithTheContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	n := 0
	err := Policy{First: time.Microsecond, Max: time.Microsecond, Attempt: time.Millisecond}.Do(ctx, func(actx context.Context) error {
		n++
		<-actx.Done() // an attempt that hangs is cut off by its deadline
		if n == 3 {
			cancel()
		}
		return actx.Err()
	})
	if !errors.Is(err, context.Canceled) || n != 3 {
		t.Fatalf("err %v after %d attempts, want context.Canceled after 3", err, n)
	}
}

func TestPausesDoubleUpToMax(t *testing.T) {
	b := Policy{First: 100 * time.Millisecond, Max: 350 * time.Millisecond}.Pauses()
	var got []time.Duration
	for range 4 {
		got = append(got, b.NextBackOff())
	}
	want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 350 * time.Millisecond, 350 * time.Millisecond}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("pauses %v, want %v", got, want)
		}
	}
	b.Reset()
	if d := b.NextBackOff(); d != 100*time.Millisecond {
		t.Fatalf("after Reset the pause is %v", d)
	}
}
