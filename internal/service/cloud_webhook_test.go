package service

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oci-epr/package-registry/internal/packages/packagetest"
	"github.com/oci-epr/package-registry/internal/webhook"
)

// pushed is what the vendor notification for one push names.
type pushed struct {
	host, repository, tag, digest string
	at                            time.Time
}

// TestWebhookFormatsEndToEnd pushes a package to the in-process registry, which notifies
// nobody, posts the notification each vendor would send for that push to our route in its
// format, and waits for the package in /search: the format's mapping onto repository and tag
// is what makes it appear, as no resync runs.
func TestWebhookFormatsEndToEnd(t *testing.T) {
	s := startStackWith(t, stackOptions{hooks: WebhookOptions{Token: testToken}, quiet: true})
	query := "?" + webhook.TokenParameter + "=" + url.QueryEscape(testToken)
	bearer := http.Header{"Authorization": {"Bearer " + testToken}}
	const manifestType = "application/vnd.oci.image.manifest.v1+json"
	tests := []struct {
		format      string
		path        string
		header      http.Header
		contentType string
		body        func(p pushed) any
	}{
		{format: "quay", path: webhook.QuayPath + query, contentType: "application/json", body: func(p pushed) any {
			return map[string]any{"repository": p.repository, "docker_url": p.host + "/" + p.repository,
				"namespace": "packages", "updated_tags": []string{p.tag}}
		}},
		{format: "dockerhub", path: webhook.DockerHubPath + query, contentType: "application/json", body: func(p pushed) any {
			return map[string]any{"push_data": map[string]any{"pushed_at": p.at.Unix(), "pusher": "ci", "tag": p.tag},
				"repository": map[string]any{"repo_name": p.repository}}
		}},
		{format: "acr", path: webhook.ACRPath, header: bearer, contentType: "application/json", body: func(p pushed) any {
			return acrEvent(p, manifestType)
		}},
		{format: "eventgrid", path: webhook.EventGridPath + query, contentType: "application/json", body: func(p pushed) any {
			return []any{map[string]any{"id": "eg-" + p.tag, "topic": "/subscriptions/x/registries/acme", "subject": p.repository + ":" + p.tag,
				"eventType": webhook.EventGridImagePushed, "eventTime": p.at.Format(time.RFC3339Nano), "data": acrEvent(p, manifestType),
				"dataVersion": "1.0", "metadataVersion": "1"}}
		}},
		{format: "eventgrid-cloudevents", path: webhook.EventGridPath + query, contentType: webhook.CloudEventsMediaType + "; charset=utf-8", body: func(p pushed) any {
			return map[string]any{"specversion": "1.0", "id": "ce-" + p.tag, "source": "/subscriptions/x/registries/acme",
				"type": webhook.EventGridImagePushed, "time": p.at.Format(time.RFC3339Nano), "data": acrEvent(p, manifestType)}
		}},
		{format: "gar", path: webhook.GARPath + query, contentType: "application/json", body: func(p pushed) any {
			ref := p.host + "/" + p.repository
			data, _ := json.Marshal(map[string]string{"action": "INSERT", "digest": ref + "@" + p.digest, "tag": ref + ":" + p.tag})
			return map[string]any{"message": map[string]any{"data": base64.StdEncoding.EncodeToString(data),
				"messageId": "m-" + p.tag, "publishTime": p.at.Format(time.RFC3339Nano)}, "subscription": "projects/acme/subscriptions/epr"}
		}},
	}
	integration := packagetest.Integration()
	repository := "packages/" + integration.Name
	for i, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			spec := integration
			spec.Version = fmt.Sprintf("2.%d.0", i)
			start := time.Now()
			desc, err := s.client.PushPackage(s.ctx, repository, spec.Version, packagetest.Build(spec), nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			// Nothing tells the indexer about the push but the notification below.
			time.Sleep(50 * time.Millisecond)
			if items, _, _ := search(t, s.base, "all=true"); has(items, spec.Name, spec.Version) {
				t.Fatal("the package is visible before any notification")
			}
			body, err := json.Marshal(tt.body(pushed{host: s.reg.Host(), repository: repository, tag: spec.Version,
				digest: desc.Digest.String(), at: time.Now().UTC()}))
			if err != nil {
				t.Fatal(err)
			}
			notified := time.Now()
			req, err := http.NewRequest(http.MethodPost, s.base+tt.path, bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.header {
				req.Header[k] = v
			}
			req.Header.Set("Content-Type", tt.contentType)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			answer, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || string(answer) != "ok" {
				t.Fatalf("notification answered %d %q", resp.StatusCode, answer)
			}
			s.eventually(tt.format+" push in /search", 10*time.Second, func() bool {
				items, _, _ := search(t, s.base, "all=true")
				return has(items, spec.Name, spec.Version)
			})
			// The push-to-visible figure includes the 50ms wait above.
			t.Logf("%s: push start → visible in /search: %v (notification → visible: %v)", tt.format,
				time.Since(start).Round(time.Millisecond), time.Since(notified).Round(time.Millisecond))
		})
	}

	t.Run("no token", func(t *testing.T) {
		resp, err := http.Post(s.base+webhook.QuayPath, "application/json", strings.NewReader(`{"repository":"`+repository+`","updated_tags":["9.9.9"]}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
	t.Run("event grid handshake on the API's server", func(t *testing.T) {
		req, err := http.NewRequest(http.MethodOptions, s.base+webhook.EventGridPath+query, nil)
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
	})
}

// acrEvent is an ACR event for a push, as its webhooks send it and Event Grid carries it.
func acrEvent(p pushed, mediaType string) map[string]any {
	return map[string]any{"id": "acr-" + p.tag, "timestamp": p.at.Format(time.RFC3339Nano), "action": "push",
		"target":  map[string]any{"mediaType": mediaType, "digest": p.digest, "repository": p.repository, "tag": p.tag},
		"request": map[string]any{"host": p.host, "method": "PUT"}}
}
