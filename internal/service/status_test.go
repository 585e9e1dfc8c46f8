package service

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/prometheus/client_golang/prometheus"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/memory"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/oci-epr/package-registry/internal/api"
	"github.com/oci-epr/package-registry/internal/devregistry"
	"github.com/oci-epr/package-registry/internal/events"
	"github.com/oci-epr/package-registry/internal/oci"
	"github.com/oci-epr/package-registry/internal/packages"
	"github.com/oci-epr/package-registry/internal/packages/packagetest"
	"github.com/oci-epr/package-registry/internal/status"
	"github.com/oci-epr/package-registry/internal/testkit"
)

var testSignature = []byte("-----BEGIN PGP SIGNATURE-----\nnot a real signature\n-----END PGP SIGNATURE-----\n")

// pushOther pushes an artifact that is not a package (another artifact type, a tar layer) under
// tag.
func pushOther(t *testing.T, ctx context.Context, registryHost, repository, tag, artifactType string) {
	t.Helper()
	repo, err := remote.NewRepository(registryHost + "/" + repository)
	if err != nil {
		t.Fatal(err)
	}
	repo.PlainHTTP = true
	data := []byte("not a package")
	layer := content.NewDescriptorFromBytes("application/vnd.example.thing.layer.v1.tar", data)
	for _, b := range []struct {
		desc ocispec.Descriptor
		data []byte
	}{{layer, data}, {ocispec.DescriptorEmptyJSON, ocispec.DescriptorEmptyJSON.Data}} {
		if err := repo.Push(ctx, b.desc, bytes.NewReader(b.data)); err != nil {
			t.Fatal(err)
		}
	}
	mem := memory.New()
	desc, err := oras.PackManifest(ctx, mem, oras.PackManifestVersion1_1, artifactType, oras.PackManifestOptions{Layers: []ocispec.Descriptor{layer}})
	if err != nil {
		t.Fatal(err)
	}
	manifest, err := content.FetchAll(ctx, mem, desc)
	if err != nil {
		t.Fatal(err)
	}
	if err := repo.PushReference(ctx, desc, bytes.NewReader(manifest), tag); err != nil {
		t.Fatal(err)
	}
}

// tagStatus waits for repository:tag to have the status want says and returns it.
func waitTag(t *testing.T, r status.Reader, repository, tag string, cond func(status.Tag) bool) status.Tag {
	t.Helper()
	var got status.Tag
	testkit.Eventually(t, testkit.Patience, fmt.Sprintf("status of %s:%s", repository, tag), func() bool {
		rs, _, err := r.Repository(context.Background(), repository, status.Filter{})
		if err != nil {
			return false
		}
		for _, tg := range rs.Tags {
			if tg.Tag == tag && cond(tg) {
				got = tg
				return true
			}
		}
		return false
	})
	return got
}

func logJSON(t *testing.T, what string, v any) {
	t.Helper()
	b, _ := json.MarshalIndent(v, "", "  ")
	t.Logf("%s:\n%s", what, b)
}

