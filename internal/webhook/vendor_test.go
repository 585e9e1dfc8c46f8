package webhook

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/oci-epr/package-registry/internal/events"
)

const (
	digestHarborAlpine = "sha256:954b378c375d852eb3c63ab88978f640b4348b01c1b3456a024a81536dafbbf4"
	digestHarbor38     = "sha256:2bb501e6173d9d006e56de5bce2720eb06396803300fe1687b58a7ff32bf4c14"
)

// vendorFixture is how to parse one vendor fixture: its parser and the headers it came with.
type vendorFixture struct {
	parse  parser
	header http.Header
}

// loadVendorFixture reads a fixture: .http files carry their own headers, .json files are a
// body only and get the Content-Type their format's README line names.
func loadVendorFixture(t testing.TB, path string) (parser, http.Header, []byte) {
	t.Helper()
	name := filepath.Base(path)
	var p parser
	header := http.Header{"Content-Type": {"application/json"}}
	switch {
	case strings.HasPrefix(name, "harbor-cloudevents-"):
		p, header = ParseHarbor, http.Header{"Content-Type": {CloudEventsMediaType}}
	case strings.HasPrefix(name, "harbor-"):
		p = ParseHarbor
	case strings.HasPrefix(name, "github-"):
		p = ParseGitHub
	case strings.HasPrefix(name, "gitlab-"):
		// GitLab's registry is a distribution fork and sends its secret as the bare value.
		p, header = ParseDistribution, http.Header{"Content-Type": {DistributionMediaType}, "Authorization": {"s3cret"}}
	case strings.HasPrefix(name, "artifactory-"):
		p = ParseArtifactory
	default:
		t.Fatalf("no parser for fixture %s", name)
	}
	if strings.HasSuffix(name, ".http") {
		h, body := loadZotHTTP(t, path)
		return p, h, body
	}
	body, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return p, header, body
}

func vendorFixtures(t testing.TB) []string {
	t.Helper()
	var out []string
	for _, prefix := range []string{"harbor-", "github-", "gitlab-", "artifactory-"} {
		files, err := filepath.Glob("testdata/" + prefix + "*")
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, files...)
	}
	return out
}

