package helm

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/oci-epr/package-registry/internal/flagenv"
)

// Secrets the cases pass in values; none may appear outside a Secret.
const (
	givenToken        = "tok-5f1c9a7e2b4d4e0f9a3c"
	givenGitHubSecret = "ghs-8e2a6c4f1b3d5a7c9e0f"
	givenRegistryAuth = "dXNlcjpwYXNzLTdjM2U5YTFi" // user:pass-7c3e9a1b
)

var givenDockerConfig = `{"auths":{"registry.example.com":{"auth":"` + givenRegistryAuth + `"}}}`

// chartCase is one combination of values. wantReplicas is the -nats-replicas every role must
// get; external lists Secrets the values name as existing (not rendered by the chart).
type chartCase struct {
	name         string
	values       string
	shape        string
	wantReplicas string
	wantNATSURL  string
	external     []string
	// wantKinds are object kinds that must be rendered (besides the workloads).
	wantKinds []string
	// noKinds must not be rendered.
	noKinds []string
}

var cases = []chartCase{
	{
		name:         "allInOne",
		values:       readCI("allinone-values.yaml"),
		shape:        "allInOne",
		wantReplicas: "1",
		wantKinds:    []string{"Secret", "Service", "StatefulSet", "ServiceAccount"},
		noKinds:      []string{"Deployment", "HorizontalPodAutoscaler", "NetworkPolicy", "ServiceMonitor"},
	},
	{
		name: "allInOne external NATS, credentials, ingresses, monitoring",
		values: `mode: allInOne
registry: {url: "https://registry.example.com", kind: harbor, credentials: {dockerConfigJson: '` + givenDockerConfig + `'}}
nats: {url: "nats://nats.nats.svc:4222", streamReplicas: 3}
webhook:
  token: {value: ` + givenToken + `}
  githubSecret: {value: ` + givenGitHubSecret + `}
  ingress: {enabled: true, host: hooks.example.com}
api:
  ingress: {enabled: true, host: epr.example.com, tls: [{hosts: [epr.example.com], secretName: epr-tls}]}
metrics:
  serviceMonitor: {enabled: true}
  prometheusRule: {enabled: true}
  grafanaDashboard: {enabled: true}
`,
		shape:        "allInOne",
		wantReplicas: "3",
		wantNATSURL:  "nats://nats.nats.svc:4222",
		wantKinds:    []string{"Ingress", "ServiceMonitor", "PrometheusRule", "ConfigMap"},
	},
	{
		name:         "distributed external NATS",
		values:       readCI("distributed-values.yaml"),
		shape:        "distributed",
		wantReplicas: "3",
		wantNATSURL:  "nats://nats.nats.svc:4222",
		wantKinds:    []string{"Deployment", "StatefulSet", "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy"},
	},
	{
		name: "distributed with the NATS chart, existing secrets, everything on",
		values: `mode: distributed
registry: {url: "https://ghcr.io", repository: acme, kind: github, credentials: {existingSecret: ghcr-pull}}
nats: {enabled: true}
webhook:
  token: {existingSecret: epr-hooks, existingSecretKey: bearer}
  githubSecret: {existingSecret: epr-hooks, existingSecretKey: github}
  ingress: {enabled: true, host: hooks.example.com, className: nginx}
  networkPolicy:
    from: [{ipBlock: {cidr: 140.82.112.0/20}}]
    ingressControllerPeers: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: ingress-nginx}}}]
api:
  autoscaling: {enabled: false}
  replicas: 3
  ingress: {enabled: true, host: epr.example.com}
metrics:
  serviceMonitor: {enabled: true, labels: {release: prometheus}}
  prometheusRule: {enabled: true}
  grafanaDashboard: {enabled: true}
`,
		shape:        "distributed",
		wantReplicas: "3",
		wantNATSURL:  "nats://epr-nats.fleet.svc:4222",
		external:     []string{"ghcr-pull", "epr-hooks"},
		wantKinds:    []string{"Ingress", "ServiceMonitor", "PrometheusRule", "NetworkPolicy", "PodDisruptionBudget"},
		noKinds:      []string{"HorizontalPodAutoscaler", "Secret"},
	},
	{
		name: "distributed without metrics or policies",
		values: `mode: distributed
registry: {url: "http://zot.registry.svc:5000", kind: zot}
nats: {url: "nats://nats:4222"}
metrics: {enabled: false}
webhook: {networkPolicy: {enabled: false}, podDisruptionBudget: {enabled: false}}
api: {podDisruptionBudget: {enabled: false}}
`,
		shape:        "distributed",
		wantReplicas: "1",
		wantNATSURL:  "nats://nats:4222",
		noKinds:      []string{"NetworkPolicy", "PodDisruptionBudget", "ServiceMonitor"},
	},
}

