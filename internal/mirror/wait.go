package mirror

import (
	"context"

	"github.com/oci-epr/package-registry/internal/status"
)

// WaitServed asks the status, after a run into a registry, whether each version copied or
// found present is served: the wait and decision of `package-registry-ctl wait`
// (status.Waiter, status.Decide), for every version at once, each for the manifest digest the
// destination holds, so that a state the indexer recorded before this push is not taken for
// its answer. A version found present is waited for too: a run repeated after a wait that ran
// out still reports it. The outcome is on each result (Result.Served); Summary.Err then
// reports every version refused or not served when ctx ended.
func WaitServed(ctx context.Context, s *Summary, w status.Waiter) {
	var wants []status.Want
	var at []int
	for i, r := range s.Results {
		if r.Outcome != Copied && r.Outcome != Present {
			continue
		}
		wants = append(wants, status.Want{Name: r.Name, Version: r.Version, Digest: r.Digest.String()})
		at = append(at, i)
	}
	if len(wants) == 0 {
		return
	}
	for j, res := range w.WaitAll(ctx, wants) {
		s.Results[at[j]].Served = &res
	}
}