// TestFormatFixtures runs every vendor fixture through its parser and checks the exact
// result. Ids that are a hash of the body are checked by their prefix and uniqueness.
func TestFormatFixtures(t *testing.T) {
	type want struct {
		events  []events.Event
		ignored []string // reasons
	}
	harbor := func(host, tag, digest string, action events.Action, at time.Time) want {
		return want{events: []events.Event{{Format: events.FormatHarbor, Registry: host, Repository: "harbor/alpine",
			Tag: tag, Digest: digest, Action: action, Time: at}}}
	}
	github := func(repo, tag, digest, mt string) want {
		return want{events: []events.Event{{Format: events.FormatGitHub, Registry: "ghcr.io", Repository: repo,
			Tag: tag, Digest: digest, MediaType: mt, Action: events.ActionPush, Time: ts(t, "2019-05-09T23:28:29Z")}}}
	}
	gitlab := func(tag, digest, mt string, action events.Action, at string) want {
		return want{events: []events.Event{{Format: events.FormatDistribution, Registry: "registry.gitlab.example.com",
			Repository: "group/project/packages/nginx", Tag: tag, Digest: digest, MediaType: mt, Action: action, Time: ts(t, at)}}}
	}
	artifactory := func(repo, tag, digest string, action events.Action) want {
		return want{events: []events.Event{{Format: events.FormatArtifactory, Registry: "example.jfrog.io", Repository: repo,
			Tag: tag, Digest: digest, Action: action}}}
	}
	ignored := func(reasons ...string) want { return want{ignored: reasons} }
	cases := map[string]want{
		// The documented push is by digest: Harbor repeats the digest in "tag".
		"harbor-push-artifact.json":      harbor("localhost", "", digestHarborAlpine, events.ActionPush, time.Unix(1680501893, 0).UTC()),
		"harbor-push-artifact-tag.json":  harbor("harbor.example.com:8443", "3.8", digestHarbor38, events.ActionPush, time.Unix(1680501893, 0).UTC()),
		"harbor-delete-artifact.json":    harbor("localhost", "3.8", digestHarbor38, events.ActionDelete, time.Unix(1680502598, 0).UTC()),
		"harbor-pull-artifact.json":      ignored(`event type "PULL_ARTIFACT" not indexed`),
		"harbor-scanning-completed.json": ignored(`event type "SCANNING_COMPLETED" not indexed`),
		"harbor-cloudevents-artifact-pushed.json": harbor("localhost", "3.8", digestHarbor38, events.ActionPush,
			ts(t, "2023-04-03T06:04:46Z")),
		"harbor-cloudevents-artifact-deleted.json": harbor("localhost", "3.8", digestHarbor38, events.ActionDelete,
			ts(t, "2023-04-03T06:16:38Z")),
		"harbor-cloudevents-artifact-pulled.json": ignored(`event type "harbor.artifact.pulled" not indexed`),
		"harbor-cloudevents-replication.json":     ignored(`event type "harbor.replication.status.changed" not indexed`),

		// The documented example is an untagged version: its tag name is "", so a push by digest.
		"github-registry-package-published.http": github("codertocat/hello-world", "", "sha256:6c62fb45fe66bfb1ea9a66abc38f6a0cc974292b",
			"application/vnd.docker.distribution.manifest.v2+json"),
		"github-registry-package-published-tag.http": github("codertocat/hello-world", "1.0.0", digestThing, ociManifest),
		"github-package-updated.http":                github("codertocat/hello-world", "latest", digestThing, ociManifest),
		"github-registry-package-published-npm.http": ignored(`package type "npm" is not a container`),
		"github-ping.http":                           ignored(`GitHub event "ping" not indexed`),

		"gitlab-push-manifest-tag.json": gitlab("1.0.0", digestThing, ociManifest,
			events.ActionPush, "2026-11-27T06:38:50.044154188Z"),
		"gitlab-delete-tag.json": gitlab("1.0.0", "", "", events.ActionDelete, "2026-11-27T06:40:12.5Z"),

		"artifactory-docker-pushed.json": artifactory("docker-remote-cache/library/ubuntu", "latest",
			"sha256:35c4a2c15539c6c1e4e5fa4e554dac323ad0107d8eb5c582d6ff386b383b7dce", events.ActionPush),
		"artifactory-docker-deleted.json":    artifactory("docker-local/packages/nginx", "1.0.0", digestThing, events.ActionDelete),
		"artifactory-docker-promoted.json":   ignored(`docker event "promoted" not indexed`),
		"artifactory-artifact-deployed.json": ignored(`domain "artifact" not indexed`),
	}
	// CloudEvents ids are source/id, like Zot's.
	ids := map[string]string{
		"harbor-cloudevents-artifact-pushed.json":  "/projects/2/webhook/policies/15/66e18103-09c1-41f6-982f-37df223f3eeb",
		"harbor-cloudevents-artifact-deleted.json": "/projects/2/webhook/policies/15/343f1623-7cba-487c-88f1-c5ebf55e93aa",
		// GitHub's id is the delivery id.
		"github-registry-package-published.http":     "72d3162e-cc78-11e3-81ab-4c9367dc0958",
		"github-registry-package-published-tag.http": "0b989ba4-242f-11e5-81e1-c7b6966d2516",
		"github-package-updated.http":                "d5f0b3a0-242f-11e5-8f3a-7a2c5d1e2b4c",
		"gitlab-push-manifest-tag.json":              "0f4d1a8e-7c1b-4c4e-9d5e-2a7b3c9e1f00",
		"gitlab-delete-tag.json":                     "0f4d1a8e-7c1b-4c4e-9d5e-2a7b3c9e1f01",
	}

	seenIDs := map[string]string{}
	files := vendorFixtures(t)
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			w, ok := cases[name]
			if !ok {
				t.Fatalf("fixture %s has no expectation", name)
			}
			parse, header, body := loadVendorFixture(t, path)
			res, err := parse(header, body)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			for i := range res.Events {
				id := res.Events[i].ID
				if want, ok := ids[name]; ok {
					if id != want {
						t.Errorf("id %q, want %q", id, want)
					}
				} else if !strings.HasPrefix(id, res.Events[i].Format+"/") {
					t.Errorf("body-hash id %q lacks the format prefix", id)
				}
				if other, dup := seenIDs[id]; dup {
					t.Errorf("id %q also came from %s", id, other)
				}
				seenIDs[id] = name
				res.Events[i].ID = ""
			}
			if !reflect.DeepEqual(res.Events, w.events) {
				t.Errorf("events = %+v\nwant     %+v", res.Events, w.events)
			}
			var reasons []string
			for _, ig := range res.Ignored {
				reasons = append(reasons, ig.Reason)
			}
			if !reflect.DeepEqual(reasons, w.ignored) {
				t.Errorf("ignored = %q, want %q", reasons, w.ignored)
			}
		})
	}
	if len(files) != len(cases) {
		t.Errorf("testdata has %d vendor fixtures, the table %d", len(files), len(cases))
	}
}