func readCI(name string) string {
	data, err := os.ReadFile(filepath.Join(chartDir, "ci", name))
	if err != nil {
		panic(err)
	}
	return string(data)
}

func TestLint(t *testing.T) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if out, err := helm(t, "lint", "--strict", chartCopy, "--namespace", namespace, "-f", valuesFile(t, c.values)); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
		})
	}
}

// TestLintTheShippedChart lints the chart as it is in the repository, without the stand-in
// NATS chart: a missing dependency is a lint warning, nothing else may be.
func TestLintTheShippedChart(t *testing.T) {
	out, err := helm(t, "lint", chartDir, "-f", filepath.Join(chartDir, "ci", "distributed-values.yaml"))
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "[WARNING]") && !strings.Contains(l, "missing") && !strings.Contains(l, "dependenc") {
			t.Errorf("lint: %s", l)
		}
		if strings.Contains(l, "[ERROR]") {
			t.Errorf("lint: %s", l)
		}
	}
}

// TestBadValuesFail: values that cannot work are refused at render time with a clear message.
func TestBadValuesFail(t *testing.T) {
	tests := []struct{ values, want string }{
		{"mode: allInOne\n", "registry.url is required"},
		{"mode: distributed\nregistry: {url: http://r}\n", "needs a NATS with JetStream"},
		{"mode: distributed\nregistry: {url: http://r}\nnats: {url: nats://n:4222, enabled: true}\n", "not both"},
		{"mode: sideways\nregistry: {url: http://r}\n", "mode must be allInOne or distributed"},
		{"registry: {url: http://r, kind: nexus}\n", "registry.kind must be one of"},
		{"registry: {url: http://r}\napi: {ingress: {enabled: true}}\n", "api.ingress.host is required"},
		{"mode: distributed\nregistry: {url: http://r}\nnats: {enabled: true, config: {jetstream: {enabled: false}}}\n", "jetstream.enabled"},
	}
	for _, tt := range tests {
		_, err := renderRaw(t, tt.values)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("values %q: err = %v, want %q", tt.values, err, tt.want)
		}
	}
}

func TestRender(t *testing.T) {
	manifestBins := map[string]bool{}
	pkgs, err := imagePackages()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pkgs {
		manifestBins[filepath.Base(p)] = true
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := render(t, c.values)
			t.Logf("%d objects: %s", len(r.names), r.summary())
			checkKinds(t, r, c)
			checkWorkloads(t, r, c, manifestBins)
			checkServices(t, r)
			checkNoSecretLeaks(t, r)
			checkMonitoring(t, r)
			checkNetworkPolicies(t, r, c)
		})
	}
}

func checkKinds(t *testing.T, r *rendered, c chartCase) {
	t.Helper()
	has := map[string]bool{}
	for _, n := range r.names {
		has[strings.SplitN(n, "/", 2)[0]] = true
	}
	for _, k := range c.wantKinds {
		if !has[k] {
			t.Errorf("no %s rendered", k)
		}
	}
	for _, k := range c.noKinds {
		if has[k] {
			t.Errorf("a %s was rendered", k)
		}
	}
	var workloads []string
	for _, w := range r.workloads() {
		workloads = append(workloads, w.kind+"/"+strings.TrimPrefix(w.name, release+"-package-registry-"))
	}
	slices.Sort(workloads)
	want := map[string][]string{
		"allInOne":    {"StatefulSet/all-in-one"},
		"distributed": {"Deployment/api", "Deployment/webhook", "StatefulSet/indexer"},
	}[c.shape]
	if !slices.Equal(workloads, want) {
		t.Errorf("workloads %v, want %v", workloads, want)
	}
	if c.shape == "distributed" {
		for _, s := range r.statefulSets {
			if s.Spec.Replicas == nil || *s.Spec.Replicas != 1 {
				t.Errorf("%s: the indexer must run once", s.Name)
			}
		}
	}
}

