package process

import (
	"net/http"
	"net/http/pprof"
	"time"
)

// ProfileListener serves the Go runtime's profiles (net/http/pprof: heap, allocs, CPU,
// goroutines) on address, as EPR's -httpprof does; nil when address is empty. Off by default:
// a profile shows the process's internals, so bind it to a loopback or pod-local address.
func ProfileListener(address string) (*Listener, error) {
	if address == "" {
		return nil, nil
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	l, err := Listen("profile", address, mux)
	if err != nil {
		return nil, err
	}
	// A CPU profile or trace is written at the end of its ?seconds=N (up to a few minutes).
	l.SetTimeouts(Timeouts{Write: 10 * time.Minute})
	return l, nil
}
