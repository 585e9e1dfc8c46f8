package main

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestProbe(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			w.WriteHeader(http.StatusOK)
		case "/slow":
			<-r.Context().Done() // answers only once the probe has given up
		case "/redirect":
			http.Redirect(w, r, "/ok", http.StatusFound)
		default:
			http.Error(w, "not ready", http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()

	tests := []struct {
		url    string
		wantOK bool
	}{
		{srv.URL + "/ok", true},
		{srv.URL + "/unready", false},
		{srv.URL + "/redirect", false},
		{srv.URL + "/slow", false},
		{closed.URL + "/ok", false},
		{"::not a url", false},
	}
	for _, tt := range tests {
		err := probe(tt.url, 50*time.Millisecond)
		if (err == nil) != tt.wantOK {
			t.Errorf("probe(%q) = %v, want ok=%v", tt.url, err, tt.wantOK)
		}
	}
}