// checkWorkloads checks every container against the binary it runs.
func checkWorkloads(t *testing.T, r *rendered, c chartCase, manifestBins map[string]bool) {
	t.Helper()
	secrets := r.secretValues()
	var replicas, natsURLs []string
	for _, w := range r.workloads() {
		spec := w.tmpl.Spec
		psc := spec.SecurityContext
		if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser != 65532 {
			t.Errorf("%s: pod must run as non-root 65532: %+v", w.name, psc)
		}
		if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
			t.Errorf("%s: mounts a service account token it never uses", w.name)
		}
		mounts := map[string]corev1.Volume{}
		for _, v := range spec.Volumes {
			mounts[v.Name] = v
		}
		for _, pvc := range w.claims {
			mounts[pvc.Name] = corev1.Volume{Name: pvc.Name}
		}
		for _, ctr := range spec.Containers {
			t.Run(w.name+"/"+ctr.Name, func(t *testing.T) {
				bin := checkContainer(t, ctr, mounts, secrets, c, manifestBins)
				env := envOf(ctr)
				if v, ok := env["EPR_NATS_REPLICAS"]; ok {
					replicas = append(replicas, v.Value)
				} else if bin != "" {
					t.Errorf("no EPR_NATS_REPLICAS: every role must say how many replicas the stream and bucket have")
				}
				if v, ok := env["EPR_NATS_URL"]; ok {
					natsURLs = append(natsURLs, v.Value)
				}
			})
		}
	}
	for _, v := range replicas {
		if v != c.wantReplicas {
			t.Errorf("-nats-replicas %v across the roles, want %s on every one", replicas, c.wantReplicas)
			break
		}
	}
	for _, u := range natsURLs {
		if u != c.wantNATSURL {
			t.Errorf("NATS URLs %v, want %q everywhere", natsURLs, c.wantNATSURL)
			break
		}
	}
	if c.wantNATSURL == "" && len(natsURLs) > 0 {
		t.Errorf("embedded NATS expected, got NATS URLs %v", natsURLs)
	}
}

func envOf(ctr corev1.Container) map[string]corev1.EnvVar {
	m := map[string]corev1.EnvVar{}
	for _, e := range ctr.Env {
		m[e.Name] = e
	}
	return m
}

// secretEnv are the variables that carry secrets: only ever from a Secret.
var secretEnv = map[string]bool{"EPR_WEBHOOK_TOKEN": true, "EPR_WEBHOOK_GITHUB_SECRET": true, "EPR_OCI_PASSWORD": true, "EPR_OCI_USERNAME": true}

// runtimeEnv are the variables that are not flags but read by the Go runtime.
var runtimeEnv = map[string]bool{"GOMEMLIMIT": true}

