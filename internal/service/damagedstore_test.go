package service

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/oci-epr/package-registry/internal/api"
	"github.com/oci-epr/package-registry/internal/devregistry"
	"github.com/oci-epr/package-registry/internal/oci"
	"github.com/oci-epr/package-registry/internal/packages/packagetest"
	"github.com/oci-epr/package-registry/internal/testkit"
)

// An all-in-one whose stores were damaged while it was down (api.db zeroed, indexer.db cut
// short) and whose NATS store is gone starts anyway: both files are moved aside, and the
// package is served again, rebuilt from the registry through the bucket.
func TestAllInOneRebuildsDamagedStores(t *testing.T) {
	reg, err := devregistry.Start(t.Context(), devregistry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	regCfg := oci.Config{Registry: "http://" + reg.Host()}
	client, err := oci.New(regCfg)
	if err != nil {
		t.Fatal(err)
	}
	spec := packagetest.Spec{Name: "sturdy", Version: "1.0.0"}
	if _, err := client.PushPackage(t.Context(), "packages/sturdy", spec.Version, packagetest.Build(spec), nil, nil); err != nil {
		t.Fatal(err)
	}
	dataDir := t.TempDir()
	start := func() *AllInOne {
		t.Helper()
		all, err := StartAllInOne(context.Background(), AllInOneOptions{
			API: APIOptions{Config: api.DefaultConfig(), Registry: regCfg},
			Indexer: IndexerOptions{Registry: regCfg, Repository: "packages", Repositories: []string{"packages/sturdy"},
				ResyncInterval: time.Hour},
			DataDir: dataDir, Webhook: WebhookOptions{Token: testToken}, Log: testLogger(t),
		})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(all.API.Server)
		t.Cleanup(srv.Close)
		testkit.Eventually(t, 2*time.Minute, "the package served", func() bool {
			items, _, _ := search(t, srv.URL, "package=sturdy")
			return has(items, "sturdy", "1.0.0")
		})
		return all
	}
	all := start()
	if err := all.Close(); err != nil {
		t.Fatal(err)
	}

	apiDB, indexerDB := filepath.Join(dataDir, "api", "api.db"), filepath.Join(dataDir, "indexer", "indexer.db")
	st, err := os.Stat(apiDB)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(apiDB, make([]byte, st.Size()), 0o600); err != nil {
		t.Fatal(err)
	}
	if st, err = os.Stat(indexerDB); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(indexerDB, st.Size()/3); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(dataDir, "nats")); err != nil {
		t.Fatal(err)
	}

	all = start()
	defer all.Close()
	for _, db := range []string{apiDB, indexerDB} {
		if aside, _ := filepath.Glob(db + ".corrupt-*"); len(aside) != 1 {
			t.Errorf("%s moved aside as %v, want one file", db, aside)
		}
	}
}
