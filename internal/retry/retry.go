// Package retry is the project's one way of trying again: exponential pauses
// (github.com/cenkalti/backoff/v5) between attempts that each have their own deadline, until
// success, an error a retry cannot change, the budget, or the caller's context ends.
package retry

import (
	"context"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// Policy says how to try again.
type Policy struct {
	// First and Max bound the pauses: the first is First, each next one twice the last, up to
	// Max.
	First, Max time.Duration
	// Attempt is the deadline of one attempt; 0 leaves it to the caller's context.
	Attempt time.Duration
	// Budget bounds all attempts and pauses together; 0 tries until the context ends.
	Budget time.Duration
	// Tries bounds the number of attempts; 0 leaves it to the budget and the context.
	Tries uint
	// Retryable reports whether an error may go away on another attempt; nil retries every
	// error. A non-retryable error is returned at once.
	Retryable func(error) bool
	// OnRetry, when set, hears of each failed attempt and the pause before the next.
	OnRetry func(err error, pause time.Duration)
}

// Do runs fn until it succeeds or the policy gives up; it returns fn's last error, or the
// context's when that ended first.
func (p Policy) Do(ctx context.Context, fn func(context.Context) error) error {
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		actx, cancel := ctx, context.CancelFunc(func() {})
		if p.Attempt > 0 {
			actx, cancel = context.WithTimeout(ctx, p.Attempt)
		}
		err := fn(actx)
		cancel()
		if err != nil && p.Retryable != nil && !p.Retryable(err) {
			return struct{}{}, backoff.Permanent(err)
		}
		return struct{}{}, err
	}, backoff.WithBackOff(p.Pauses()), backoff.WithMaxElapsedTime(p.Budget), backoff.WithMaxTries(p.Tries), backoff.WithNotify(p.OnRetry))
	return err
}

// Pauses is the policy's pause sequence, for a loop that supervises rather than calls: take
// NextBackOff before each retry, Reset after progress.
func (p Policy) Pauses() *backoff.ExponentialBackOff {
	b := &backoff.ExponentialBackOff{InitialInterval: p.First, Multiplier: 2, MaxInterval: p.Max}
	b.Reset()
	return b
}

// Sleep pauses for d, or less when ctx ends first; it reports whether the pause was whole.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
