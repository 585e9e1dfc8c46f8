package testkit

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// HostileRegistry sits in front of a real registry (devregistry.Options.Handler = h.Wrap) and
// misbehaves on the requests a test picks: it loops referrers pages, inflates tag listings
// without end, or trickles its answers. Requests it does not pick pass through untouched.
type HostileRegistry struct {
	mu    sync.Mutex
	rules []hostileRule
	// Served counts the hostile answers sent (pages, trickled requests).
	Served atomic.Int64
	// released, once closed by Release, ends every trickle at once.
	releaseOnce sync.Once
	released    chan struct{}
}

type hostileRule struct {
	repo  string // repository the rule applies to
	part  string // path fragment ("/tags/list", "/referrers/", "/manifests/", "/blobs/", "" for all)
	serve func(h *HostileRegistry, w http.ResponseWriter, r *http.Request, next http.Handler)
}

// LoopReferrers answers every referrers request of repo with an empty page linking to another,
// for ever.
func (h *HostileRegistry) LoopReferrers(repo string) {
	h.add(hostileRule{repo: repo, part: "/referrers/", serve: func(h *HostileRegistry, w http.ResponseWriter, r *http.Request, _ http.Handler) {
		n := h.Served.Add(1)
		w.Header().Set("Content-Type", "application/vnd.oci.image.index.v1+json")
		w.Header().Set("Link", fmt.Sprintf(`<%s?page=%d>; rel="next"`, r.URL.Path, n))
		fmt.Fprint(w, `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}`)
	}})
}

// EndlessTags answers repo's tag listing with pages of perPage distinct tags of tagLen bytes,
// each page linking to the next, for ever.
func (h *HostileRegistry) EndlessTags(repo string, perPage, tagLen int) {
	h.add(hostileRule{repo: repo, part: "/tags/list", serve: func(h *HostileRegistry, w http.ResponseWriter, r *http.Request, _ http.Handler) {
		n := h.Served.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Link", fmt.Sprintf(`<%s?n=%d&last=p%d>; rel="next"`, r.URL.Path, perPage, n))
		var b strings.Builder
		fmt.Fprintf(&b, `{"name":%q,"tags":[`, repo)
		for i := range perPage {
			if i > 0 {
				b.WriteByte(',')
			}
			tag := fmt.Sprintf("1.%d.%d-", n, i)
			tag += strings.Repeat("x", max(0, tagLen-len(tag)))
			fmt.Fprintf(&b, "%q", tag)
		}
		b.WriteString("]}")
		_, _ = w.Write([]byte(b.String()))
	}})
}

// Trickle answers repo's requests whose path contains part (every request of repo when part is
// empty) with the real status and headers, then the real body one byte per every, and never
// sends the last byte: the answer ends only when the client gives up. A HEAD answer's headers
// are held back the same way.
func (h *HostileRegistry) Trickle(repo, part string, every time.Duration) {
	h.add(hostileRule{repo: repo, part: part, serve: func(h *HostileRegistry, w http.ResponseWriter, r *http.Request, next http.Handler) {
		h.Served.Add(1)
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		// Without its trailing newline, a JSON answer is complete only with its last byte.
		body := bytes.TrimRight(rec.Body.Bytes(), " \t\r\n")
		rec.Header().Del("Content-Length")
		if r.Method == http.MethodHead || len(body) == 0 {
			h.hold(r)
			return
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		rc := http.NewResponseController(w)
		for _, c := range body[:len(body)-1] {
			select {
			case <-r.Context().Done():
				return
			case <-h.release():
				return
			case <-time.After(every):
			}
			if _, err := w.Write([]byte{c}); err != nil {
				return
			}
			_ = rc.Flush()
		}
		h.hold(r)
	}})
}

// hold returns when the client gives up on r or Release is called.
func (h *HostileRegistry) hold(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-h.release():
	}
}

func (h *HostileRegistry) release() chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.released == nil {
		h.released = make(chan struct{})
	}
	return h.released
}

// Release ends every trickle under way, and any started later, and removes the rules: a test
// calls it before closing the registry, whose Close waits for the requests in flight.
func (h *HostileRegistry) Release() {
	ch := h.release()
	h.releaseOnce.Do(func() { close(ch) })
	h.Reset()
}

// Reset makes the registry behave again.
func (h *HostileRegistry) Reset() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.rules = nil
}

func (h *HostileRegistry) add(r hostileRule) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.rules = append(h.rules, r)
}

// Wrap is the devregistry.Options.Handler that applies the rules.
func (h *HostileRegistry) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		var pick *hostileRule
		for i := range h.rules {
			if h.rules[i].matches(r.URL.Path) {
				pick = &h.rules[i]
				break
			}
		}
		h.mu.Unlock()
		if pick == nil {
			next.ServeHTTP(w, r)
			return
		}
		pick.serve(h, w, r, next)
	})
}

// matches reports whether path is an API request of the rule's repository itself (not of one
// below it) whose endpoint part starts with the rule's part.
func (r hostileRule) matches(path string) bool {
	rest, ok := strings.CutPrefix(path, "/v2/"+r.repo+"/")
	if !ok {
		return false
	}
	for _, endpoint := range []string{"tags/", "manifests/", "blobs/", "referrers/"} {
		if strings.HasPrefix(rest, endpoint) {
			return strings.HasPrefix("/"+rest, r.part)
		}
	}
	return false
}
