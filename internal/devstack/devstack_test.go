package devstack

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

func TestDevStackServesSamplesPushedThroughTheRegistry(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	stack, err := Start(ctx, Options{
		Address: "127.0.0.1:0", RegistryAddress: "127.0.0.1:0", DataDir: t.TempDir(),
		Repository: "packages", WebhookToken: "tok", Log: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); stack.Wait() }()
	samples, err := stack.PushSamples(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(samples) < 8 {
		t.Fatalf("only %d samples", len(samples))
	}
	resp, err := http.Get(stack.APIURL() + "/search?prerelease=true&all=true")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("X-Package-Source") == "mock" {
		t.Fatal("still serving mocks")
	}
	var items []struct{ Name, Version string }
	if err := json.NewDecoder(resp.Body).Decode(&items); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, it := range items {
		got[it.Name+"@"+it.Version] = true
	}
	for _, s := range samples {
		if !got[s.Name+"@"+s.Version] {
			t.Errorf("sample %s %s not in /search", s.Name, s.Version)
		}
	}
	var welcome bytes.Buffer
	stack.PrintWelcome(&welcome, samples)
	for _, want := range []string{stack.APIURL(), stack.Registry.Host(), "oras push", "xpack.fleet.registryUrl"} {
		if !strings.Contains(welcome.String(), want) {
			t.Errorf("welcome text lacks %q", want)
		}
	}
}