func TestFormatHarbor(t *testing.T) {
	at := ts(t, "2026-01-02T03:04:05Z")
	data := func(resources string) string {
		return `{"resources":` + resources + `,"repository":{"name":"nginx","namespace":"packages","repo_full_name":"packages/nginx"}}`
	}
	one := `[{"digest":"sha256:abc","tag":"1.0.0","resource_url":"harbor.example/packages/nginx:1.0.0"}]`
	def := func(typ, eventData string) string {
		return `{"type":"` + typ + `","occur_at":1767323045,"operator":"ci","event_data":` + eventData + `}`
	}
	ce := func(typ, d string) string {
		return `{"specversion":"1.0","id":"i1","source":"/projects/1/webhook/policies/2","type":"` + typ +
			`","datacontenttype":"application/json","time":"2026-01-02T03:04:05Z","data":` + d + `}`
	}
	ev := func(tag, digest string, action events.Action) events.Event {
		return events.Event{Format: events.FormatHarbor, Registry: "harbor.example", Repository: "packages/nginx",
			Tag: tag, Digest: digest, Action: action, Time: at}
	}
	fallback := "sha256-" + strings.Repeat("ab", 32)
	tests := []struct {
		name        string
		contentType string
		body        string
		want        []events.Event
		ignored     []string
		err         error
	}{
		{name: "default push", body: def(HarborPushArtifact, data(one)), want: []events.Event{ev("1.0.0", "sha256:abc", events.ActionPush)}},
		{name: "default delete", body: def(HarborDeleteArtifact, data(one)), want: []events.Event{ev("1.0.0", "sha256:abc", events.ActionDelete)}},
		{name: "cloudevents push", contentType: CloudEventsMediaType, body: ce(HarborArtifactPushed, data(one)),
			want: []events.Event{ev("1.0.0", "sha256:abc", events.ActionPush)}},
		{name: "cloudevents sent as application/json", body: ce(HarborArtifactDeleted, data(one)),
			want: []events.Event{ev("1.0.0", "sha256:abc", events.ActionDelete)}},
		{name: "several resources, one event each",
			body: def(HarborPushArtifact, data(`[{"digest":"sha256:abc","tag":"1.0.0","resource_url":"harbor.example/packages/nginx:1.0.0"},{"digest":"sha256:abc","tag":"latest","resource_url":"harbor.example/packages/nginx:latest"}]`)),
			want: []events.Event{ev("1.0.0", "sha256:abc", events.ActionPush), ev("latest", "sha256:abc", events.ActionPush)}},
		{name: "namespace and name without repo_full_name",
			body: def(HarborPushArtifact, `{"resources":`+one+`,"repository":{"name":"nginx","namespace":"packages"}}`),
			want: []events.Event{ev("1.0.0", "sha256:abc", events.ActionPush)}},
		{name: "quota exceeded", body: def("QUOTA_EXCEED", data(one)), ignored: []string{`event type "QUOTA_EXCEED" not indexed`}},
		{name: "tag retention", body: def("TAG_RETENTION", `{}`), ignored: []string{`event type "TAG_RETENTION" not indexed`}},
		{name: "cloudevents scan failed", body: ce("harbor.scan.failed", `{}`), ignored: []string{`event type "harbor.scan.failed" not indexed`}},
		{name: "no resources", body: def(HarborPushArtifact, data(`[]`)), ignored: []string{"artifact event without resources"}},
		{name: "resource without tag or digest", body: def(HarborPushArtifact, data(`[{"resource_url":"harbor.example/packages/nginx"}]`)),
			ignored: []string{"artifact without tag or digest"}},
		{name: "fallback tag", body: def(HarborPushArtifact, data(`[{"digest":"sha256:abc","tag":"`+fallback+`"}]`)),
			ignored: []string{"referrers fallback tag"}},

		{name: "text content type", contentType: "text/plain", body: def(HarborPushArtifact, data(one)), err: ErrContentType},
		{name: "no content type", contentType: "-", body: def(HarborPushArtifact, data(one)), err: ErrContentType},
		{name: "not JSON", body: `{"type":`, err: ErrMalformed},
		{name: "no type", body: `{"event_data":` + data(one) + `}`, err: ErrMalformed},
		{name: "push without event_data", body: `{"type":"PUSH_ARTIFACT","occur_at":1}`, err: ErrMalformed},
		{name: "push without repository", body: def(HarborPushArtifact, `{"resources":`+one+`}`), err: ErrMalformed},
		{name: "invalid repository", body: def(HarborPushArtifact, `{"resources":`+one+`,"repository":{"repo_full_name":"Packages/../x"}}`), err: ErrMalformed},
		{name: "invalid occur_at", body: `{"type":"PUSH_ARTIFACT","occur_at":1.5,"event_data":` + data(one) + `}`, err: ErrMalformed},
		{name: "invalid tag", body: def(HarborPushArtifact, data(`[{"digest":"sha256:abc","tag":"-x"}]`)), err: ErrMalformed},
		{name: "resources not an array", body: def(HarborPushArtifact, data(`{}`)), err: ErrMalformed},
		{name: "cloudevents without id", body: strings.Replace(ce(HarborArtifactPushed, data(one)), `"id":"i1",`, ``, 1), err: ErrMalformed},
		{name: "cloudevents without source", body: strings.Replace(ce(HarborArtifactPushed, data(one)), `"source":"/projects/1/webhook/policies/2",`, ``, 1), err: ErrMalformed},
		{name: "cloudevents old specversion", body: strings.Replace(ce(HarborArtifactPushed, data(one)), `"1.0"`, `"0.3"`, 1), err: ErrMalformed},
		{name: "cloudevents without data", body: `{"specversion":"1.0","id":"i","source":"s","type":"harbor.artifact.pushed"}`, err: ErrMalformed},
		{name: "cloudevents bad time", body: strings.Replace(ce(HarborArtifactPushed, data(one)), `2026-01-02T03:04:05Z`, `noon`, 1), err: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			switch tt.contentType {
			case "":
				h.Set("Content-Type", "application/json")
			case "-":
			default:
				h.Set("Content-Type", tt.contentType)
			}
			res, err := ParseHarbor(h, []byte(tt.body))
			ids := map[string]bool{}
			for i := range res.Events {
				if res.Events[i].ID == "" || ids[res.Events[i].ID] {
					t.Errorf("event %d: id %q empty or repeated", i, res.Events[i].ID)
				}
				ids[res.Events[i].ID] = true
				res.Events[i].ID = ""
			}
			checkResult(t, res, err, tt.want, tt.ignored, tt.err)
		})
	}
}

