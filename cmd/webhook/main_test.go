package main

import (
	"reflect"
	"testing"
	"time"

	"github.com/oci-epr/package-registry/internal/events"
	"github.com/oci-epr/package-registry/internal/service"
	"github.com/oci-epr/package-registry/internal/testkit"
)

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want options
		err  string
	}{
		{name: "defaults", want: options{address: "localhost:8081", natsURL: "nats://localhost:4222", webhook: service.WebhookOptions{
			MaxBodyBytes: 1 << 20, MaxRepositories: 100, BodyTimeout: 10 * time.Second, PublishTimeout: 5 * time.Second, Stream: events.StreamOptions{Replicas: 1},
		}, logLevel: "info", logType: "ecs"}},
		{name: "environment, flags win",
			args: []string{"-address", ":9000", "-log-type", "dev", "-nats-replicas", "3"},
			env: map[string]string{"EPR_ADDRESS": ":1", "EPR_WEBHOOK_TOKEN": "t0k", "EPR_NATS_URL": "nats://n:4222",
				"EPR_MAX_BODY_BYTES": "2048", "EPR_PUBLISH_TIMEOUT": "2s", "EPR_WEBHOOK_MAX_REPOSITORIES": "7", "EPR_WEBHOOK_ALLOW_UNAUTHENTICATED": "true", "EPR_METRICS_ADDRESS": ":9100", "EPR_LOG_LEVEL": "debug"},
			want: options{address: ":9000", natsURL: "nats://n:4222", metricsAddress: ":9100", webhook: service.WebhookOptions{
				Token: "t0k", AllowUnauthenticated: true, MaxBodyBytes: 2048, MaxRepositories: 7, BodyTimeout: 10 * time.Second, PublishTimeout: 2 * time.Second, Stream: events.StreamOptions{Replicas: 3},
			}, logLevel: "debug", logType: "dev"}},
		{name: "token on the command line", args: []string{"-webhook-token=t0k"}, want: options{address: "localhost:8081", natsURL: "nats://localhost:4222", webhook: service.WebhookOptions{
			Token: "t0k", MaxBodyBytes: 1 << 20, MaxRepositories: 100, BodyTimeout: 10 * time.Second, PublishTimeout: 5 * time.Second, Stream: events.StreamOptions{Replicas: 1},
		}, logLevel: "info", logType: "ecs", tokenInArgs: true}},
		{name: "GitHub secret from the environment and on the command line", args: []string{"-webhook-github-secret", "gh2"},
			env: map[string]string{"EPR_WEBHOOK_GITHUB_SECRET": "gh1"},
			want: options{address: "localhost:8081", natsURL: "nats://localhost:4222", webhook: service.WebhookOptions{
				GitHubSecret: "gh2", MaxBodyBytes: 1 << 20, MaxRepositories: 100, BodyTimeout: 10 * time.Second, PublishTimeout: 5 * time.Second, Stream: events.StreamOptions{Replicas: 1},
			}, logLevel: "info", logType: "ecs", githubSecretInArgs: true}},
		{name: "GitHub secret from the environment", env: map[string]string{"EPR_WEBHOOK_GITHUB_SECRET": "gh1"},
			want: options{address: "localhost:8081", natsURL: "nats://localhost:4222", webhook: service.WebhookOptions{
				GitHubSecret: "gh1", MaxBodyBytes: 1 << 20, MaxRepositories: 100, BodyTimeout: 10 * time.Second, PublishTimeout: 5 * time.Second, Stream: events.StreamOptions{Replicas: 1},
			}, logLevel: "info", logType: "ecs"}},
		{name: "bad env value", env: map[string]string{"EPR_PUBLISH_TIMEOUT": "soon"}, err: "-publish-timeout"},
		{name: "stray argument", args: []string{"serve"}, err: "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseFlags(tt.args, testkit.Env(tt.env))
			if testkit.WantErr(t, err, tt.err) {
				return
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}
