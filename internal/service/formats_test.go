package service

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oci-epr/package-registry/internal/packages/packagetest"
	"github.com/oci-epr/package-registry/internal/webhook"
)

const formatsGitHubSecret = "gh-e2e-secret-do-not-log"

// pushed is what a test pushed: where the registry holds it, as the vendors' payloads name it.
type pushed struct {
	host       string // the registry's host:port
	base       string // the project / namespace / repo key: the configured base repository
	name       string // the image name under it
	tag        string
	digest     string
	repository string // base + "/" + name
	at         time.Time
}

// notification is one vendor-format request about a push.
type notification struct {
	path   string
	header http.Header
	body   []byte
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// webhookFormats builds, for each format, the notification its vendor sends for a push, shaped
// as in the fixtures under internal/webhook/testdata.
var webhookFormats = []struct {
	name   string
	notify func(t *testing.T, p pushed) notification
}{
	{"harbor", func(t *testing.T, p pushed) notification {
		body := mustJSON(t, map[string]any{
			"type": "PUSH_ARTIFACT", "occur_at": time.Now().Unix(), "operator": "ci",
			"event_data": map[string]any{
				"resources":  []any{map[string]any{"digest": p.digest, "tag": p.tag, "resource_url": p.host + "/" + p.repository + ":" + p.tag}},
				"repository": map[string]any{"name": p.name, "namespace": p.base, "repo_full_name": p.repository, "repo_type": "private"},
			},
		})
		return notification{webhook.HarborPath, http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer " + testToken}}, body}
	}},
	{"harbor-cloudevents", func(t *testing.T, p pushed) notification {
		body := mustJSON(t, map[string]any{
			"specversion": "1.0", "id": "e2e-" + p.name, "source": "/projects/1/webhook/policies/1", "type": "harbor.artifact.pushed",
			"datacontenttype": "application/json", "time": time.Now().UTC().Format(time.RFC3339),
			"data": map[string]any{
				"resources":  []any{map[string]any{"digest": p.digest, "tag": p.tag, "resource_url": p.host + "/" + p.repository + ":" + p.tag}},
				"repository": map[string]any{"name": p.name, "namespace": p.base, "repo_full_name": p.repository},
			},
			"operator": "ci",
		})
		return notification{webhook.HarborPath, http.Header{"Content-Type": {"application/cloudevents+json"}, "Authorization": {"Bearer " + testToken}}, body}
	}},
	{"github", func(t *testing.T, p pushed) notification {
		body := mustJSON(t, map[string]any{
			"action": "published",
			"registry_package": map[string]any{
				"name": p.name, "package_type": "CONTAINER", "ecosystem": "CONTAINER", "owner": map[string]any{"login": p.base},
				"updated_at": time.Now().UTC().Format(time.RFC3339),
				"package_version": map[string]any{
					"package_url":        "ghcr.io/" + p.repository + ":" + p.tag,
					"container_metadata": map[string]any{"tag": map[string]any{"name": p.tag, "digest": p.digest}},
				},
			},
		})
		mac := hmac.New(sha256.New, []byte(formatsGitHubSecret))
		mac.Write(body)
		return notification{webhook.GitHubPath, http.Header{
			"Content-Type":        {"application/json"},
			"X-Github-Event":      {"registry_package"},
			"X-Github-Delivery":   {"e2e-" + p.name},
			"X-Hub-Signature-256": {"sha256=" + hex.EncodeToString(mac.Sum(nil))},
		}, body}
	}},
	{"gitlab", func(t *testing.T, p pushed) notification {
		body := mustJSON(t, map[string]any{"events": []any{map[string]any{
			"id": "e2e-" + p.name, "timestamp": time.Now().UTC().Format(time.RFC3339Nano), "action": "push",
			"target": map[string]any{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": p.digest,
				"repository": p.repository, "tag": p.tag},
			"request": map[string]any{"host": p.host, "method": "PUT"},
		}}})
		// GitLab sends its notification secret as the bare Authorization value.
		return notification{webhook.DistributionPath, http.Header{"Content-Type": {webhook.DistributionMediaType}, "Authorization": {testToken}}, body}
	}},
	{"artifactory", func(t *testing.T, p pushed) notification {
		body := mustJSON(t, map[string]any{
			"domain": "docker", "event_type": "pushed", "jpd_origin": "http://" + p.host,
			"data": map[string]any{"repo_key": p.base, "image_name": p.name, "tag": p.tag, "event_type": "pushed",
				"name": "manifest.json", "path": p.name + "/" + p.tag + "/manifest.json", "sha256": p.digest[len("sha256:"):]},
		})
		return notification{webhook.ArtifactoryPath, http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer " + testToken}}, body}
	}},
	{"quay", func(t *testing.T, p pushed) notification {
		body := mustJSON(t, map[string]any{"repository": p.repository, "docker_url": p.host + "/" + p.repository,
			"namespace": p.base, "updated_tags": []string{p.tag}})
		return notification{webhook.QuayPath + queryToken, http.Header{"Content-Type": {"application/json"}}, body}
	}},
	{"dockerhub", func(t *testing.T, p pushed) notification {
		body := mustJSON(t, map[string]any{"push_data": map[string]any{"pushed_at": p.at.Unix(), "pusher": "ci", "tag": p.tag},
			"repository": map[string]any{"repo_name": p.repository}})
		return notification{webhook.DockerHubPath + queryToken, http.Header{"Content-Type": {"application/json"}}, body}
	}},
	{"acr", func(t *testing.T, p pushed) notification {
		return notification{webhook.ACRPath, http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer " + testToken}},
			mustJSON(t, acrEvent(p))}
	}},
	{"eventgrid", func(t *testing.T, p pushed) notification {
		body := mustJSON(t, []any{map[string]any{"id": "eg-" + p.name, "topic": "/subscriptions/x/registries/acme", "subject": p.repository + ":" + p.tag,
			"eventType": webhook.EventGridImagePushed, "eventTime": p.at.Format(time.RFC3339Nano), "data": acrEvent(p),
			"dataVersion": "1.0", "metadataVersion": "1"}})
		return notification{webhook.EventGridPath + queryToken, http.Header{"Content-Type": {"application/json"}}, body}
	}},
	{"eventgrid-cloudevents", func(t *testing.T, p pushed) notification {
		body := mustJSON(t, map[string]any{"specversion": "1.0", "id": "ce-" + p.name, "source": "/subscriptions/x/registries/acme",
			"type": webhook.EventGridImagePushed, "time": p.at.Format(time.RFC3339Nano), "data": acrEvent(p)})
		return notification{webhook.EventGridPath + queryToken, http.Header{"Content-Type": {webhook.CloudEventsMediaType + "; charset=utf-8"}}, body}
	}},
	{"gar", func(t *testing.T, p pushed) notification {
		ref := p.host + "/" + p.repository
		data := mustJSON(t, map[string]string{"action": "INSERT", "digest": ref + "@" + p.digest, "tag": ref + ":" + p.tag})
		body := mustJSON(t, map[string]any{"message": map[string]any{"data": base64.StdEncoding.EncodeToString(data),
			"messageId": "m-" + p.name, "publishTime": p.at.Format(time.RFC3339Nano)}, "subscription": "projects/acme/subscriptions/epr"})
		return notification{webhook.GARPath + queryToken, http.Header{"Content-Type": {"application/json"}}, body}
	}},
}

// queryToken is the token as the registries that cannot send a header pass it.
var queryToken = "?" + webhook.TokenParameter + "=" + url.QueryEscape(testToken)

// acrEvent is an ACR event for a push, as its webhooks send it and Event Grid carries it.
func acrEvent(p pushed) map[string]any {
	return map[string]any{"id": "acr-" + p.name, "timestamp": p.at.Format(time.RFC3339Nano), "action": "push",
		"target":  map[string]any{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": p.digest, "repository": p.repository, "tag": p.tag},
		"request": map[string]any{"host": p.host, "method": "PUT"}}
}

// TestWebhookFormatsEndToEnd pushes a package per format to a registry that notifies nobody,
// posts the vendor's notification for that push to the all-in-one server's route, and waits
// for the package in /search: the format's repository and tag mapped onto the configured
// registry and base repository.
func TestWebhookFormatsEndToEnd(t *testing.T) {
	s := startStackWith(t, stackOptions{noNotifications: true,
		hooks: WebhookOptions{Token: testToken, GitHubSecret: formatsGitHubSecret}})
	for i, f := range webhookFormats {
		t.Run(f.name, func(t *testing.T) {
			spec := packagetest.Integration()
			spec.Name = fmt.Sprintf("format_%d", i)
			p := pushed{host: s.reg.Host(), base: "packages", name: spec.Name, tag: spec.Version, repository: "packages/" + spec.Name, at: time.Now().UTC()}
			start := time.Now()
			desc, err := s.client.PushPackage(s.ctx, p.repository, p.tag, packagetest.Build(spec), nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			p.digest = desc.Digest.String()
			// Nothing else tells the indexer: the registry sends no notifications.
			if items, _, _ := search(t, s.base, "all=true"); has(items, spec.Name, spec.Version) {
				t.Fatal("package visible before its notification")
			}
			n := f.notify(t, p)
			unsigned := n.header.Clone()
			unsigned.Del("Authorization")
			unsigned.Del("X-Hub-Signature-256")
			path, _, _ := strings.Cut(n.path, "?")
			if code, body := httpDo(t, http.MethodPost, s.base+path, unsigned, n.body); code != http.StatusUnauthorized {
				t.Fatalf("unauthenticated notification: %d %s", code, body)
			}
			if code, body := httpDo(t, http.MethodPost, s.base+n.path, n.header, n.body); code != http.StatusOK || body != "ok" {
				t.Fatalf("notification: %d %s", code, body)
			}
			s.eventually(f.name+" push in /search", 10*time.Second, func() bool {
				items, _, _ := search(t, s.base, "all=true")
				return has(items, spec.Name, spec.Version)
			})
			t.Logf("%s: push start → visible in /search: %v", f.name, time.Since(start).Round(time.Millisecond))
		})
	}
}

// Event Grid's CloudEvents delivery handshake is answered on the all-in-one server too.
func TestEventGridHandshakeOnTheAPIServer(t *testing.T) {
	s := startStackWith(t, stackOptions{hooks: WebhookOptions{Token: testToken}, noNotifications: true})
	req, err := http.NewRequest(http.MethodOptions, s.base+webhook.EventGridPath+queryToken, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("WebHook-Request-Origin", "eventgrid.azure.net")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("WebHook-Allowed-Origin") != "eventgrid.azure.net" {
		t.Fatalf("status %d, WebHook-Allowed-Origin %q", resp.StatusCode, resp.Header.Get("WebHook-Allowed-Origin"))
	}
}
