package helm

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/oci-epr/package-registry/internal/testkit"
)

// TestRenderedContainersServeTheirProbes runs each rendered container's command with its
// rendered args and environment, changing only what a pod has and this machine does not:
// listen addresses move to free loopback ports, data directories to temporary ones, the
// registry to an address that refuses connections, the NATS URL to the all-in-one's embedded
// server. Then every probe path the chart declares must answer 200 on the port it names, and
// /metrics on the metrics port. The all-in-one runs first; the distributed roles then run
// against its embedded NATS.
func TestRenderedContainersServeTheirProbes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts four processes")
	}
	natsAddr := testkit.FreeAddr(t)
	all := render(t, readCI("allinone-values.yaml"))
	// One NATS server here: the stream and bucket get one replica.
	single := strings.Replace(readCI("distributed-values.yaml"), "streamReplicas: 3", "streamReplicas: 1", 1)
	if !strings.Contains(single, "streamReplicas: 1") {
		t.Fatal("ci/distributed-values.yaml no longer sets streamReplicas: 3")
	}
	dist := render(t, single)

	var ctrs []namedContainer
	for _, w := range all.workloads() {
		for _, c := range w.tmpl.Spec.Containers {
			ctrs = append(ctrs, namedContainer{w.name, c, all.secretValues()})
		}
	}
	for _, w := range dist.workloads() {
		for _, c := range w.tmpl.Spec.Containers {
			ctrs = append(ctrs, namedContainer{w.name, c, dist.secretValues()})
		}
	}
	for i, nc := range ctrs {
		overrides := map[string]string{"EPR_NATS_URL": "nats://" + natsAddr}
		if i == 0 {
			// The all-in-one: its embedded server is the one the others use.
			overrides = map[string]string{"EPR_EMBEDDED_NATS_ADDRESS": natsAddr}
		}
		startAndProbe(t, nc, overrides)
	}
}

type namedContainer struct {
	workload string
	ctr      corev1.Container
	secrets  map[string]string
}

func startAndProbe(t *testing.T, nc namedContainer, overrides map[string]string) {
	t.Helper()
	ctr := nc.ctr
	bin := filepath.Base(ctr.Command[0])
	dataDir := t.TempDir()
	portMap := map[int32]string{} // container port -> loopback address
	env := []string{"HOME=" + t.TempDir()}
	for _, e := range ctr.Env {
		v := e.Value
		if e.ValueFrom != nil {
			if ref := e.ValueFrom.SecretKeyRef; ref != nil {
				v = nc.secrets[ref.Name+"/"+ref.Key]
			} else {
				continue // GOMEMLIMIT from the limits: the runtime's default is fine here
			}
		}
		switch e.Name {
		case "EPR_ADDRESS", "EPR_METRICS_ADDRESS":
			if v == "" {
				break
			}
			a := testkit.FreeAddr(t)
			portMap[addrPort(t, e.Name, v)] = a
			v = a
		case "EPR_DATA_DIR":
			v = filepath.Join(dataDir, filepath.Base(v))
		case "EPR_OCI_REGISTRY":
			v = "http://127.0.0.1:9"
		}
		if o, ok := overrides[e.Name]; ok {
			v = o
		}
		env = append(env, e.Name+"="+v)
	}
	for k, v := range overrides {
		if !strings.Contains(strings.Join(env, "\n"), k+"=") {
			env = append(env, k+"="+v)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, binary(t, bin), ctr.Args...)
	cmd.Env = env
	var logs testkit.SyncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s (%s) log:\n%s", nc.workload, bin, logs.String())
		}
	})
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-exited:
		case <-time.After(time.Minute):
			t.Errorf("%s did not stop within a minute of SIGINT", nc.workload)
		}
	})

	ports := map[string]int32{}
	for _, p := range ctr.Ports {
		ports[p.Name] = p.ContainerPort
	}
	type check struct{ what, url string }
	var checks []check
	for what, p := range map[string]*corev1.Probe{"startup": ctr.StartupProbe, "liveness": ctr.LivenessProbe, "readiness": ctr.ReadinessProbe} {
		addr, ok := portMap[probePort(p.HTTPGet.Port, ports)]
		if !ok {
			t.Fatalf("%s: the %s probe's port is not one the binary listens on", nc.workload, what)
		}
		checks = append(checks, check{what + " probe", "http://" + addr + p.HTTPGet.Path})
	}
	if p, ok := ports["metrics"]; ok {
		checks = append(checks, check{"metrics", "http://" + portMap[p] + "/metrics"})
	}
	for _, c := range checks {
		testkit.Eventually(t, testkit.Patience, fmt.Sprintf("%s: %s %s to answer 200", nc.workload, c.what, c.url), func() bool {
			select {
			case err := <-exited:
				t.Fatalf("%s (%s) exited: %v\n%s", nc.workload, bin, err, logs.String())
			default:
			}
			return get(c.url) == http.StatusOK
		})
	}
	t.Logf("%s (%s): %d of its probe and metrics URLs answer 200", nc.workload, bin, len(checks))
}

func get(url string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}
