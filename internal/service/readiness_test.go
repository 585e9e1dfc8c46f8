package service

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/oci-epr/package-registry/internal/devregistry"
	"github.com/oci-epr/package-registry/internal/events"
	"github.com/oci-epr/package-registry/internal/oci"
	"github.com/oci-epr/package-registry/internal/testkit"
)

// An indexer is not ready until its start-up resync has ended: a fresh all-in-one must not be
// sent traffic while its index lacks what the registry holds. The registry holds the resync's
// tag listing until the test lets it go, so "not ready" is checked while the sync is certainly
// under way, not raced against it.
func TestIndexerIsReadyOnlyAfterItsStartUpResync(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	listing := make(chan struct{}) // closed when the first tag listing arrives
	release := make(chan struct{}) // closed by the test to let it through
	var once sync.Once
	reg, err := devregistry.Start(ctx, devregistry.Options{Handler: func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/tags/list") {
				once.Do(func() { close(listing) })
				<-release
			}
			next.ServeHTTP(w, r)
		})
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	nc := embeddedNATS(t)
	ix, err := StartIndexer(ctx, nc, IndexerOptions{Registry: oci.Config{Registry: "http://" + reg.Host()},
		Repository: "packages", DataDir: t.TempDir(), Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	// Deferred last, so it runs first: a failure must not leave the reconcile held in the
	// registry while ix.Close waits for it.
	defer releaseListing(release)
	testkit.Eventually(t, time.Minute, "the start-up resync lists tags", func() bool {
		select {
		case <-listing:
			return true
		default:
			return false
		}
	})
	// Consuming may or may not have started by now; either way the sync cannot have ended.
	testkit.Eventually(t, time.Minute, "the consumer set up", func() bool { return ix.ready.Load() })
	if ix.Ready() {
		t.Fatal("ready while the start-up resync was still listing tags")
	}
	releaseListing(release)
	testkit.Eventually(t, time.Minute, "ready after the start-up resync", ix.Ready)
}

// releaseListing lets the held tag listing through, once.
func releaseListing(release chan struct{}) {
	select {
	case <-release:
	default:
		close(release)
	}
}

// embeddedNATS starts an embedded JetStream server in t's temporary directory and connects to
// it; both end with the test.
func embeddedNATS(t *testing.T) *nats.Conn {
	t.Helper()
	srv, err := events.StartEmbedded(events.EmbeddedOptions{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}