func checkContainer(t *testing.T, ctr corev1.Container, volumes map[string]corev1.Volume, secrets map[string]string, c chartCase, manifestBins map[string]bool) string {
	t.Helper()
	if len(ctr.Command) != 1 || !strings.HasPrefix(ctr.Command[0], "/usr/local/bin/") {
		t.Fatalf("command %v: want one of the image's /usr/local/bin binaries", ctr.Command)
	}
	bin := filepath.Base(ctr.Command[0])
	if !manifestBins[bin] || bin == "healthcheck" || bin == "mirror" {
		t.Fatalf("runs %q, which the image does not hold as a service", bin)
	}
	sc := ctr.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0 {
		t.Errorf("security context %+v: want a read-only root, no privilege escalation, every capability dropped", sc)
	}
	if ctr.Resources.Requests.Memory().IsZero() || ctr.Resources.Limits.Memory().IsZero() || ctr.Resources.Requests.Cpu().IsZero() {
		t.Errorf("resources %+v: want cpu and memory requests and a memory limit", ctr.Resources)
	}

	// The environment, as the binary will see it, and checks on where each value comes from.
	flags := flagsOf(t, bin)
	envNames := map[string]bool{}
	for f := range flags {
		envNames[flagenv.EnvName(f)] = true
	}
	env := map[string]string{}
	for _, e := range ctr.Env {
		switch {
		case runtimeEnv[e.Name]:
			if e.ValueFrom == nil || e.ValueFrom.ResourceFieldRef == nil || e.ValueFrom.ResourceFieldRef.ContainerName != ctr.Name {
				t.Errorf("%s: want it from this container's resource limits", e.Name)
			}
			continue
		case !envNames[e.Name]:
			t.Errorf("%s: %s has no such flag; the variable would be ignored", e.Name, bin)
			continue
		}
		if secretEnv[e.Name] {
			if e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
				t.Errorf("%s: a secret, but not from a Secret: %+v", e.Name, e)
				continue
			}
		}
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		case e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			v, ok := secrets[ref.Name+"/"+ref.Key]
			if !ok {
				if !slices.Contains(c.external, ref.Name) {
					t.Errorf("%s: Secret %s key %s is neither rendered nor named as existing", e.Name, ref.Name, ref.Key)
				}
				v = "secret-from-" + ref.Name
			}
			env[e.Name] = v
		default:
			t.Errorf("%s: unexpected source %+v", e.Name, e.ValueFrom)
		}
	}

	// The binary's own parsing: each variable through its flag, then the args, stopped by -h.
	out, err := runWithHelp(t, bin, ctr.Args, env)
	if err != nil || !strings.Contains(out, "Usage of") {
		t.Errorf("%s %v rejects the container's args or environment (%v):\n%s", bin, ctr.Args, err, firstLines(out, 5))
	}

	// The webhook routes always have a token.
	serveWebhooks := bin == "webhook" || (bin == "api" && slices.Contains(ctr.Args, "-feature-oci-indexer"))
	if _, ok := env["EPR_WEBHOOK_TOKEN"]; serveWebhooks && !ok {
		t.Error("serves the webhook routes without EPR_WEBHOOK_TOKEN")
	}
	if bin == "api" && slices.Contains(ctr.Args, "-feature-oci-indexer") && env["EPR_OCI_REGISTRY"] == "" {
		t.Error("the all-in-one needs -oci-registry")
	}

	// Ports and probes: the address the binary listens on is the probed port.
	ports := map[string]int32{}
	for _, p := range ctr.Ports {
		ports[p.Name] = p.ContainerPort
	}
	listen := addrPort(t, "EPR_ADDRESS", env["EPR_ADDRESS"])
	if !slices.Contains(mapsValues(ports), listen) {
		t.Errorf("listens on %d, which is not a container port (%v)", listen, ports)
	}
	if m := env["EPR_METRICS_ADDRESS"]; m != "" {
		mp := addrPort(t, "EPR_METRICS_ADDRESS", m)
		if ports["metrics"] != mp || mp == listen {
			t.Errorf("metrics on %d; container port metrics is %d, service port %d", mp, ports["metrics"], listen)
		}
	} else if _, ok := ports["metrics"]; ok {
		t.Error("a metrics port is declared but metrics are off")
	}
	probes := map[string]struct {
		p    *corev1.Probe
		path string
	}{"startup": {ctr.StartupProbe, "/health"}, "liveness": {ctr.LivenessProbe, "/health"}, "readiness": {ctr.ReadinessProbe, "/health?ready=true"}}
	for kind, want := range probes {
		p := want.p
		if p == nil || p.HTTPGet == nil {
			t.Errorf("no HTTP %s probe", kind)
			continue
		}
		if p.HTTPGet.Path != want.path {
			t.Errorf("%s probe path %q, want %q", kind, p.HTTPGet.Path, want.path)
		}
		if port := probePort(p.HTTPGet.Port, ports); port != listen {
			t.Errorf("%s probe on port %d, the binary listens on %d", kind, port, listen)
		}
	}

	// Whatever the process writes is on a volume: the root filesystem is read-only.
	mounted := map[string]string{}
	for _, m := range ctr.VolumeMounts {
		if _, ok := volumes[m.Name]; !ok {
			t.Errorf("mount %s: no such volume", m.Name)
		}
		mounted[m.MountPath] = m.Name
	}
	if _, ok := mounted["/tmp"]; !ok {
		t.Error("/tmp is not a volume")
	}
	if d := env["EPR_DATA_DIR"]; d != "" && !underMount(d, mounted) {
		t.Errorf("data dir %s is on the read-only root filesystem", d)
	}
	if bin != "webhook" {
		dc, ok := env["EPR_OCI_DOCKER_CONFIG"]
		if !ok {
			t.Error("EPR_OCI_DOCKER_CONFIG unset: the binary would look in $HOME/.docker")
		}
		if dc != "" {
			dir := filepath.Dir(dc)
			v := volumes[mounted[dir]]
			if v.Secret == nil || len(v.Secret.Items) != 1 || v.Secret.Items[0].Key != corev1.DockerConfigJsonKey || v.Secret.Items[0].Path != filepath.Base(dc) {
				t.Errorf("docker config %s is not the .dockerconfigjson of a mounted Secret: %+v", dc, v)
			}
		}
	}
	return bin
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}

