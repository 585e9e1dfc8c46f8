package service

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/oci-epr/package-registry/internal/devregistry"
	"github.com/oci-epr/package-registry/internal/events"
	"github.com/oci-epr/package-registry/internal/oci"
	"github.com/oci-epr/package-registry/internal/packages/packagetest"
	"github.com/oci-epr/package-registry/internal/testkit"
)

// The indexer outlives the loss of its stream and consumer (a NATS store reset): it sets them up
// again and indexes the next event.
func TestIndexerRecoversFromLostStream(t *testing.T) {
	old := consumerCheckInterval
	consumerCheckInterval = 50 * time.Millisecond
	t.Cleanup(func() { consumerCheckInterval = old })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reg, err := devregistry.Start(ctx, devregistry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	nc := embeddedNATS(t)
	regCfg := oci.Config{Registry: "http://" + reg.Host()}
	ix, err := StartIndexer(ctx, nc, IndexerOptions{Registry: regCfg, Repository: "packages", DataDir: t.TempDir(), Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	testkit.Eventually(t, 15*time.Second, "indexer ready", func() bool { return ix.Ready() })

	js, _ := jetstream.New(nc)
	if err := js.DeleteStream(ctx, events.StreamName); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 15*time.Second, "stream and consumer set up again", func() bool {
		_, err := js.Consumer(ctx, events.StreamName, events.ConsumerName)
		return err == nil && ix.Ready()
	})

	client, _ := oci.New(regCfg)
	spec := packagetest.ContentPackage()
	if _, err := client.PushPackage(ctx, "packages/"+spec.Name, spec.Version, packagetest.Build(spec), nil, nil); err != nil {
		t.Fatal(err)
	}
	pub, _ := events.NewPublisher(nc, time.Second)
	ev := events.Event{ID: "after-reset", Repository: "packages/" + spec.Name, Tag: spec.Version, Action: events.ActionPush}
	if err := pub.Publish(ctx, ev); err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(ctx, events.PackagesBucket)
	if err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 15*time.Second, "event after the reset indexed", func() bool {
		_, err := kv.Get(ctx, spec.Name+"/"+spec.Version)
		return err == nil
	})
}
