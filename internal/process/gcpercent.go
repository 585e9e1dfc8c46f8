package process

// The Go runtime's GC target for a process whose heap is mostly a long-lived index (an API
// replica): how far the heap may grow between collections.

// LoadedGCPercent is the GC target of an API replica once its index is loaded. The runtime's
// default, 100, lets the heap grow to twice what the last collection kept; the space freed
// stays in RSS until the scavenger returns it (down to about 1.1 times the goal), so RSS follows
// the goal. A replica's live heap is nearly all its catalogue, which requests only read, and a
// request on a cached route leaves a few KB of garbage: at 50 the goal is 1.5 times the live heap
// and collections come twice as often, each marking the same catalogue (mostly pointer-free byte
// slices). Measured under wrk in docs/operations.md#memory.
const LoadedGCPercent = 50

// GCPercent decides the GC target to set once the index is loaded: none when the environment
// sets GOGC (the runtime applied it at start), else LoadedGCPercent. It returns the value to set
// (0: none) and where it came from, for the log.
func GCPercent(getenv func(string) string) (int, string) {
	if getenv("GOGC") != "" {
		return 0, "GOGC"
	}
	return LoadedGCPercent, "default"
}