// One push per state, each told by the status as every process reads it; a deleted tag leaves
// it (issue 23's acceptance table).
func TestStatusTellsWhyEachTagIsOrIsNotServed(t *testing.T) {
	failingSpec := packagetest.Prerelease()
	failingZip := packagetest.Build(failingSpec)
	failingBlob := fmt.Sprintf("/blobs/sha256:%x", sha256.Sum256(failingZip))
	var recovered atomic.Bool
	s := startStackWith(t, stackOptions{hooks: WebhookOptions{Token: testToken}, requireSignatures: true, resync: 10 * time.Minute,
		registryProxy: func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch {
				case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, failingBlob) && !recovered.Load():
					http.Error(w, `{"errors":[{"code":"UNAVAILABLE","message":"try later"}]}`, http.StatusServiceUnavailable)
				case strings.HasPrefix(r.URL.Path, "/v2/packages/locked/"):
					http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
				default:
					next.ServeHTTP(w, r)
				}
			})
		}})
	ctx := s.ctx
	push := func(repository, tag string, zip, sig []byte) {
		t.Helper()
		if _, err := s.client.PushPackage(ctx, repository, tag, zip, sig, nil); err != nil {
			t.Fatal(err)
		}
	}
	replica, ixr := s.all.StatusReader(), s.all.Indexer.StatusReader()

	served := packagetest.Integration()
	push("packages/"+served.Name, served.Version, packagetest.Build(served), testSignature)
	var bad packagetest.InvalidCase
	for _, c := range packagetest.Invalid() {
		if c.Rule == packages.RuleMissingReadme {
			bad = c
		}
	}
	push("packages/bad", "1.0.0", bad.Zip, testSignature)
	unsigned := packagetest.ContentPackage()
	push("packages/"+unsigned.Name, unsigned.Version, packagetest.Build(unsigned), nil)
	both := packagetest.InputPackage()
	push("packages", both.Name+"-"+both.Version, packagetest.Build(both), testSignature)
	waitTag(t, replica, "packages", both.Name+"-"+both.Version, func(tg status.Tag) bool { return tg.State == status.Served })
	push("packages/"+both.Name, both.Version, packagetest.Build(both), testSignature)
	pushOther(t, ctx, s.reg.Host(), "packages/thing", "1.0.0", "application/vnd.example.thing.v1")
	if err := s.client.Tag(ctx, "packages/"+served.Name, served.Version, "latest"); err != nil {
		t.Fatal(err)
	}
	push("packages/"+failingSpec.Name, failingSpec.Version, failingZip, testSignature)
	locked := packagetest.Integration()
	locked.Name = "locked"
	push("packages/locked", locked.Version, packagetest.Build(locked), testSignature)

	got := map[string]status.Tag{}
	got["served"] = waitTag(t, replica, "packages/"+served.Name, served.Version, func(tg status.Tag) bool {
		return tg.State == status.Served && tg.InSync != nil && *tg.InSync
	})
	got["rejected"] = waitTag(t, replica, "packages/bad", "1.0.0", func(tg status.Tag) bool { return tg.State == status.Rejected })
	got["awaiting_signature"] = waitTag(t, replica, "packages/"+unsigned.Name, unsigned.Version, func(tg status.Tag) bool { return tg.State == status.AwaitingSignature })
	got["shadowed"] = waitTag(t, replica, "packages", both.Name+"-"+both.Version, func(tg status.Tag) bool { return tg.State == status.Shadowed })
	got["not_a_package (artifact type)"] = waitTag(t, replica, "packages/thing", "1.0.0", func(tg status.Tag) bool { return tg.State == status.NotAPackage })
	got["not_a_package (tag)"] = waitTag(t, replica, "packages/"+served.Name, "latest", func(tg status.Tag) bool { return tg.State == status.NotAPackage })
	got["failing"] = waitTag(t, replica, "packages/"+failingSpec.Name, failingSpec.Version, func(tg status.Tag) bool { return tg.State == status.Failing })
	for what, tg := range got {
		logJSON(t, what, tg)
	}

	checks := []struct {
		what string
		ok   bool
	}{
		{"served names its package and digest", got["served"].Name == served.Name && got["served"].Digest != "" && got["served"].IndexDigest == got["served"].Digest},
		{"rejected has its rule and the reader's message", got["rejected"].Rule == string(packages.RuleMissingReadme) && strings.Contains(strings.ToLower(got["rejected"].Message), "readme")},
		{"awaiting_signature has its rule", got["awaiting_signature"].Rule == string(packages.RuleMissingSignature)},
		{"shadowed names the repository served", got["shadowed"].ShadowedBy == "packages/"+both.Name},
		{"an artifact of another type says which", got["not_a_package (artifact type)"].ArtifactType == "application/vnd.example.thing.v1"},
		{"a tag naming no version says so", got["not_a_package (tag)"].Message != "" && got["not_a_package (tag)"].Name == ""},
		{"failing has the error and the next attempt", strings.Contains(got["failing"].Error, "503") && got["failing"].NextAttempt != nil},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s", c.what)
		}
	}
	perPackage := waitTag(t, replica, "packages/"+both.Name, both.Version, func(tg status.Tag) bool { return tg.State == status.Served })
	if perPackage.Since.IsZero() {
		t.Error("served copy has no Since")
	}

	// A repository the credentials cannot read: its last reconcile failed, with the error.
	var lockedRepo status.RepositoryStatus
	testkit.Eventually(t, testkit.Patience, "listing failure of packages/locked", func() bool {
		rs, found, err := replica.Repository(ctx, "packages/locked", status.Filter{})
		lockedRepo = rs
		return err == nil && found && rs.Repository.LastReconcile != nil && rs.Repository.LastReconcile.Outcome == status.OutcomeFailed
	})
	logJSON(t, "repository whose listing fails", lockedRepo.Repository)
	if !strings.Contains(lockedRepo.Repository.LastReconcile.Error, "401") {
		t.Errorf("listing failure error: %q", lockedRepo.Repository.LastReconcile.Error)
	}

	// Every process reads the same status: the indexer's reader agrees with the replica's.
	for name := range map[string]bool{served.Name: true, both.Name: true, "bad": true} {
		a, err1 := replica.Package(ctx, name, status.Filter{})
		b, err2 := ixr.Package(ctx, name, status.Filter{})
		if err1 != nil || err2 != nil || len(a.Tags) != len(b.Tags) {
			t.Fatalf("package %s: replica %+v %v, indexer %+v %v", name, a, err1, b, err2)
		}
		for i := range a.Tags {
			a.Tags[i].IndexDigest, a.Tags[i].InSync = "", nil
			if !equalJSON(a.Tags[i], b.Tags[i]) {
				t.Errorf("package %s: replica %+v, indexer %+v", name, a.Tags[i], b.Tags[i])
			}
		}
	}
	var overall status.Overall
	testkit.Eventually(t, testkit.Patience, "indexer and replica reported", func() bool {
		o, err := replica.Overall(ctx, status.Filter{})
		overall = o
		return err == nil && o.Indexer != nil && o.Indexer.Counts[status.Served] >= 2 && len(o.Replicas) == 1 && o.Replicas[0].AppliedRevision > 0
	})
	if !overall.Indexer.RegistryReachable || overall.Indexer.IndexRevision == 0 {
		t.Errorf("indexer: %+v", overall.Indexer)
	}
	logJSON(t, "indexer", overall.Indexer)

	// A failing tag is served once the registry answers again (here: a full reconcile, as the
	// resync or a redelivered event would run).
	recovered.Store(true)
	if err := s.all.Indexer.ix.Load().Reconcile(ctx, "packages/"+failingSpec.Name); err != nil {
		t.Fatal(err)
	}
	waitTag(t, replica, "packages/"+failingSpec.Name, failingSpec.Version, func(tg status.Tag) bool { return tg.State == status.Served && tg.Error == "" })

	// The per-package copy goes: the single repository's copy is served instead.
	if err := s.client.DeleteTag(ctx, "packages/"+both.Name, both.Version); err != nil {
		t.Fatal(err)
	}
	waitTag(t, replica, "packages", both.Name+"-"+both.Version, func(tg status.Tag) bool { return tg.State == status.Served && tg.ShadowedBy == "" })

	// A deleted tag leaves the status, and a repository left without tags too.
	if err := s.client.DeleteTag(ctx, "packages/"+unsigned.Name, unsigned.Version); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, testkit.Patience, "deleted tag gone from the status", func() bool {
		_, found, err := replica.Repository(ctx, "packages/"+unsigned.Name, status.Filter{})
		return err == nil && !found
	})
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// A restarted indexer rewrites no tag's status when nothing changed: it starts from what the
// status bucket holds.
func TestIndexerRestartRewritesNoTagStatus(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reg, err := devregistry.Start(ctx, devregistry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	nc := embeddedNATS(t)
	regCfg := oci.Config{Registry: "http://" + reg.Host()}
	client, _ := oci.New(regCfg)
	for _, spec := range []packagetest.Spec{packagetest.Integration(), packagetest.ContentPackage(), packagetest.ZeroX()} {
		if _, err := client.PushPackage(ctx, "packages/"+spec.Name, spec.Version, packagetest.Build(spec), nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := client.Tag(ctx, "packages/acme_logs", "1.2.0", "latest"); err != nil {
		t.Fatal(err)
	}
	opts := IndexerOptions{Registry: regCfg, Repository: "packages", DataDir: t.TempDir(), Log: slog.New(slog.DiscardHandler)}
	start := func() *Indexer {
		ix, err := StartIndexer(ctx, nc, opts)
		if err != nil {
			t.Fatal(err)
		}
		testkit.Eventually(t, testkit.Patience, "indexer ready", func() bool { return ix.Ready() })
		if err := ix.pub.Load().Flush(ctx); err != nil {
			t.Fatal(err)
		}
		return ix
	}
	ix := start()
	o, err := ix.StatusReader().Overall(ctx, status.Filter{State: status.Served})
	if err != nil || len(o.Problems) != 3 {
		t.Fatalf("first start: %+v %v", o.Problems, err)
	}
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}

	sub, err := nc.SubscribeSync("$KV." + events.StatusBucket + ".tag.>")
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		t.Fatal(err)
	}
	ix = start()
	defer ix.Close()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	if n, _, _ := sub.Pending(); n != 0 {
		var keys []string
		for range n {
			m, _ := sub.NextMsg(time.Second)
			keys = append(keys, m.Subject)
		}
		t.Errorf("the restart wrote %d tag entries: %v", n, keys)
	}
	// And a change after the restart is written: the subscription sees writes.
	spec := packagetest.InputPackage()
	if _, err := client.PushPackage(ctx, "packages/"+spec.Name, spec.Version, packagetest.Build(spec), nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := ix.ix.Load().Reconcile(ctx, "packages/"+spec.Name); err != nil {
		t.Fatal(err)
	}
	if err := ix.pub.Load().Flush(ctx); err != nil {
		t.Fatal(err)
	}
	_ = nc.Flush()
	if n, _, _ := sub.Pending(); n != 1 {
		t.Errorf("a new tag wrote %d tag entries, want 1", n)
	}
}

// An API replica reports its applied revision in the status and its lag as a metric, and a
// clean shutdown removes it; the indexer shows its tags by state and the stream's pending
// events as metrics.
func TestReplicaReportsItselfAndTheIndexerItsGauges(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reg, err := devregistry.Start(ctx, devregistry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	nc := embeddedNATS(t)
	regCfg := oci.Config{Registry: "http://" + reg.Host()}
	client, _ := oci.New(regCfg)
	spec := packagetest.Integration()
	if _, err := client.PushPackage(ctx, "packages/"+spec.Name, spec.Version, packagetest.Build(spec), nil, nil); err != nil {
		t.Fatal(err)
	}
	ixMetrics, apiMetrics := prometheus.NewRegistry(), prometheus.NewRegistry()
	ix, err := StartIndexer(ctx, nc, IndexerOptions{Registry: regCfg, Repository: "packages", DataDir: t.TempDir(),
		Log: slog.New(slog.DiscardHandler), Metrics: ixMetrics})
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	rep, err := StartAPI(ctx, nc, APIOptions{Config: api.DefaultConfig(), DataDir: t.TempDir(), ReplicaID: "api-0.test",
		Log: slog.New(slog.DiscardHandler), Metrics: apiMetrics})
	if err != nil {
		t.Fatal(err)
	}
	gauge := func(reg *prometheus.Registry, name, state string) (float64, bool) {
		families, err := reg.Gather()
		if err != nil {
			return 0, false
		}
		for _, f := range families {
			if f.GetName() != name {
				continue
			}
			for _, m := range f.GetMetric() {
				if state == "" || (len(m.GetLabel()) == 1 && m.GetLabel()[0].GetValue() == state) {
					return m.GetGauge().GetValue(), true
				}
			}
		}
		return 0, false
	}
	r := rep.StatusReader()
	testkit.Eventually(t, testkit.Patience, "replica reported, in step, and the indexer's gauges set", func() bool {
		o, err := r.Overall(ctx, status.Filter{})
		if err != nil || o.Indexer == nil || len(o.Replicas) != 1 || o.Replicas[0].ID != "api-0.test" || o.Replicas[0].Lag == nil || *o.Replicas[0].Lag != 0 {
			return false
		}
		served, ok1 := gauge(ixMetrics, "epr_indexer_tags", "served")
		_, ok2 := gauge(ixMetrics, "epr_indexer_stream_pending", "")
		lag, ok3 := gauge(apiMetrics, "epr_api_replica_lag_revisions", "")
		return ok1 && ok2 && ok3 && served == 1 && lag == 0 && o.Replicas[0].AppliedRevision > 0
	})
	if err := rep.Close(); err != nil {
		t.Fatal(err)
	}
	o, err := ix.StatusReader().Overall(ctx, status.Filter{})
	if err != nil || len(o.Replicas) != 0 {
		t.Errorf("replica still reported after a clean shutdown: %+v %v", o.Replicas, err)
	}
}

// A status bucket that cannot be set up does not stop indexing: the indexer waits statusWait
// for it, then indexes without it.
func TestIndexingGoesOnWithoutAStatusBucket(t *testing.T) {
	old := statusWait
	statusWait = 100 * time.Millisecond
	t.Cleanup(func() { statusWait = old })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reg, err := devregistry.Start(ctx, devregistry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	nc := embeddedNATS(t)
	js, _ := jetstream.New(nc)
	// A stream of someone else's holds the status bucket's name.
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "KV_" + events.StatusBucket, Subjects: []string{"someone.else.>"}}); err != nil {
		t.Fatal(err)
	}
	regCfg := oci.Config{Registry: "http://" + reg.Host()}
	client, _ := oci.New(regCfg)
	spec := packagetest.Integration()
	if _, err := client.PushPackage(ctx, "packages/"+spec.Name, spec.Version, packagetest.Build(spec), nil, nil); err != nil {
		t.Fatal(err)
	}
	ix, err := StartIndexer(ctx, nc, IndexerOptions{Registry: regCfg, Repository: "packages", DataDir: t.TempDir(), Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	testkit.Eventually(t, testkit.Patience, "indexer ready and the package indexed", func() bool {
		kv, err := js.KeyValue(ctx, events.PackagesBucket)
		if err != nil || !ix.Ready() {
			return false
		}
		_, err = kv.Get(ctx, spec.Name+"/"+spec.Version)
		return err == nil
	})
	if _, err := ix.StatusReader().Overall(ctx, status.Filter{}); !errors.Is(err, ErrStatusNotReady) {
		t.Errorf("status without its bucket: %v, want ErrStatusNotReady", err)
	}
}