func mapsValues(m map[string]int32) []int32 {
	var out []int32
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func underMount(p string, mounts map[string]string) bool {
	for m := range mounts {
		if p == m || strings.HasPrefix(p, strings.TrimSuffix(m, "/")+"/") {
			return true
		}
	}
	return false
}

func addrPort(t *testing.T, name, addr string) int32 {
	t.Helper()
	i := strings.LastIndex(addr, ":")
	if i < 0 {
		t.Fatalf("%s=%q has no port", name, addr)
	}
	if addr[:i] != "" {
		t.Errorf("%s=%q listens on one interface only; probes and Services come from outside the container", name, addr)
	}
	p, err := strconv.Atoi(addr[i+1:])
	if err != nil {
		t.Fatalf("%s=%q: %v", name, addr, err)
	}
	return int32(p)
}

func probePort(p intstr.IntOrString, ports map[string]int32) int32 {
	if p.Type == intstr.Int {
		return p.IntVal
	}
	return ports[p.StrVal]
}

// checkServices: each Service selects exactly one workload and targets ports it declares.
func checkServices(t *testing.T, r *rendered) {
	t.Helper()
	for _, s := range r.services {
		sel := labels.SelectorFromSet(s.Spec.Selector)
		var matched []workload
		for _, w := range r.workloads() {
			if sel.Matches(labels.Set(w.tmpl.Labels)) {
				matched = append(matched, w)
			}
		}
		if len(matched) != 1 {
			t.Errorf("Service %s selects %d workloads, want 1", s.Name, len(matched))
			continue
		}
		ports := map[string]int32{}
		for _, c := range matched[0].tmpl.Spec.Containers {
			for _, p := range c.Ports {
				ports[p.Name] = p.ContainerPort
			}
		}
		for _, p := range s.Spec.Ports {
			if p.TargetPort.Type == intstr.String {
				if _, ok := ports[p.TargetPort.StrVal]; !ok {
					t.Errorf("Service %s port %s targets %q, which %s does not declare", s.Name, p.Name, p.TargetPort.StrVal, matched[0].name)
				}
			}
		}
	}
	names := map[string]bool{}
	for _, s := range r.services {
		names[s.Name] = true
	}
	for _, ing := range r.ingresses {
		for _, rule := range ing.Spec.Rules {
			for _, p := range rule.HTTP.Paths {
				if !names[p.Backend.Service.Name] {
					t.Errorf("Ingress %s routes to Service %s, which is not rendered", ing.Name, p.Backend.Service.Name)
				}
			}
		}
	}
}

// checkNoSecretLeaks: no value of a Secret, and none of the secrets the values gave, appears in
// any other object (ConfigMaps, env literals, args, annotations).
func checkNoSecretLeaks(t *testing.T, r *rendered) {
	t.Helper()
	secrets := []string{givenToken, givenGitHubSecret, givenRegistryAuth, b64(givenToken)}
	for _, v := range r.secretValues() {
		if len(v) >= 8 {
			secrets = append(secrets, v, b64(v))
		}
	}
	for i, doc := range r.docs {
		if strings.HasPrefix(r.names[i], "Secret/") {
			continue
		}
		for _, s := range secrets {
			if strings.Contains(doc, s) {
				t.Errorf("%s holds a secret value", r.names[i])
			}
		}
	}
}

// checkMonitoring: the ServiceMonitor selects the Services with a metrics port, and the alerts
// and the dashboard use only metric names the binaries export.
func checkMonitoring(t *testing.T, r *rendered) {
	t.Helper()
	known := metricNames(t)
	for _, m := range r.monitors {
		sel := labels.SelectorFromSet(m.Spec.Selector.MatchLabels)
		n := 0
		for _, s := range r.services {
			if !sel.Matches(labels.Set(s.Labels)) {
				continue
			}
			n++
			if !slices.ContainsFunc(s.Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == "metrics" }) {
				t.Errorf("ServiceMonitor selects %s, which has no metrics port", s.Name)
			}
		}
		want := 1 // all-in-one: the API Service
		if len(r.deployments) > 0 {
			want = 3
		}
		if n != want {
			t.Errorf("ServiceMonitor selects %d Services, want %d", n, want)
		}
	}
	alerts := map[string]bool{}
	for _, pr := range r.rules {
		for _, g := range pr.Spec.Groups {
			for _, rule := range g.Rules {
				alerts[rule.Alert] = true
				for _, name := range promMetrics(rule.Expr.String()) {
					if strings.HasPrefix(name, "epr_") && !known[name] {
						t.Errorf("alert %s uses %s, which no binary exports", rule.Alert, name)
					}
				}
			}
		}
	}
	if len(r.rules) > 0 {
		for _, a := range []string{"PackageRegistryIndexerNotReady", "PackageRegistryRejectedArtifactsRising", "PackageRegistryReplicaLag", "PackageRegistryWebhook5xx"} {
			if !alerts[a] {
				t.Errorf("no alert %s", a)
			}
		}
	}
	for _, cm := range r.configMaps {
		for k, v := range cm.Data {
			if strings.HasSuffix(k, ".json") {
				checkDashboard(t, []byte(v), known)
			}
		}
	}
}

