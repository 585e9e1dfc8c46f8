package service

import (
	"reflect"
	"testing"
	"time"

	"github.com/oci-epr/package-registry/internal/api"
	"github.com/oci-epr/package-registry/internal/events"
	"github.com/oci-epr/package-registry/internal/oci"
)

// The all-in-one mode runs the indexer exactly as cmd/indexer does from the same options: only
// the data directory (a subdirectory) and the logger are its own. (Its webhook routes are checked
// against the standalone receiver's by behaviour in TestSlowClientsAreCutOff.)
func TestAllInOneIndexerIsConfiguredLikeStandalone(t *testing.T) {
	// Registry is never reached: the options are compared as soon as the parts are built.
	reg := oci.Config{Registry: "http://127.0.0.1:1", Username: "u", Password: "p"}
	opts := IndexerOptions{
		Registry: reg, Repository: "epr", Repositories: []string{"epr/a"},
		ResyncInterval: 3 * time.Minute, Parallelism: 7, MaxZipBytes: 1 << 20,
		Stream: events.StreamOptions{Replicas: 1, AckWait: 42 * time.Second},
	}
	nats := startEmbeddedNATS(t, t.TempDir(), "127.0.0.1:-1")
	t.Cleanup(nats.Shutdown)
	nc, err := events.Connect(nats.ClientURL(), "standalone", testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	standaloneOpts := opts
	standaloneOpts.DataDir = t.TempDir()
	standalone, err := StartIndexer(t.Context(), nc, standaloneOpts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { standalone.Close() })

	all, err := StartAllInOne(t.Context(), AllInOneOptions{
		API: APIOptions{Config: api.DefaultConfig(), Registry: reg}, Indexer: opts,
		DataDir: t.TempDir(), NATSURL: nats.ClientURL(), Log: testLogger(t), Webhook: WebhookOptions{Token: testToken},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { all.Close() })

	got, want := all.Indexer.opts, standalone.opts
	got.DataDir, want.DataDir = "", ""
	got.Log, want.Log = nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("all-in-one indexer options\n%+v\nstandalone\n%+v", got, want)
	}
	if got.Parallelism != 7 || got.ResyncInterval != 3*time.Minute || got.Stream.AckWait != 42*time.Second {
		t.Fatalf("options lost on the way: %+v", got)
	}
}
