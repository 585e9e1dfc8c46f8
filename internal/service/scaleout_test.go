package service

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/oci-epr/package-registry/internal/api"
	"github.com/oci-epr/package-registry/internal/devregistry"
	"github.com/oci-epr/package-registry/internal/events"
	"github.com/oci-epr/package-registry/internal/oci"
	"github.com/oci-epr/package-registry/internal/testkit"
)

// Scaling out with default flags must not lower durability: on a 3-node cluster where the
// webhook and the indexer made the stream, consumer, bucket and object store with 3 replicas,
// one more API replica, one more webhook and an indexer restarted without -nats-replicas bind
// to them as they are, and each says loudly that its flag differs.
func TestScalingOutWithDefaultFlagsKeepsReplicas(t *testing.T) {
	cluster := startNATSCluster(t, 3)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reg, err := devregistry.Start(ctx, devregistry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	regCfg := oci.Config{Registry: "http://" + reg.Host()}
	connect := func(name string, node int) *nats.Conn {
		t.Helper()
		nc, err := events.Connect(cluster.url(node), name, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		return nc
	}
	admin := connect("admin", 0)
	js, err := jetstream.New(admin)
	if err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, time.Minute, "JetStream cluster ready", func() bool {
		actx, acancel := context.WithTimeout(ctx, time.Second)
		defer acancel()
		_, err := js.AccountInfo(actx)
		return err == nil
	})

	// The deployment as the operator set it up: webhook and indexer at -nats-replicas 3.
	three := events.StreamOptions{Replicas: 3}
	hook, err := StartWebhook(ctx, connect("webhook-1", 0), WebhookOptions{Token: testToken, Stream: three})
	if err != nil {
		t.Fatal(err)
	}
	defer hook.Close()
	ix, err := StartIndexer(ctx, connect("indexer", 1), IndexerOptions{Registry: regCfg, Repository: "packages", DataDir: t.TempDir(), Stream: three})
	if err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 2*time.Minute, "webhook and indexer ready", func() bool { return hook.Ready() && ix.Ready() })
	// The first large record makes the object store; it takes the bucket's replicas.
	if _, err := js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: events.LargeRecordsBucket, Storage: jetstream.FileStorage, Replicas: 3}); err != nil {
		t.Fatal(err)
	}
	replicas := func() (stream, consumer, bucket, objects int, err error) {
		rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
		defer rcancel()
		s, err := js.Stream(rctx, events.StreamName)
		if err != nil {
			return
		}
		c, err := js.Consumer(rctx, events.StreamName, events.ConsumerName)
		if err != nil {
			return
		}
		b, err := js.Stream(rctx, "KV_"+events.PackagesBucket)
		if err != nil {
			return
		}
		o, err := js.Stream(rctx, "OBJ_"+events.LargeRecordsBucket)
		if err != nil {
			return
		}
		st, err := js.Stream(rctx, "KV_"+events.StatusBucket)
		if err != nil {
			return
		}
		if st.CachedInfo().Config.Replicas != b.CachedInfo().Config.Replicas {
			return 0, 0, 0, 0, fmt.Errorf("status bucket has %d replicas, the index bucket %d", st.CachedInfo().Config.Replicas, b.CachedInfo().Config.Replicas)
		}
		return s.CachedInfo().Config.Replicas, c.CachedInfo().Config.Replicas, b.CachedInfo().Config.Replicas, o.CachedInfo().Config.Replicas, nil
	}
	if s, c, b, o, err := replicas(); err != nil || s != 3 || c != 3 || b != 3 || o != 3 {
		t.Fatalf("before scaling out: stream %d, consumer %d, bucket %d, object store %d replicas (%v), want 3 each", s, c, b, o, err)
	}

	// Scaling out with the defaults: -nats-replicas 1 on every new process.
	ix.Close()
	logs := map[string]*testkit.SyncBuffer{"api": {}, "webhook": {}, "indexer": {}}
	logTo := func(role string) *slog.Logger { return slog.New(slog.NewTextHandler(logs[role], nil)) }
	hook2, err := StartWebhook(ctx, connect("webhook-2", 2), WebhookOptions{Token: testToken, Stream: events.StreamOptions{Replicas: 1}, Log: logTo("webhook")})
	if err != nil {
		t.Fatal(err)
	}
	defer hook2.Close()
	rep, err := StartAPI(ctx, connect("api-2", 1), APIOptions{Config: api.DefaultConfig(), DataDir: t.TempDir(), Replicas: 1, Log: logTo("api")})
	if err != nil {
		t.Fatal(err)
	}
	defer rep.Close()
	ix2, err := StartIndexer(ctx, connect("indexer-restarted", 2), IndexerOptions{Registry: regCfg, Repository: "packages", DataDir: t.TempDir(),
		Stream: events.StreamOptions{Replicas: 1}, Log: logTo("indexer")})
	if err != nil {
		t.Fatal(err)
	}
	defer ix2.Close()
	testkit.Eventually(t, 2*time.Minute, "the new processes bound", func() bool {
		return hook2.Ready() && ix2.Ready() && rep.Server.Ready()
	})

	if s, c, b, o, err := replicas(); err != nil || s != 3 || c != 3 || b != 3 || o != 3 {
		t.Fatalf("after scaling out: stream %d, consumer %d, bucket %d, object store %d replicas (%v), want 3 each", s, c, b, o, err)
	}
	mismatch := func(resource, name string) string {
		return fmt.Sprintf(`level=WARN msg="shared JetStream resource differs from this process's settings; left as it is" resource=%s name=%s setting=replicas existing=3 configured=1`, resource, name)
	}
	for role, want := range map[string][]string{
		"webhook": {mismatch("stream", events.StreamName)},
		"api":     {mismatch("bucket", events.PackagesBucket), mismatch("object_store", events.LargeRecordsBucket)},
		"indexer": {mismatch("stream", events.StreamName), mismatch("consumer", events.ConsumerName), mismatch("bucket", events.PackagesBucket),
			mismatch("status_bucket", events.StatusBucket)},
	} {
		for _, line := range want {
			if !strings.Contains(logs[role].String(), line) {
				t.Errorf("%s's log lacks\n%s\n%s", role, line, logs[role])
			}
		}
		if strings.Contains(logs[role].String(), "created JetStream") {
			t.Errorf("%s created a resource that existed:\n%s", role, logs[role])
		}
	}
}
