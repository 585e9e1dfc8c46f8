package process

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

func TestMetricsListenerTakesAdminRoutes(t *testing.T) {
	l, err := MetricsListener("127.0.0.1:0", NewMetricsRegistry())
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Mount("/status", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "status "+r.URL.Path) })); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, slog.New(slog.DiscardHandler), l) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + l.Addr() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/metrics"); code != 200 || !strings.Contains(body, "go_goroutines") {
		t.Errorf("/metrics: %d %.100s", code, body)
	}
	if code, body := get("/status"); code != 200 || body != "status /status" {
		t.Errorf("/status: %d %q", code, body)
	}
	if code, _ := get("/elsewhere"); code != 404 {
		t.Errorf("/elsewhere: %d", code)
	}

	other, err := Listen("api", "127.0.0.1:0", http.NotFoundHandler())
	if err != nil {
		t.Fatal(err)
	}
	defer other.ln.Close()
	if err := other.Mount("/status", http.NotFoundHandler()); err == nil {
		t.Error("a listener that is not the metrics one took a route")
	}
}
