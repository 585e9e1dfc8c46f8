package status

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// BenchmarkPage renders /status over 10,000 tags in 1,000 repositories (a tenth of them not
// served), as the page (at most DefaultLimit rows) and as JSON.
func BenchmarkPage(b *testing.B) {
	m := NewMemory()
	now := time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)
	for i := range 10000 {
		st := Served
		if i%10 == 0 {
			st = States[i/10%(len(States)-1)]
		}
		tg := Tag{Repository: fmt.Sprintf("packages/p%03d", i%1000), Tag: fmt.Sprintf("1.%d.0", i/1000), Name: fmt.Sprintf("p%03d", i%1000),
			Version: fmt.Sprintf("1.%d.0", i/1000), State: st, Digest: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
			Rule: "manifest", Message: "manifest.yml: field \"version\" is not a semantic version", Since: now}
		v, _ := json.Marshal(tg)
		_ = m.Put(b.Context(), TagKey(tg), v)
	}
	for i := range 1000 {
		r := Repository{Repository: fmt.Sprintf("packages/p%03d", i), TagsListed: 10, LastReconcile: &Reconcile{At: now, Outcome: OutcomeOK}, Counts: map[State]int{Served: 9, Rejected: 1}}
		v, _ := json.Marshal(r)
		_ = m.Put(b.Context(), RepositoryKey(r.Repository), v)
	}
	h := NewHandler(Reader{Store: m, Now: func() time.Time { return now }}, HandlerOptions{Now: func() time.Time { return now }})
	for _, format := range []string{"html", "json"} {
		b.Run(format, func(b *testing.B) {
			var size int
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/status?format="+format, nil))
				if w.Code != 200 {
					b.Fatal(w.Code)
				}
				size = w.Body.Len()
			}
			b.ReportMetric(float64(size), "bytes/page")
		})
	}
}
