// Package statustest serves the status routes (status.NewHandler) from a status.Store, for tests
// of their clients (`package-registry-ctl`, `mirror -wait`) that set the status they read.
package statustest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/oci-epr/package-registry/internal/status"
)

// Handler answers the status routes from r with the real handler; with token set, only requests
// carrying it.
func Handler(r status.Reader, token string) http.Handler {
	return status.NewHandler(r, status.HandlerOptions{Token: token})
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
