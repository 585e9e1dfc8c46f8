package status

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The status routes. They are not part of EPR's API: a process serves them on its metrics
// listener, and on its public address only when the operator asks (Exposure).
const (
	PathOverall      = "/status"
	PathRepositories = "/status/repositories/"
	PathPackages     = "/status/packages/"
)

// Queries are what the status routes ask; Reader answers them.
type Queries interface {
	Overall(ctx context.Context, f Filter) (Overall, error)
	Repository(ctx context.Context, repository string, f Filter) (RepositoryStatus, bool, error)
	Package(ctx context.Context, name string, f Filter) (PackageStatus, error)
}

// HandlerOptions configures the status routes.
type HandlerOptions struct {
	// Token, when set, is required of every request: `Authorization: Bearer <token>`, or Basic
	// authentication with the token as the password (a person in a browser).
	Token string
	// Now is the clock the page tells ages by; nil is time.Now.
	Now func() time.Time
	Log *slog.Logger
}

// MaxLimit bounds the limit a client may ask for; MaxQuery the length of a search.
const (
	MaxLimit = 5000
	MaxQuery = 256
)

// ErrorBody is every error answer: a message for a person.
type ErrorBody struct {
	Error string `json:"error"`
}

// NewHandler serves GET /status, /status/repositories/<repository…> and
// /status/packages/<name> from q: JSON, or HTML for a client that prefers it (a browser) or asks
// with ?format=html. A nil q answers 503 (the process has no status to give yet).
func NewHandler(q Queries, opts HandlerOptions) http.Handler {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	h := &handler{q: q, opts: opts}
	if opts.Token != "" {
		h.token = newToken(opts.Token)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+PathOverall, h.overall)
	mux.HandleFunc("GET "+PathRepositories+"{repository...}", h.repository)
	mux.HandleFunc("GET "+PathPackages+"{name}", h.pkg)
	mux.HandleFunc(PathOverall+"/", func(w http.ResponseWriter, r *http.Request) {
		h.fail(w, r, http.StatusNotFound, "no status route "+strconv.Quote(r.URL.Path)+
			": ask /status, /status/repositories/<repository> or /status/packages/<name>")
	})
	return h.guard(mux)
}

type handler struct {
	q     Queries
	opts  HandlerOptions
	token *token
}

// guard sets the headers every answer carries and checks the token.
func (h *handler) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hdr := w.Header()
		// What the status says changes by the second, and behind a token it is nobody else's.
		hdr.Set("Cache-Control", "no-store")
		hdr.Set("X-Content-Type-Options", "nosniff")
		hdr.Set("Vary", "Accept")
		if h.token != nil && !h.token.allows(r) {
			hdr.Add("WWW-Authenticate", `Bearer realm="package registry status"`)
			hdr.Add("WWW-Authenticate", `Basic realm="package registry status", charset="UTF-8"`)
			h.fail(w, r, http.StatusUnauthorized, "a token is required: Authorization: Bearer <token>")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (h *handler) overall(w http.ResponseWriter, r *http.Request) {
	f, ok := h.filter(w, r)
	if !ok || !h.available(w, r) {
		return
	}
	o, err := h.q.Overall(r.Context(), f)
	if err != nil {
		h.unavailable(w, r, err)
		return
	}
	if o.Replicas == nil {
		o.Replicas = []Replica{}
	}
	if o.Repositories == nil {
		o.Repositories = []Repository{}
	}
	if o.Problems == nil {
		o.Problems = []Tag{}
	}
	h.answer(w, r, f, &o)
}

func (h *handler) repository(w http.ResponseWriter, r *http.Request) {
	f, ok := h.filter(w, r)
	if !ok || !h.available(w, r) {
		return
	}
	repo := strings.TrimSuffix(r.PathValue("repository"), "/")
	if repo == "" {
		h.fail(w, r, http.StatusNotFound, "name a repository: /status/repositories/<repository>")
		return
	}
	rs, found, err := h.q.Repository(r.Context(), repo, f)
	if err != nil {
		h.unavailable(w, r, err)
		return
	}
	if !found {
		h.fail(w, r, http.StatusNotFound, "no status for repository "+strconv.Quote(repo)+
			": the indexer has not reconciled it (is it under the base repository, or in -oci-repositories?)")
		return
	}
	if rs.Tags == nil {
		rs.Tags = []Tag{}
	}
	if rs.Repository.Repository == "" {
		rs.Repository.Repository = repo
	}
	h.answer(w, r, f, &rs)
}

func (h *handler) pkg(w http.ResponseWriter, r *http.Request) {
	f, ok := h.filter(w, r)
	if !ok || !h.available(w, r) {
		return
	}
	ps, err := h.q.Package(r.Context(), r.PathValue("name"), f)
	if err != nil {
		h.unavailable(w, r, err)
		return
	}
	if ps.Tags == nil {
		ps.Tags = []Tag{}
	}
	h.answer(w, r, f, &ps)
}

// filter parses the query, answering 400 when it does not parse.
func (h *handler) filter(w http.ResponseWriter, r *http.Request) (Filter, bool) {
	f, err := ParseQuery(r.URL.RawQuery)
	if err == nil {
		_, err = format(r)
	}
	if err != nil {
		h.fail(w, r, http.StatusBadRequest, err.Error())
		return Filter{}, false
	}
	return f, true
}

// ParseQuery reads the filters of a status route: state (one of States), q (a search, at most
// MaxQuery bytes), version, limit (1 to MaxLimit). Other parameters are ignored.
func ParseQuery(rawQuery string) (Filter, error) {
	v, err := url.ParseQuery(rawQuery)
	if err != nil {
		return Filter{}, fmt.Errorf("the query string does not parse: %w", err)
	}
	var f Filter
	if s := v.Get("state"); s != "" {
		if f.State = State(s); !f.State.Valid() {
			return Filter{}, fmt.Errorf("unknown state %q: one of %s", s, stateList())
		}
	}
	if f.Query = strings.TrimSpace(v.Get("q")); len(f.Query) > MaxQuery {
		return Filter{}, fmt.Errorf("q is %d bytes long, more than %d", len(f.Query), MaxQuery)
	}
	f.Version = v.Get("version")
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxLimit {
			return Filter{}, fmt.Errorf("limit %q: a number from 1 to %d", s, MaxLimit)
		}
		f.Limit = n
	}
	return f, nil
}

