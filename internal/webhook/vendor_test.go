package webhook

import (
	"net/http"
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

// TestParseVendorFixtures runs every vendor fixture through its parser and checks the exact
// result. Ids that are a hash of the body are checked by their prefix and uniqueness.
func TestParseVendorFixtures(t *testing.T) {
	type want struct {
		events  []events.Event
		ignored []string // reasons
	}
	harbor := func(host, tag, digest string, action events.Action, at time.Time) want {
		return want{events: []events.Event{{Format: events.FormatHarbor, Registry: host, Repository: "harbor/alpine",
			Tag: tag, Digest: digest, Action: action, Time: at}}}
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
	}
	// CloudEvents ids are source/id, like Zot's.
	ids := map[string]string{
		"harbor-cloudevents-artifact-pushed.json":  "/projects/2/webhook/policies/15/66e18103-09c1-41f6-982f-37df223f3eeb",
		"harbor-cloudevents-artifact-deleted.json": "/projects/2/webhook/policies/15/343f1623-7cba-487c-88f1-c5ebf55e93aa",
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
				} else if !strings.HasPrefix(id, res.Events[i].Format+":") && !strings.HasPrefix(name, "github-") && !strings.HasPrefix(name, "gitlab-") {
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

func TestParseHarbor(t *testing.T) {
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
