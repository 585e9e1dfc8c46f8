package status

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/oci-epr/package-registry/internal/retry"
)

// Asker is what a wait asks: the tags claiming a name (Client.Package).
type Asker interface {
	Package(ctx context.Context, name string, f Filter) (PackageStatus, error)
}

// Waiter asks the status until each version it waits for is served or refused (Decide), or
// its context ends: what `package-registry-ctl wait` and `mirror -wait` do after a push.
type Waiter struct {
	Asker Asker
	// Pauses are the pauses between rounds of asking (zero: DefaultPauses): short at first,
	// since a push is usually served within a second, then modest.
	Pauses retry.Policy
	// Log hears each change of a version's message (Info) and each failed ask (Debug); nil: none.
	Log *slog.Logger
}

// DefaultPauses start at a quarter second and double up to two seconds.
var DefaultPauses = retry.Policy{First: 250 * time.Millisecond, Max: 2 * time.Second}

// WaitResult is how the wait for one version ended.
type WaitResult struct {
	Want    Want
	Verdict Verdict
	// Message is Decide's message for the last answer (empty when none was read).
	Message string
	// Answered reports whether any answer about the version was read.
	Answered bool
	// Err is the last error asking, when the last ask got no answer; with a Verdict of
	// Pending and a live context it is an error asking again cannot change (Temporary false:
	// a 4xx, an answer that is not the route's JSON).
	Err error
}

// Unreachable reports whether the status could not be read: never answered, or answered in a
// way asking again cannot change.
func (r WaitResult) Unreachable() bool {
	return r.Verdict == Pending && r.Err != nil && (!r.Answered || !Temporary(r.Err))
}

// Why says, for people, why a version is not served at the end of a wait: the last answer,
// and the last error asking if the last ask failed.
func (r WaitResult) Why() string {
	msg := r.Message
	if msg == "" {
		msg = r.Want.String() + ": no answer from the status"
	}
	if r.Err != nil {
		msg += " (last error: " + r.Err.Error() + ")"
	}
	return msg
}

// Wait waits for one version (see WaitAll).
func (wt Waiter) Wait(ctx context.Context, w Want) WaitResult { return wt.WaitAll(ctx, []Want{w})[0] }

// WaitAll asks, in rounds, about each version not yet decided, until every one is Done or
// Refused, has an error asking again cannot change, or ctx ends (the timeout: those left are
// Pending with the last message and error). Results are in the order of wants.
func (wt Waiter) WaitAll(ctx context.Context, wants []Want) []WaitResult {
	pol := wt.Pauses
	if pol.First <= 0 {
		pol = DefaultPauses
	}
	pauses := pol.Pauses()
	out := make([]WaitResult, len(wants))
	open := make([]int, 0, len(wants))
	for i, w := range wants {
		out[i].Want = w
		open = append(open, i)
	}
	for len(open) > 0 {
		still := open[:0]
		for _, i := range open {
			if ctx.Err() != nil {
				still = append(still, i)
				continue
			}
			if !wt.ask(ctx, &out[i]) {
				still = append(still, i)
			}
		}
		open = still
		if len(open) == 0 || !retry.Sleep(ctx, pauses.NextBackOff()) {
			break
		}
	}
	return out
}

// ask asks once about r.Want and records the answer; it reports whether r is decided.
func (wt Waiter) ask(ctx context.Context, r *WaitResult) bool {
	ps, err := wt.Asker.Package(ctx, r.Want.Name, Filter{Version: r.Want.Version})
	if err != nil {
		if ctx.Err() != nil {
			// The wait's end, not the status's answer; unless nothing else was heard: a status
			// that never answered in time is told as such.
			if !r.Answered && r.Err == nil {
				r.Err = err
			}
			return false
		}
		r.Err = err
		if wt.Log != nil {
			wt.Log.Debug("asking the status failed", "package", r.Want.String(), "error", err)
		}
		return !Temporary(err)
	}
	v, msg := Decide(ps, r.Want)
	if wt.Log != nil && msg != r.Message && v == Pending {
		wt.Log.Info("waiting", "status", msg)
	}
	r.Verdict, r.Message, r.Answered, r.Err = v, msg, true, nil
	return v != Pending
}

// Timeout is the message of a wait that ran out of time after d.
func (r WaitResult) Timeout(d time.Duration) string {
	return fmt.Sprintf("not served within %s: %s", d, r.Why())
}