func stateList() string {
	s := make([]string, len(States))
	for i, st := range States {
		s[i] = string(st)
	}
	return strings.Join(s, ", ")
}

func (h *handler) available(w http.ResponseWriter, r *http.Request) bool {
	if rd, ok := h.q.(Reader); h.q == nil || ok && rd.Store == nil {
		h.fail(w, r, http.StatusServiceUnavailable, "this process has no status to give yet")
		return false
	}
	return true
}

func (h *handler) unavailable(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) {
		return // the client went away
	}
	h.opts.Log.Warn("reading the status failed", "path", r.URL.Path, "err", err)
	h.fail(w, r, http.StatusServiceUnavailable, "the status cannot be read now: "+err.Error())
}

// answer writes v (an *Overall, *RepositoryStatus or *PackageStatus) as JSON or as the page.
func (h *handler) answer(w http.ResponseWriter, r *http.Request, f Filter, v any) {
	if html, _ := format(r); html {
		h.page(w, r, http.StatusOK, f, v)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// fail answers an error: {"error": message}, or a page saying it.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, status int, message string) {
	if html, err := format(r); err == nil && html {
		h.page(w, r, status, Filter{}, &ErrorBody{Error: message})
		return
	}
	writeJSON(w, status, &ErrorBody{Error: message})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"encoding the answer failed"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// format tells whether to answer HTML: ?format=html or json decides; otherwise the Accept
// header, JSON unless the client prefers text/html (as a browser does).
func format(r *http.Request) (html bool, err error) {
	switch f := r.URL.Query().Get("format"); f {
	case "html":
		return true, nil
	case "json":
		return false, nil
	case "":
		return prefersHTML(r.Header.Values("Accept")), nil
	default:
		return false, fmt.Errorf("format %q: html or json", f)
	}
}

// prefersHTML reads Accept headers: HTML when text/html has a higher quality than
// application/json, or the same and only HTML was named (a browser's "text/html,…,*/*;q=0.8").
func prefersHTML(accept []string) bool {
	var qHTML, qJSON float64
	var namedHTML, namedJSON bool
	var specHTML, specJSON int // how specific the range that set each quality was
	for _, header := range accept {
		for part := range strings.SplitSeq(header, ",") {
			mediaRange, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			mediaRange = strings.ToLower(strings.TrimSpace(mediaRange))
			q := 1.0
			for p := range strings.SplitSeq(params, ";") {
				if k, v, ok := strings.Cut(strings.TrimSpace(p), "="); ok && strings.EqualFold(strings.TrimSpace(k), "q") {
					if x, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && x >= 0 && x <= 1 {
						q = x
					}
				}
			}
			if spec := matches(mediaRange, "text", "html"); spec > specHTML {
				qHTML, specHTML, namedHTML = q, spec, spec == 3
			}
			if spec := matches(mediaRange, "application", "json"); spec > specJSON {
				qJSON, specJSON, namedJSON = q, spec, spec == 3
			}
		}
	}
	return qHTML > qJSON || qHTML > 0 && qHTML == qJSON && namedHTML && !namedJSON
}

// matches says how specifically mediaRange names typ/sub: 3 exactly, 2 typ/*, 1 */*, 0 not.
func matches(mediaRange, typ, sub string) int {
	switch mediaRange {
	case typ + "/" + sub:
		return 3
	case typ + "/*":
		return 2
	case "*/*":
		return 1
	}
	return 0
}
