// Package statustest serves the status routes for tests of their clients
// (`package-registry-ctl`, `mirror -wait`) from a status.Store.
//
// Server is a stand-in for the real handler of GET /status, /status/repositories/… and
// /status/packages/…, written to the routes' contract (JSON answers built by a status.Reader,
// 400 with a JSON message for a bad filter, 404 for an unknown repository, a bearer token when
// one is set) while that handler is built elsewhere; tests should move to the real handler
// once both are in one tree.
package statustest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/oci-epr/package-registry/internal/status"
)

// Handler answers the status routes from r; with token set, only requests carrying
// "Authorization: Bearer <token>".
func Handler(r status.Reader, token string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if token != "" && req.Header.Get("Authorization") != "Bearer "+token {
			w.Header().Set("WWW-Authenticate", `Bearer realm="status"`)
			answer(w, http.StatusUnauthorized, message("a bearer token is required"))
			return
		}
		if req.Method != http.MethodGet {
			answer(w, http.StatusMethodNotAllowed, message("GET only"))
			return
		}
		f, err := filter(req)
		if err != nil {
			answer(w, http.StatusBadRequest, message(err.Error()))
			return
		}
		ctx := req.Context()
		switch p := req.URL.Path; {
		case p == "/status":
			o, err := r.Overall(ctx, f)
			result(w, o, err)
		case strings.HasPrefix(p, "/status/repositories/"):
			rs, found, err := r.Repository(ctx, strings.TrimPrefix(p, "/status/repositories/"), f)
			if err == nil && !found {
				answer(w, http.StatusNotFound, message("no status for repository "+strings.TrimPrefix(p, "/status/repositories/")))
				return
			}
			result(w, rs, err)
		case strings.HasPrefix(p, "/status/packages/"):
			ps, err := r.Package(ctx, strings.TrimPrefix(p, "/status/packages/"), f)
			result(w, ps, err)
		default:
			answer(w, http.StatusNotFound, message("not found"))
		}
	})
}

// Server serves Handler over a status.Reader of store until the test ends, and returns its
// base URL.
func Server(t testing.TB, store status.Store, token string) string {
	t.Helper()
	srv := httptest.NewServer(Handler(status.Reader{Store: store}, token))
	t.Cleanup(srv.Close)
	return srv.URL
}

// Put stores tag t in store under its key, as the indexer would.
func Put(t testing.TB, store status.Store, tag status.Tag) {
	t.Helper()
	b, err := json.Marshal(tag)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Put(t.Context(), status.TagKey(tag), b); err != nil {
		t.Fatal(err)
	}
}

// Move puts tag in store in its new state, removing its entry in the old one (a tag's key
// holds its state).
func Move(t testing.TB, store status.Store, from status.State, tag status.Tag) {
	t.Helper()
	old := tag
	old.State = from
	if err := store.Delete(t.Context(), status.TagKey(old)); err != nil {
		t.Fatal(err)
	}
	Put(t, store, tag)
}

func filter(req *http.Request) (status.Filter, error) {
	q := req.URL.Query()
	f := status.Filter{State: status.State(q.Get("state")), Version: q.Get("version"), Query: q.Get("q")}
	if f.State != "" && !f.State.Valid() {
		return f, &badFilter{"unknown state " + strconv.Quote(string(f.State))}
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 {
			return f, &badFilter{"limit must be a positive number"}
		}
		f.Limit = n
	}
	return f, nil
}

type badFilter struct{ msg string }

func (e *badFilter) Error() string { return e.msg }

func message(s string) map[string]string { return map[string]string{"message": s} }

func result(w http.ResponseWriter, v any, err error) {
	if err != nil {
		answer(w, http.StatusInternalServerError, message(err.Error()))
		return
	}
	answer(w, http.StatusOK, v)
}

func answer(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
