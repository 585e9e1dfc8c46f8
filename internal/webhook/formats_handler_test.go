package webhook_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"

	"github.com/oci-epr/package-registry/internal/webhook"
)

func githubSign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// TestFormatRoutes checks each vendor route's authentication and outcome through the real
// handler: the bearer token everywhere, GitLab's bare token on the distribution route only,
// and GitHub's body signature instead of the token.
func TestFormatRoutes(t *testing.T) {
	r := newHandlerRig(t)
	bearer := "Bearer " + testToken
	jsonHeader := http.Header{"Content-Type": {"application/json"}}
	ceHeader := http.Header{"Content-Type": {webhook.CloudEventsMediaType}}
	gitlabHeader := http.Header{"Content-Type": {webhook.DistributionMediaType}}
	harborPush := readTestdata(t, "harbor-push-artifact-tag.json")
	harborCE := readTestdata(t, "harbor-cloudevents-artifact-pushed.json")
	gitlabPush := readTestdata(t, "gitlab-push-manifest-tag.json")
	artifactoryPush := readTestdata(t, "artifactory-docker-pushed.json")
	ghHeader, ghBody := zotRequest(t, "github-registry-package-published-tag.http")
	signedAs := func(base http.Header, secret string, body []byte) http.Header {
		h := base.Clone()
		h.Set("X-Hub-Signature-256", githubSign(secret, body))
		return h
	}
	signed := func(secret string, body []byte) http.Header { return signedAs(ghHeader, secret, body) }
	unsigned := ghHeader.Clone()
	unsigned.Del("X-Hub-Signature-256")
	pingHeader, pingBody := zotRequest(t, "github-ping.http")

	tests := []struct {
		name      string
		req       request
		code      int
		published int
	}{
		{"harbor without token", request{path: webhook.HarborPath, header: jsonHeader, body: harborPush}, 401, 0},
		{"harbor bare token", request{path: webhook.HarborPath, header: withAuth(jsonHeader, testToken), body: harborPush}, 401, 0},
		{"harbor push", request{path: webhook.HarborPath, header: withAuth(jsonHeader, bearer), body: harborPush}, 200, 1},
		{"harbor push redelivered", request{path: webhook.HarborPath, header: withAuth(jsonHeader, bearer), body: harborPush}, 200, 1},
		{"harbor cloudevents push", request{path: webhook.HarborPath, header: withAuth(ceHeader, bearer), body: harborCE}, 200, 1},
		{"harbor pull ignored", request{path: webhook.HarborPath, header: withAuth(jsonHeader, bearer), body: readTestdata(t, "harbor-pull-artifact.json")}, 200, 0},
		{"harbor malformed", request{path: webhook.HarborPath, header: withAuth(jsonHeader, bearer), body: harborPush[:40]}, 400, 0},

		{"gitlab bare token", request{path: webhook.DistributionPath, header: withAuth(gitlabHeader, testToken), body: gitlabPush}, 200, 1},
		{"gitlab wrong bare token", request{path: webhook.DistributionPath, header: withAuth(gitlabHeader, "wrong-token-123"), body: gitlabPush}, 401, 0},
		{"gitlab bare token with a space", request{path: webhook.DistributionPath, header: withAuth(gitlabHeader, "x "+testToken), body: gitlabPush}, 401, 0},

		{"github signed", request{path: webhook.GitHubPath, header: signed(testGitHubSecret, ghBody), body: ghBody}, 200, 1},
		{"github signed with another secret", request{path: webhook.GitHubPath, header: signed("other-secret", ghBody), body: ghBody}, 401, 0},
		{"github unsigned with the bearer token", request{path: webhook.GitHubPath, header: withAuth(unsigned, bearer), body: ghBody}, 401, 0},
		{"github body changed after signing", request{path: webhook.GitHubPath, header: signed(testGitHubSecret, ghBody),
			body: []byte(strings.Replace(string(ghBody), "1.0.0", "6.6.6", 1))}, 401, 0},
		{"github ping", request{path: webhook.GitHubPath, header: signedAs(pingHeader, testGitHubSecret, pingBody), body: pingBody}, 200, 0},
		{"github ping unsigned", request{path: webhook.GitHubPath, header: pingHeader, body: pingBody[:0]}, 401, 0},

		{"artifactory without token", request{path: webhook.ArtifactoryPath, header: jsonHeader, body: artifactoryPush}, 401, 0},
		{"artifactory push", request{path: webhook.ArtifactoryPath, header: withAuth(jsonHeader, bearer), body: artifactoryPush}, 200, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, before := r.pub.counts()
			rec := r.do(t, tt.req)
			if rec.Code != tt.code {
				t.Fatalf("status %d (%q), want %d", rec.Code, rec.Body.String(), tt.code)
			}
			if _, after := r.pub.counts(); after-before != tt.published {
				t.Errorf("published %d events, want %d", after-before, tt.published)
			}
		})
	}
	// Redeliveries are stored once: harbor (body-hash id), harbor CloudEvents, gitlab, github, artifactory.
	if got := streamContents(t, t.Context(), r.nats.js); len(got) != 5 {
		t.Errorf("stream holds %d messages, want 5: %+v", len(got), got)
	}
	logs := r.logs.String()
	for _, secret := range []string{testToken, testGitHubSecret, "wrong-token-123", githubSign(testGitHubSecret, ghBody)} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain %q", secret)
		}
	}
}