// TestDashboard checks the dashboard file as Grafana users import it without Kubernetes.
func TestDashboard(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(chartDir, "dashboards", "package-registry.json"))
	if err != nil {
		t.Fatal(err)
	}
	checkDashboard(t, data, metricNames(t))
}

func checkDashboard(t *testing.T, data []byte, known map[string]bool) {
	t.Helper()
	var d struct {
		Title  string `json:"title"`
		UID    string `json:"uid"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	if d.Title == "" || d.UID == "" || len(d.Panels) == 0 {
		t.Fatalf("dashboard without title, uid or panels")
	}
	used := map[string]bool{}
	for _, p := range d.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			for _, name := range promMetrics(tg.Expr) {
				used[name] = true
				if strings.HasPrefix(name, "epr_") && !known[name] {
					t.Errorf("panel %q uses %s, which no binary exports", p.Title, name)
				}
			}
		}
	}
	for _, must := range []string{"epr_http_requests_total", "epr_webhook_requests_total", "epr_indexer_rejected_artifacts_total", "epr_index_revision"} {
		if !used[must] {
			t.Errorf("the dashboard does not show %s", must)
		}
	}
}

// checkNetworkPolicies: in the distributed shape the webhook port is open only to the peers
// the values name, and never to everyone (a rule without peers).
func checkNetworkPolicies(t *testing.T, r *rendered, c chartCase) {
	t.Helper()
	for _, np := range r.netPols {
		if !slices.Contains(np.Spec.PolicyTypes, "Ingress") {
			t.Errorf("%s: not an ingress policy", np.Name)
		}
		for _, rule := range np.Spec.Ingress {
			if len(rule.From) == 0 {
				t.Errorf("%s: a rule open to every source: %+v", np.Name, rule)
			}
		}
		if strings.Contains(c.values, "ipBlock") {
			if !strings.Contains(fmt.Sprint(np.Spec.Ingress), "140.82.112.0/20") {
				t.Errorf("%s: the registry's peers from the values are missing", np.Name)
			}
		}
	}
}
