package devstack

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
)

func TestDevStackServesSamplesPushedThroughTheRegistry(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	stack, err := Start(ctx, Options{
		Address: "127.0.0.1:0", RegistryAddress: "127.0.0.1:0", DataDir: t.TempDir(),
		Repository: "packages", WebhookToken: "tok", Log: slog.New(slog.DiscardHandler), MetricsAddress: "127.0.0.1:0",
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
	for _, want := range []string{stack.APIURL(), stack.Registry.Host(), "oras push", "xpack.fleet.registryUrl", stack.MetricsURL()} {
		if !strings.Contains(welcome.String(), want) {
			t.Errorf("welcome text lacks %q", want)
		}
	}
	// One metrics listener for the whole pipeline: the API's, the indexer's and the webhook
	// routes' series, the samples' notifications counted.
	mresp, err := http.Get(stack.MetricsURL())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(mresp.Body)
	mresp.Body.Close()
	for _, want := range []string{"epr_service_info", "epr_indexer_published_records_total", `epr_webhook_requests_total{format="distribution",outcome="published"}`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("dev stack metrics lack %s", want)
		}
	}
}

// With signatures required the stack still works in one command: its samples are signed with
// a key it generates (and keeps for the next run), and the signatures served verify with the
// public key it writes for Fleet.
func TestDevStackWithRequiredSignatures(t *testing.T) {
	dir := t.TempDir()
	run := func(check func(stack *Stack, samples []Sample)) {
		ctx, cancel := context.WithCancel(context.Background())
		stack, err := Start(ctx, Options{
			Address: "127.0.0.1:0", RegistryAddress: "127.0.0.1:0", DataDir: dir, Repository: "packages",
			WebhookToken: "tok", Log: slog.New(slog.DiscardHandler), RequirePackageSignatures: true,
		})
		if err != nil {
			t.Fatal(err)
		}
		defer func() { cancel(); stack.Wait() }()
		samples, err := stack.PushSamples(ctx) // waits until every sample is served
		if err != nil {
			t.Fatal(err)
		}
		check(stack, samples)
	}
	var firstKey []byte
	run(func(stack *Stack, _ []Sample) { firstKey = stack.signer.entity.PrimaryKey.Fingerprint })
	run(func(stack *Stack, samples []Sample) {
		if !bytes.Equal(firstKey, stack.signer.entity.PrimaryKey.Fingerprint) {
			t.Error("the signing key changed between two runs over one data directory")
		}
		pub, err := os.ReadFile(stack.signer.PublicKeyPath)
		if err != nil {
			t.Fatal(err)
		}
		keys, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(pub))
		if err != nil {
			t.Fatal(err)
		}
		var welcome bytes.Buffer
		stack.PrintWelcome(&welcome, samples)
		if !strings.Contains(welcome.String(), stack.signer.PublicKeyPath) {
			t.Errorf("welcome text does not say where the public key is:\n%s", welcome.String())
		}
		for _, sm := range samples {
			zipURL := stack.APIURL() + "/epr/" + sm.Name + "/" + sm.Name + "-" + sm.Version + ".zip"
			zip, sig := fetch(t, zipURL), fetch(t, zipURL+".sig")
			if _, err := openpgp.CheckArmoredDetachedSignature(keys, bytes.NewReader(zip), bytes.NewReader(sig), nil); err != nil {
				t.Errorf("%s: served signature does not verify with %s: %v", sm.Name, stack.signer.PublicKeyPath, err)
			}
		}
	})
}

func fetch(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	return body
}
