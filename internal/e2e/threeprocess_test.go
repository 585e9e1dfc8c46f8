package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/oci-epr/package-registry/internal/devregistry"
	"github.com/oci-epr/package-registry/internal/events"
	"github.com/oci-epr/package-registry/internal/oci"
	"github.com/oci-epr/package-registry/internal/packages/packagetest"
	"github.com/oci-epr/package-registry/internal/status"
	"github.com/oci-epr/package-registry/internal/testkit"
)

const token = "three-process-token"

// buildBinaries compiles the three commands once into dir.
func buildBinaries(t *testing.T, dir string) {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "build", "-o", dir+string(os.PathSeparator), "./cmd/webhook", "./cmd/indexer", "./cmd/api")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
}

// process starts a binary with EPR_* environment, logging to a file shown on failure.
func process(t *testing.T, bin, name string, env map[string]string) {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "OTEL_TRACES_EXPORTER=none")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		logFile.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("--- %s log:\n%s", name, b)
		}
	})
}

func ready(addr string) func() bool {
	return func() bool {
		resp, err := http.Get("http://" + addr + "/health?ready=true")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
}

func searchBody(t *testing.T, apiAddr string) ([]byte, []map[string]any) {
	t.Helper()
	resp, err := http.Get("http://" + apiAddr + "/search?all=true&prerelease=true")
	if err != nil {
		return nil, nil
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.Header.Get("X-Package-Source") == "mock" {
		return nil, nil
	}
	var items []map[string]any
	_ = json.Unmarshal(body, &items)
	return body, items
}

func versions(items []map[string]any) map[string]string {
	out := map[string]string{}
	for _, it := range items {
		out[fmt.Sprint(it["name"], "@", it["version"])] = fmt.Sprint(it["description"])
	}
	return out
}

func TestThreeProcesses(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("signals differ on windows")
	}
	bin := t.TempDir()
	buildBinaries(t, bin)

	nats, err := events.StartEmbedded(events.EmbeddedOptions{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer nats.Shutdown()
	webhookAddr, indexerAddr, apiAddr, api2Addr := testkit.FreeAddr(t), testkit.FreeAddr(t), testkit.FreeAddr(t), testkit.FreeAddr(t)
	indexerAdmin, apiAdmin := testkit.FreeAddr(t), testkit.FreeAddr(t) // their metrics listeners, where /status is

	ctx := context.Background()
	reg, err := devregistry.Start(ctx, devregistry.Options{Notifications: []devregistry.Notification{{
		URL:       "http://" + webhookAddr + "/webhooks/distribution",
		Headers:   http.Header{"Authorization": {"Bearer " + token}},
		Timeout:   5 * time.Second,
		Threshold: 3, Backoff: 200 * time.Millisecond,
		IgnoreActions: []string{"pull", "mount"},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	registry := "http://" + reg.Host()

	process(t, filepath.Join(bin, "webhook"), "webhook", map[string]string{
		"EPR_ADDRESS": webhookAddr, "EPR_NATS_URL": nats.ClientURL(), "EPR_WEBHOOK_TOKEN": token, "EPR_LOG_LEVEL": "debug"})
	process(t, filepath.Join(bin, "indexer"), "indexer", map[string]string{
		"EPR_ADDRESS": indexerAddr, "EPR_NATS_URL": nats.ClientURL(), "EPR_OCI_REGISTRY": registry,
		"EPR_DATA_DIR": t.TempDir(), "EPR_LOG_LEVEL": "debug", "EPR_METRICS_ADDRESS": indexerAdmin})
	process(t, filepath.Join(bin, "api"), "api", map[string]string{
		"EPR_ADDRESS": apiAddr, "EPR_NATS_URL": nats.ClientURL(), "EPR_OCI_REGISTRY": registry,
		"EPR_DATA_DIR": t.TempDir(), "EPR_LOG_LEVEL": "debug", "EPR_METRICS_ADDRESS": apiAdmin})
	for name, addr := range map[string]string{"webhook": webhookAddr, "indexer": indexerAddr, "api": apiAddr} {
		testkit.Eventually(t, 30*time.Second, name+" ready", ready(addr))
	}

	client, err := oci.New(oci.Config{Registry: registry})
	if err != nil {
		t.Fatal(err)
	}
	// Push: two versions of one package and one other package.
	pushed := time.Now()
	specs := []packagetest.Spec{packagetest.Integration(), packagetest.ContentPackage(), packagetest.InputPackage()}
	specs[1].Version = "2.0.0"
	for _, s := range specs {
		if _, err := client.PushPackage(ctx, "packages/"+s.Name, s.Version, packagetest.Build(s), nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	testkit.Eventually(t, 20*time.Second, "pushed packages served", func() bool {
		_, items := searchBody(t, apiAddr)
		return len(items) == len(specs)
	})
	t.Logf("3 pushes → served by the api process: %v", time.Since(pushed))

	// Retag: the tag moves to new content; a non-version tag adds nothing.
	moved := specs[0]
	moved.Description = "Moved tag, new content."
	if _, err := client.PushPackage(ctx, "packages/"+moved.Name, moved.Version, packagetest.Build(moved), nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := client.Tag(ctx, "packages/"+moved.Name, moved.Version, "latest"); err != nil {
		t.Fatal(err)
	}
	key := moved.Name + "@" + moved.Version
	testkit.Eventually(t, 20*time.Second, "moved tag's new document", func() bool {
		_, items := searchBody(t, apiAddr)
		return versions(items)[key] == moved.Description && len(items) == len(specs)
	})

	// Delete a tag: the package goes.
	gone := specs[2]
	if err := client.DeleteTag(ctx, "packages/"+gone.Name, gone.Version); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 20*time.Second, "deleted tag gone", func() bool {
		_, items := searchBody(t, apiAddr)
		_, still := versions(items)[gone.Name+"@"+gone.Version]
		return !still && len(items) == len(specs)-1
	})

	// A second api process joins later and serves the same bytes.
	want, _ := searchBody(t, apiAddr)
	process(t, filepath.Join(bin, "api"), "api2", map[string]string{
		"EPR_ADDRESS": api2Addr, "EPR_NATS_URL": nats.ClientURL(), "EPR_OCI_REGISTRY": registry, "EPR_DATA_DIR": t.TempDir()})
	testkit.Eventually(t, 30*time.Second, "second api serves the same /search bytes", func() bool {
		got, _ := searchBody(t, api2Addr)
		return bytes.Equal(got, want)
	})
	if !strings.Contains(string(want), moved.Description) {
		t.Fatalf("final /search lacks the moved content:\n%s", want)
	}

	// The status the indexer process wrote is what every process answers on GET /status (here
	// the indexer's and an api process's metrics listeners): each tag's state, and each api
	// process reporting its applied revision.
	checkStatus(t, "http://"+indexerAdmin, "http://"+apiAdmin, specs, gone)
}

// checkStatus asks the indexer process and an api process for the status over HTTP: both answer
// from the status bucket the indexer writes, so they must agree tag for tag; the api process,
// which holds the index, also says each served tag is in sync.
func checkStatus(t *testing.T, indexerURL, apiURL string, specs []packagetest.Spec, gone packagetest.Spec) {
	t.Helper()
	ctx := context.Background()
	fromIndexer, fromAPI := &status.Client{BaseURL: indexerURL}, &status.Client{BaseURL: apiURL}
	var o status.Overall
	testkit.Eventually(t, testkit.Patience, "status: every tag told, both api processes in step", func() bool {
		var err error
		if o, err = fromAPI.Overall(ctx, status.Filter{}); err != nil || o.Indexer == nil || len(o.Replicas) != 2 {
			return false
		}
		for _, rep := range o.Replicas {
			if rep.Lag == nil || *rep.Lag != 0 {
				return false
			}
		}
		return o.Indexer.Counts[status.Served] == len(specs)-1 && o.Indexer.Counts[status.NotAPackage] == 1
	})
	if len(o.Problems) != 1 || o.Problems[0].Tag != "latest" {
		t.Errorf("problems: %+v", o.Problems)
	}
	oi, err := fromIndexer.Overall(ctx, status.Filter{})
	if err != nil || !reflect.DeepEqual(oi.Problems, o.Problems) || len(oi.Replicas) != 2 {
		t.Errorf("the indexer's /status differs from the api's: %+v %v", oi, err)
	}
	for _, s := range specs[:2] {
		p, err := fromAPI.Package(ctx, s.Name, status.Filter{})
		if err != nil || len(p.Tags) != 1 || p.Tags[0].State != status.Served || p.Tags[0].Version != s.Version ||
			p.Tags[0].InSync == nil || !*p.Tags[0].InSync || p.Tags[0].IndexDigest != p.Tags[0].Digest {
			t.Errorf("status of %s from the api: %+v %v", s.Name, p.Tags, err)
			continue
		}
		pi, err := fromIndexer.Package(ctx, s.Name, status.Filter{})
		served := p.Tags[0]
		served.IndexDigest, served.InSync = "", nil // only a process holding the index tells these
		if err != nil || len(pi.Tags) != 1 || !reflect.DeepEqual(pi.Tags[0], served) {
			t.Errorf("status of %s from the indexer: %+v %v, the api's: %+v", s.Name, pi.Tags, err, served)
		}
	}
	if p, _ := fromAPI.Package(ctx, gone.Name, status.Filter{}); len(p.Tags) != 0 {
		t.Errorf("deleted tag still in the status: %+v", p.Tags)
	}
}
