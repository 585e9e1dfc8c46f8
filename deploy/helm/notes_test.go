package helm

import (
	"strings"
	"testing"
)

// TestNotes: what `helm install` prints tells Kibana where the API is and the registry where
// to send its notifications, for the chosen registry.
func TestNotes(t *testing.T) {
	tests := []struct {
		name, values string
		want         []string
		not          []string
	}{
		{
			name:   "allInOne distribution",
			values: readCI("allinone-values.yaml"),
			want: []string{
				`xpack.fleet.registryUrl: "http://epr-package-registry.fleet.svc:80"`,
				"url: http://epr-package-registry-webhook.fleet.svc:8081/webhooks/distribution",
				"Authorization: [Bearer <token>]",
				"kubectl -n fleet get secret epr-package-registry-webhook -o jsonpath='{.data.token}' | base64 -d",
				"no NetworkPolicy can tell them apart",
			},
		},
		{
			name: "distributed harbor behind ingresses",
			values: `mode: distributed
nats: {url: "nats://nats.nats.svc:4222", streamReplicas: 3}
registry: {url: "https://harbor.example.com", kind: harbor}
api: {ingress: {enabled: true, host: epr.example.com, tls: [{hosts: [epr.example.com]}]}}
webhook: {ingress: {enabled: true, host: hooks.example.com}, token: {existingSecret: hooks, existingSecretKey: t}}
`,
			want: []string{
				`xpack.fleet.registryUrl: "https://epr.example.com"`,
				"http://hooks.example.com/webhooks/harbor",
				`auth header "Bearer <token>"`,
				"get secret hooks -o jsonpath='{.data.t}'",
				"-nats-replicas 3 on every role",
			},
			not: []string{"generated at install"},
		},
		{
			name:   "github without its secret warns",
			values: "registry: {url: https://ghcr.io, kind: github}\n",
			want:   []string{"/webhooks/github", "WARNING: webhook.githubSecret is not set"},
		},
		{
			name:   "zot",
			values: "registry: {url: http://zot:5000, kind: zot}\n",
			want:   []string{"/webhooks/zot", "credentials.token"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := helm(t, "install", release, chartCopy, "--dry-run=client", "--namespace", namespace, "-f", valuesFile(t, tt.values))
			if err != nil {
				t.Fatal(err)
			}
			i := strings.Index(out, "NOTES:")
			if i < 0 {
				t.Fatalf("no NOTES in:\n%s", out)
			}
			notes := out[i:]
			for _, w := range tt.want {
				if !strings.Contains(notes, w) {
					t.Errorf("NOTES lack %q:\n%s", w, notes)
				}
			}
			for _, w := range tt.not {
				if strings.Contains(notes, w) {
					t.Errorf("NOTES say %q:\n%s", w, notes)
				}
			}
		})
	}
}