func TestFormatGitHub(t *testing.T) {
	version := func(typ, url, tag, digest string) string {
		return `{"id":1,"name":"nginx","package_type":"` + typ + `","updated_at":"2026-01-02T03:04:05Z","owner":{"login":"Elastic"},` +
			`"package_version":{"package_url":"` + url + `","container_metadata":{"tag":{"name":"` + tag + `","digest":"` + digest + `"},` +
			`"manifest":{"digest":"` + digest + `","media_type":"application/vnd.oci.image.manifest.v1+json"}}}}`
	}
	body := func(action, key, pkg string) string { return `{"action":"` + action + `","` + key + `":` + pkg + `}` }
	published := body("published", "registry_package", version("CONTAINER", "ghcr.io/elastic/packages/nginx:1.0.0", "1.0.0", "sha256:abc"))
	header := func(event string) http.Header {
		return http.Header{"Content-Type": {"application/json"}, "X-Github-Event": {event}, "X-Github-Delivery": {"d-1"}}
	}
	ev := func(repo, tag, digest string) events.Event {
		return events.Event{ID: "d-1", Format: events.FormatGitHub, Registry: "ghcr.io", Repository: repo, Tag: tag, Digest: digest,
			MediaType: ociManifest, Action: events.ActionPush, Time: ts(t, "2026-01-02T03:04:05Z")}
	}
	form := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "X-Github-Event": {"registry_package"}, "X-Github-Delivery": {"d-1"}}
	tests := []struct {
		name    string
		header  http.Header
		body    string
		want    []events.Event
		ignored []string
		err     error
	}{
		{name: "published with a nested name", header: header("registry_package"), body: published,
			want: []events.Event{ev("elastic/packages/nginx", "1.0.0", "sha256:abc")}},
		{name: "package event, updated", header: header("package"),
			body: body("updated", "package", version("container", "ghcr.io/elastic/nginx:latest", "latest", "sha256:abc")),
			want: []events.Event{ev("elastic/nginx", "latest", "sha256:abc")}},
		{name: "untagged version", header: header("registry_package"),
			body: body("published", "registry_package", version("CONTAINER", "ghcr.io/elastic/nginx:", "", "sha256:abc")),
			want: []events.Event{ev("elastic/nginx", "", "sha256:abc")}},
		{name: "no package URL: owner and name", header: header("registry_package"),
			body: body("published", "registry_package", version("CONTAINER", "", "1.0.0", "sha256:abc")),
			want: []events.Event{ev("elastic/nginx", "1.0.0", "sha256:abc")}},
		{name: "form encoded", header: form, body: "payload=" + url.QueryEscape(published),
			want: []events.Event{ev("elastic/packages/nginx", "1.0.0", "sha256:abc")}},
		{name: "other action", header: header("registry_package"), body: body("deleted", "registry_package", version("CONTAINER", "ghcr.io/e/n:1", "1", "sha256:abc")),
			ignored: []string{`package action "deleted" not indexed`}},
		{name: "maven package", header: header("package"), body: body("published", "package", `{"package_type":"maven","ecosystem":"maven"}`),
			ignored: []string{`package type "maven" is not a container`}},
		{name: "push event", header: header("push"), body: `{}`, ignored: []string{`GitHub event "push" not indexed`}},
		{name: "fallback tag", header: header("registry_package"),
			body:    body("published", "registry_package", version("CONTAINER", "ghcr.io/e/n", "sha256-"+strings.Repeat("0", 64), "sha256:abc")),
			ignored: []string{"referrers fallback tag"}},

		{name: "no event header", header: http.Header{"Content-Type": {"application/json"}}, body: published, err: ErrMalformed},
		{name: "xml", header: http.Header{"Content-Type": {"application/xml"}, "X-Github-Event": {"package"}}, body: published, err: ErrContentType},
		{name: "form without payload", header: form, body: "x=1", err: ErrMalformed},
		{name: "not JSON", header: header("registry_package"), body: `{"action":`, err: ErrMalformed},
		{name: "no package object", header: header("registry_package"), body: `{"action":"published"}`, err: ErrMalformed},
		{name: "container without metadata", header: header("registry_package"),
			body: body("published", "registry_package", `{"package_type":"CONTAINER","package_version":{}}`), err: ErrMalformed},
		{name: "no delivery id", header: http.Header{"Content-Type": {"application/json"}, "X-Github-Event": {"registry_package"}}, body: published, err: ErrMalformed},
		{name: "no repository", header: header("registry_package"),
			body: body("published", "registry_package", `{"package_type":"CONTAINER","package_version":{"container_metadata":{"tag":{"name":"1"}}}}`), err: ErrMalformed},
		{name: "bad time", header: header("registry_package"), body: strings.Replace(published, "2026-01-02T03:04:05Z", "soon", 1), err: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := ParseGitHub(tt.header, []byte(tt.body))
			checkResult(t, res, err, tt.want, tt.ignored, tt.err)
		})
	}
}

