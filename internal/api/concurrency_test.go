package api

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/oci-epr/package-registry/internal/index"
)

// Readers and writers at once (run with -race): every response is
// consistent with one generation, so the mock marker always agrees with
// the body.
func TestConcurrentReadersAndWriters(t *testing.T) {
	ts := newTestServer(t, DefaultConfig(), true)
	real := fixtureRecords(t, ts.blobs)
	var stop atomic.Bool
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for n := 0; !stop.Load(); n++ {
				targets := []string{"/search", "/categories?include_policy_templates=true", "/package/acme_logs/1.2.0/",
					"/package/acme_logs/1.2.0/docs/README.md", "/epr/x/mock_logs-1.0.0.zip", fmt.Sprintf("/search?q=%d", n%50)}
				w := ts.get(targets[(i+n)%len(targets)])
				if w.Code >= 500 {
					t.Errorf("%d: %s", w.Code, w.Body.String())
					return
				}
				if (i+n)%len(targets) == 0 {
					mock := w.Header().Get("X-Package-Source") == "mock"
					hasMock := len(w.Body.String()) > 0 && strings.Contains(w.Body.String(), `"name": "mock_`)
					if mock != hasMock {
						t.Errorf("mock header %v but mock body %v", mock, hasMock)
						return
					}
				}
			}
		}(i)
	}
	for round := 0; round < 30; round++ {
		var changes []index.Change
		for _, r := range real {
			if round%3 == 2 {
				changes = append(changes, index.Change{Key: r.Key()})
			} else {
				changes = append(changes, index.Change{Key: r.Key(), Record: r})
			}
		}
		ts.Apply(changes)
		if round%10 == 9 {
			ts.Reset()
		}
	}
	stop.Store(true)
	wg.Wait()
}
