package helm

import (
	"encoding/base64"
	"sort"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// rendered is one `helm template`, every object decoded into its API type.
type rendered struct {
	names        []string // Kind/name, in render order
	deployments  []appsv1.Deployment
	statefulSets []appsv1.StatefulSet
	services     []corev1.Service
	secrets      []corev1.Secret
	configMaps   []corev1.ConfigMap
	ingresses    []networkingv1.Ingress
	netPols      []networkingv1.NetworkPolicy
	hpas         []autoscalingv2.HorizontalPodAutoscaler
	pdbs         []policyv1.PodDisruptionBudget
	monitors     []monitoringv1.ServiceMonitor
	rules        []monitoringv1.PrometheusRule
	docs         []string
}

// workload is a Deployment's or StatefulSet's pod template.
type workload struct {
	kind, name string
	tmpl       corev1.PodTemplateSpec
	claims     []corev1.PersistentVolumeClaim
}

func (r *rendered) workloads() []workload {
	var ws []workload
	for _, d := range r.deployments {
		ws = append(ws, workload{kind: "Deployment", name: d.Name, tmpl: d.Spec.Template})
	}
	for _, s := range r.statefulSets {
		ws = append(ws, workload{kind: "StatefulSet", name: s.Name, tmpl: s.Spec.Template, claims: s.Spec.VolumeClaimTemplates})
	}
	return ws
}

// secretValues maps "secret/key" to the decoded value of every rendered Secret.
func (r *rendered) secretValues() map[string]string {
	m := map[string]string{}
	for _, s := range r.secrets {
		for k, v := range s.Data {
			m[s.Name+"/"+k] = string(v)
		}
		for k, v := range s.StringData {
			m[s.Name+"/"+k] = v
		}
	}
	return m
}

// decodeStrict decodes one YAML document into out, failing on unknown or duplicate fields.
func decodeStrict(doc string, out any) error {
	return yaml.UnmarshalStrict([]byte(doc), out)
}

// render runs helm template with the values and decodes the result.
func render(t *testing.T, values string, extra ...string) *rendered {
	t.Helper()
	out, err := renderRaw(t, values, extra...)
	if err != nil {
		t.Fatal(err)
	}
	return decodeAll(t, out)
}

func renderRaw(t *testing.T, values string, extra ...string) (string, error) {
	t.Helper()
	args := append([]string{"template", release, chartCopy, "--namespace", namespace, "-f", valuesFile(t, values)}, extra...)
	return helm(t, args...)
}

func decodeAll(t *testing.T, out string) *rendered {
	t.Helper()
	r := &rendered{}
	for _, doc := range splitDocs(out) {
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
			t.Fatalf("%s: %v\n%s", source(doc), err, doc)
		}
		var meta struct {
			Metadata metav1.ObjectMeta `json:"metadata"`
		}
		_ = yaml.Unmarshal([]byte(doc), &meta)
		r.names = append(r.names, tm.Kind+"/"+meta.Metadata.Name)
		r.docs = append(r.docs, doc)
		var err error
		switch tm.APIVersion + " " + tm.Kind {
		case "apps/v1 Deployment":
			var o appsv1.Deployment
			err = decodeStrict(doc, &o)
			r.deployments = append(r.deployments, o)
		case "apps/v1 StatefulSet":
			var o appsv1.StatefulSet
			err = decodeStrict(doc, &o)
			r.statefulSets = append(r.statefulSets, o)
		case "v1 Service":
			var o corev1.Service
			err = decodeStrict(doc, &o)
			r.services = append(r.services, o)
		case "v1 Secret":
			var o corev1.Secret
			err = decodeStrict(doc, &o)
			r.secrets = append(r.secrets, o)
		case "v1 ConfigMap":
			var o corev1.ConfigMap
			err = decodeStrict(doc, &o)
			r.configMaps = append(r.configMaps, o)
		case "v1 ServiceAccount":
			var o corev1.ServiceAccount
			err = decodeStrict(doc, &o)
		case "networking.k8s.io/v1 Ingress":
			var o networkingv1.Ingress
			err = decodeStrict(doc, &o)
			r.ingresses = append(r.ingresses, o)
		case "networking.k8s.io/v1 NetworkPolicy":
			var o networkingv1.NetworkPolicy
			err = decodeStrict(doc, &o)
			r.netPols = append(r.netPols, o)
		case "autoscaling/v2 HorizontalPodAutoscaler":
			var o autoscalingv2.HorizontalPodAutoscaler
			err = decodeStrict(doc, &o)
			r.hpas = append(r.hpas, o)
		case "policy/v1 PodDisruptionBudget":
			var o policyv1.PodDisruptionBudget
			err = decodeStrict(doc, &o)
			r.pdbs = append(r.pdbs, o)
		case "monitoring.coreos.com/v1 ServiceMonitor":
			var o monitoringv1.ServiceMonitor
			err = decodeStrict(doc, &o)
			r.monitors = append(r.monitors, o)
		case "monitoring.coreos.com/v1 PrometheusRule":
			var o monitoringv1.PrometheusRule
			err = decodeStrict(doc, &o)
			r.rules = append(r.rules, o)
		default:
			t.Fatalf("%s: %s %s is not a kind this test knows; add it to decodeAll", source(doc), tm.APIVersion, tm.Kind)
		}
		if err != nil {
			t.Fatalf("%s (%s): strict decoding into the API type: %v", source(doc), tm.Kind, err)
		}
	}
	return r
}

// kinds counts the rendered objects per kind, for a compact list.
func (r *rendered) summary() string {
	sorted := append([]string(nil), r.names...)
	sort.Strings(sorted)
	return strings.Join(sorted, ", ")
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