func TestFormatGitHubSignature(t *testing.T) {
	for _, path := range vendorFixtures(t) {
		if !strings.HasPrefix(filepath.Base(path), "github-") {
			continue
		}
		_, header, body := loadVendorFixture(t, path)
		if !GitHubSignatureValid([]byte("s3cret"), header, body) {
			t.Errorf("%s: the fixture's signature (secret s3cret) does not verify", path)
		}
		if GitHubSignatureValid([]byte("other"), header, body) {
			t.Errorf("%s: verifies under another secret", path)
		}
		if GitHubSignatureValid([]byte("s3cret"), header, append(body, ' ')) {
			t.Errorf("%s: verifies a changed body", path)
		}
		for _, sig := range []string{"", "sha256=", "sha1=" + strings.TrimPrefix(header.Get("X-Hub-Signature-256"), "sha256="), "sha256=zz",
			header.Get("X-Hub-Signature-256")[:20]} {
			h := header.Clone()
			h.Set("X-Hub-Signature-256", sig)
			if GitHubSignatureValid([]byte("s3cret"), h, body) {
				t.Errorf("%s: signature %q verifies", path, sig)
			}
		}
	}
}

func TestFormatArtifactory(t *testing.T) {
	hex64 := strings.Repeat("ab", 32)
	body := func(domain, typ, data string) string {
		return `{"domain":"` + domain + `","event_type":"` + typ + `","data":` + data + `,"jpd_origin":"https://acme.jfrog.io/artifactory"}`
	}
	data := func(tag, sum string) string {
		return `{"repo_key":"docker-local","image_name":"packages/nginx","tag":"` + tag + `","sha256":"` + sum + `"}`
	}
	ev := func(tag, digest string, action events.Action) events.Event {
		return events.Event{Format: events.FormatArtifactory, Registry: "acme.jfrog.io", Repository: "docker-local/packages/nginx",
			Tag: tag, Digest: digest, Action: action}
	}
	tests := []struct {
		name        string
		contentType string
		body        string
		want        []events.Event
		ignored     []string
		err         error
	}{
		{name: "pushed", body: body("docker", "pushed", data("1.0.0", hex64)), want: []events.Event{ev("1.0.0", "sha256:"+hex64, events.ActionPush)}},
		{name: "deleted", body: body("docker", "deleted", data("1.0.0", hex64)), want: []events.Event{ev("1.0.0", "sha256:"+hex64, events.ActionDelete)}},
		{name: "checksum that is no digest", body: body("docker", "pushed", data("1.0.0", "sample_checksum")), want: []events.Event{ev("1.0.0", "", events.ActionPush)}},
		{name: "no jpd_origin", body: `{"domain":"docker","event_type":"pushed","data":` + data("1", "") + `}`,
			want: []events.Event{{Format: events.FormatArtifactory, Repository: "docker-local/packages/nginx", Tag: "1", Action: events.ActionPush}}},
		{name: "build domain", body: body("build", "uploaded", `{}`), ignored: []string{`domain "build" not indexed`}},
		{name: "no tag or digest", body: body("docker", "pushed", data("", "")), ignored: []string{"docker event without tag or digest"}},

		{name: "text", contentType: "text/plain", body: body("docker", "pushed", data("1", hex64)), err: ErrContentType},
		{name: "not JSON", body: `{`, err: ErrMalformed},
		{name: "no domain", body: `{"event_type":"pushed"}`, err: ErrMalformed},
		{name: "no data", body: `{"domain":"docker","event_type":"pushed"}`, err: ErrMalformed},
		{name: "no image name", body: body("docker", "pushed", `{"repo_key":"docker-local","tag":"1"}`), err: ErrMalformed},
		{name: "invalid repository", body: body("docker", "pushed", `{"repo_key":"Docker Local","image_name":"x","tag":"1"}`), err: ErrMalformed},
		{name: "invalid tag", body: body("docker", "pushed", data("-1", hex64)), err: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{"Content-Type": {"application/json"}}
			if tt.contentType != "" {
				h.Set("Content-Type", tt.contentType)
			}
			res, err := ParseArtifactory(h, []byte(tt.body))
			for i := range res.Events {
				if !strings.HasPrefix(res.Events[i].ID, "artifactory/") {
					t.Errorf("id %q", res.Events[i].ID)
				}
				res.Events[i].ID = ""
			}
			checkResult(t, res, err, tt.want, tt.ignored, tt.err)
		})
	}
}

// Hosts and repositories as vendors print image references.
func TestFormatSplitImage(t *testing.T) {
	for ref, want := range map[string][2]string{
		"ghcr.io/owner/name:1.0.0":                     {"ghcr.io", "owner/name"},
		"ghcr.io/Owner/name:":                          {"ghcr.io", "Owner/name"},
		"localhost/harbor/alpine@sha256:abc":           {"localhost", "harbor/alpine"},
		"harbor.example:8443/p/r":                      {"harbor.example:8443", "p/r"},
		"harbor.example:8443/p/r:v1":                   {"harbor.example:8443", "p/r"},
		"https://acme.jfrog.io/artifactory/":           {"acme.jfrog.io", "artifactory/"},
		"library/ubuntu:latest":                        {"", "library/ubuntu"},
		"":                                             {"", ""},
		"HOST.Example/x":                               {"host.example", "x"},
		"europe-docker.pkg.dev/proj/repo/img@sha256:1": {"europe-docker.pkg.dev", "proj/repo/img"},
	} {
		host, repo := splitImage(ref)
		if host != want[0] || repo != want[1] {
			t.Errorf("splitImage(%q) = %q, %q; want %q, %q", ref, host, repo, want[0], want[1])
		}
	}
}
