package webhook

import (
	"encoding/base64"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/oci-epr/package-registry/internal/events"
)

// cloudParsers are the vendor formats whose fixtures are written from the vendors' documented
// payloads, by file name prefix.
var cloudParsers = map[string]func(http.Header, []byte) (Result, error){
	"quay-":      ParseQuay,
	"dockerhub-": ParseDockerHub,
	"acr-":       ParseACR,
	"eventgrid-": ParseEventGrid,
	"gar-":       ParseGAR,
}

func cloudParserFor(name string) (func(http.Header, []byte) (Result, error), bool) {
	for prefix, p := range cloudParsers {
		if strings.HasPrefix(name, prefix) {
			return p, true
		}
	}
	return nil, false
}

const (
	digestACR = "sha256:3f1c6b0ad2e54d1f8a4c2e7b9d0a1f3e5c7b9d1f3a5c7e9b1d3f5a7c9e1b3d5f"
	digestGAR = "sha256:6ec128e26cd5a1f6e1c8a7b2d4f9e0c3b5a7d9f1e3c5b7a9d1f3e5c7b9a1d3f5"
	garHost   = "us-east1-docker.pkg.dev"
	garRepo   = "acme-packages/epr/packages/nginx"
	acrTopic  = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/epr/providers/Microsoft.ContainerRegistry/registries/acme"
)

var jsonHeader = http.Header{"Content-Type": {"application/json"}}

// loadFixture reads a fixture: .http files are a request (headers and body), .json files a body
// sent as application/json.
func loadFixture(t testing.TB, path string) (http.Header, []byte) {
	t.Helper()
	if strings.HasSuffix(path, ".http") {
		return loadZotHTTP(t, path)
	}
	body, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return jsonHeader.Clone(), body
}

// TestParseFormatFixtures runs every vendor fixture through its parser and checks the exact
// result; the ids derived from a body are checked for shape, as they are digests.
func TestParseFormatFixtures(t *testing.T) {
	type want struct {
		events  []events.Event
		ignored []string // reasons
		reply   any
	}
	quay := func(host string, tags ...string) want {
		var w want
		for _, tag := range tags {
			w.events = append(w.events, events.Event{Format: events.FormatQuay, Registry: host,
				Repository: "acme/nginx", Tag: tag, Action: events.ActionPush})
		}
		return w
	}
	cases := map[string]want{
		"quay-repo-push.json":         quay("quay.io", "1.2.0", "latest"),
		"quay-repo-push-tag-map.json": quay("quay.io", "1.2.0"),
		"quay-repo-push-no-tags.json": {ignored: []string{"push without updated tags"}},
		"dockerhub-push.json":         {events: []events.Event{{Format: events.FormatDockerHub, Registry: "docker.io", Repository: "acme/nginx", Tag: "1.2.0", Action: events.ActionPush, Time: time.Unix(1767225600, 0).UTC()}}},
		"dockerhub-push-no-tag.json":  {ignored: []string{"push without tag"}},

		"acr-push.json": {events: []events.Event{{ID: "5a0c1d6e-2f3b-4c8d-9e1f-a2b3c4d5e6f7", Format: events.FormatACR, Registry: "acme.azurecr.io",
			Repository: "packages/nginx", Tag: "1.2.0", Digest: digestACR, MediaType: ociManifest, Action: events.ActionPush,
			Time: ts(t, "2026-01-15T10:20:30.123456789Z")}}},
		"acr-delete.json": {events: []events.Event{{ID: "b7d9f1a3-4c5e-4a6b-8d9c-0e1f2a3b4c5d", Format: events.FormatACR, Registry: "acme.azurecr.io",
			Repository: "packages/nginx", Digest: digestACR, MediaType: ociManifest, Action: events.ActionDelete,
			Time: ts(t, "2026-01-15T10:25:00.5Z")}}},
		"acr-chart-push.json": {ignored: []string{"Helm chart event"}},

		"eventgrid-image-pushed.http": {events: []events.Event{{ID: acrTopic + "/831e1650-001e-001b-66ab-eeb76e069631", Format: events.FormatEventGrid,
			Registry: "acme.azurecr.io", Repository: "packages/nginx", Tag: "1.2.0", Digest: digestACR, MediaType: ociManifest,
			Action: events.ActionPush, Time: ts(t, "2026-01-15T10:20:30.6549614Z")}}},
		"eventgrid-image-deleted.http": {events: []events.Event{{ID: acrTopic + "/f06e3921-301f-42ec-b368-212f7d5354bd", Format: events.FormatEventGrid,
			Registry: "acme.azurecr.io", Repository: "packages/nginx", Digest: digestACR, MediaType: ociManifest,
			Action: events.ActionDelete, Time: ts(t, "2026-01-15T10:25:01.8211071Z")}}},
		"eventgrid-validation.http": {ignored: []string{"subscription validation (answered)"},
			reply: EventGridValidationReply{ValidationResponse: "512d38b6-c7b8-40c8-89fe-f46f9e9622b6"}},
		"eventgrid-cloudevents-image-pushed.http": {events: []events.Event{{ID: acrTopic + "/831e1650-001e-001b-66ab-eeb76e069631", Format: events.FormatEventGrid,
			Registry: "acme.azurecr.io", Repository: "packages/nginx", Tag: "1.2.0", Digest: digestACR, MediaType: ociManifest,
			Action: events.ActionPush, Time: ts(t, "2026-01-15T10:20:30.6549614Z")}}},
		"eventgrid-cloudevents-batch.http": {events: []events.Event{{ID: acrTopic + "/f06e3921-301f-42ec-b368-212f7d5354bd", Format: events.FormatEventGrid,
			Registry: "acme.azurecr.io", Repository: "packages/nginx", Digest: digestACR, MediaType: ociManifest,
			Action: events.ActionDelete, Time: ts(t, "2026-01-15T10:25:01.8211071Z")}},
			ignored: []string{`event type "Microsoft.ContainerRegistry.ChartPushed" not indexed`}},

		"gar-insert-tag.json": {events: []events.Event{{ID: "2070443601311540", Format: events.FormatGAR, Registry: garHost,
			Repository: garRepo, Tag: "1.2.0", Digest: digestGAR, Action: events.ActionPush, Time: ts(t, "2026-01-15T10:20:31.456Z")}}},
		"gar-insert-untagged.json": {events: []events.Event{{ID: "2070443601311541", Format: events.FormatGAR, Registry: garHost,
			Repository: garRepo, Digest: digestGAR, Action: events.ActionPush, Time: ts(t, "2026-01-15T10:20:31.789Z")}}},
		"gar-delete.json": {events: []events.Event{{ID: "2070443601311542", Format: events.FormatGAR, Registry: garHost,
			Repository: garRepo, Tag: "1.2.0", Digest: digestGAR, Action: events.ActionDelete, Time: ts(t, "2026-01-15T10:25:02.001Z")}}},
	}
	files, err := filepath.Glob("testdata/*")
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, path := range files {
		name := filepath.Base(path)
		parse, ok := cloudParserFor(name)
		if !ok {
			continue
		}
		seen++
		t.Run(name, func(t *testing.T) {
			w, ok := cases[name]
			if !ok {
				t.Fatalf("fixture %s has no expectation", name)
			}
			res, err := parse(loadFixture(t, path))
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			got := make([]events.Event, len(res.Events))
			ids := map[string]bool{}
			for i, ev := range res.Events {
				if ev.ID == "" || ids[ev.ID] {
					t.Errorf("event %d: empty or repeated id %q", i, ev.ID)
				}
				ids[ev.ID] = true
				if w.events != nil && i < len(w.events) && w.events[i].ID == "" {
					ev.ID = "" // derived from the body
				}
				got[i] = ev
			}
			if len(w.events) == 0 {
				got = nil
			}
			if !reflect.DeepEqual(got, w.events) {
				t.Errorf("events = %+v\nwant     %+v", got, w.events)
			}
			var reasons []string
			for _, ig := range res.Ignored {
				reasons = append(reasons, ig.Reason)
			}
			if !reflect.DeepEqual(reasons, w.ignored) {
				t.Errorf("ignored = %q, want %q", reasons, w.ignored)
			}
			if !reflect.DeepEqual(res.Reply, w.reply) {
				t.Errorf("reply = %#v, want %#v", res.Reply, w.reply)
			}
			checkParsed(t, res, nil, eventsFormat(res))
		})
	}
	if seen != len(cases) {
		t.Errorf("testdata has %d vendor fixtures, the table %d", seen, len(cases))
	}
}

// eventsFormat is the format of a result's events, for checkParsed: each parser has one.
func eventsFormat(r Result) string {
	if len(r.Events) == 0 {
		return ""
	}
	return r.Events[0].Format
}

// TestParseFormatRejects feeds each vendor parser bodies it must refuse, and bodies it must
// ignore rather than refuse.
func TestParseFormatRejects(t *testing.T) {
	tests := []struct {
		name    string
		parse   func(http.Header, []byte) (Result, error)
		ctype   string
		body    string
		wantErr error  // nil: parses
		ignored string // the reason, when it parses
		events  int
	}{
		{name: "quay not JSON", parse: ParseQuay, ctype: "application/json", body: `{"repository":`, wantErr: ErrMalformed},
		{name: "quay form content type", parse: ParseQuay, ctype: "application/x-www-form-urlencoded", body: `{}`, wantErr: ErrContentType},
		{name: "quay no content type", parse: ParseQuay, body: `{}`, wantErr: ErrContentType},
		{name: "quay no repository", parse: ParseQuay, ctype: "application/json", body: `{"updated_tags":["1.0.0"]}`, wantErr: ErrMalformed},
		{name: "quay tags not strings", parse: ParseQuay, ctype: "application/json", body: `{"repository":"a/b","updated_tags":[1]}`, wantErr: ErrMalformed},
		{name: "quay tags a number", parse: ParseQuay, ctype: "application/json", body: `{"repository":"a/b","updated_tags":7}`, wantErr: ErrMalformed},
		{name: "quay invalid tag", parse: ParseQuay, ctype: "application/json", body: `{"repository":"a/b","updated_tags":["no spaces"]}`, wantErr: ErrMalformed},
		{name: "quay invalid repository", parse: ParseQuay, ctype: "application/json", body: `{"repository":"A/B","updated_tags":["1.0.0"]}`, wantErr: ErrMalformed},
		{name: "quay null tags", parse: ParseQuay, ctype: "application/json", body: `{"repository":"a/b","updated_tags":null}`, ignored: "push without updated tags"},
		{name: "quay fallback tag", parse: ParseQuay, ctype: "application/json", body: `{"repository":"a/b","updated_tags":["sha256-` + strings.Repeat("a", 64) + `","1.0.0"]}`, ignored: "referrers fallback tag", events: 1},
		{name: "quay charset parameter", parse: ParseQuay, ctype: "application/json; charset=utf-8", body: `{"repository":"a/b","updated_tags":["1.0.0"]}`, events: 1},
		{name: "dockerhub not JSON", parse: ParseDockerHub, ctype: "application/json", body: `[`, wantErr: ErrMalformed},
		{name: "dockerhub text", parse: ParseDockerHub, ctype: "text/plain", body: `{}`, wantErr: ErrContentType},
		{name: "dockerhub no push_data", parse: ParseDockerHub, ctype: "application/json", body: `{"repository":{"repo_name":"a/b"}}`, wantErr: ErrMalformed},
		{name: "dockerhub no repo_name", parse: ParseDockerHub, ctype: "application/json", body: `{"push_data":{"tag":"1.0.0"}}`, wantErr: ErrMalformed},
		{name: "dockerhub bad pushed_at", parse: ParseDockerHub, ctype: "application/json", body: `{"push_data":{"tag":"1.0.0","pushed_at":-5},"repository":{"repo_name":"a/b"}}`, wantErr: ErrMalformed},
		{name: "dockerhub invalid tag", parse: ParseDockerHub, ctype: "application/json", body: `{"push_data":{"tag":"-x"},"repository":{"repo_name":"a/b"}}`, wantErr: ErrMalformed},
		{name: "acr not JSON", parse: ParseACR, ctype: "application/json", body: `{"id":`, wantErr: ErrMalformed},
		{name: "acr an envelope", parse: ParseACR, ctype: "application/json", body: `{"events":[]}`, wantErr: ErrMalformed},
		{name: "acr distribution content type", parse: ParseACR, ctype: "text/plain", body: `{}`, wantErr: ErrContentType},
		{name: "acr bad timestamp", parse: ParseACR, ctype: "application/json", body: `{"id":"1","timestamp":"yesterday","action":"push","target":{"mediaType":"` + ociManifest + `","repository":"a/b","tag":"1.0.0"}}`, wantErr: ErrMalformed},
		{name: "acr push without repository", parse: ParseACR, ctype: "application/json", body: `{"id":"1","action":"push","target":{"mediaType":"` + ociManifest + `","tag":"1.0.0"}}`, wantErr: ErrMalformed},
		{name: "acr quarantine", parse: ParseACR, ctype: "application/json", body: `{"id":"1","action":"quarantine","target":{"repository":"a/b","tag":"1.0.0"}}`, ignored: "quarantine"},
		{name: "acr pull", parse: ParseACR, ctype: "application/json", body: `{"id":"1","action":"pull"}`, ignored: "pull"},
		{name: "eventgrid not JSON", parse: ParseEventGrid, ctype: "application/json", body: `[{`, wantErr: ErrMalformed},
		{name: "eventgrid xml", parse: ParseEventGrid, ctype: "application/xml", body: `[]`, wantErr: ErrContentType},
		{name: "eventgrid no event type", parse: ParseEventGrid, ctype: "application/json", body: `[{"id":"1"}]`, wantErr: ErrMalformed},
		{name: "eventgrid validation without code", parse: ParseEventGrid, ctype: "application/json", body: `[{"id":"1","eventType":"` + EventGridValidation + `","data":{}}]`, wantErr: ErrMalformed},
		{name: "eventgrid validation mixed with a push", parse: ParseEventGrid, ctype: "application/json", body: `[{"id":"1","eventType":"` + EventGridValidation + `","data":{"validationCode":"c"}},` +
			`{"id":"2","eventType":"` + EventGridImagePushed + `","data":{"target":{"mediaType":"` + ociManifest + `","repository":"a/b","tag":"1.0.0"}}}]`, wantErr: ErrMalformed},
		{name: "eventgrid push without id", parse: ParseEventGrid, ctype: "application/json", body: `[{"eventType":"` + EventGridImagePushed + `","data":{"target":{"mediaType":"` + ociManifest + `","repository":"a/b","tag":"1.0.0"}}}]`, wantErr: ErrMalformed},
		{name: "eventgrid push data not an object", parse: ParseEventGrid, ctype: "application/json", body: `[{"id":"1","eventType":"` + EventGridImagePushed + `","data":"x"}]`, wantErr: ErrMalformed},
		{name: "eventgrid one object", parse: ParseEventGrid, ctype: "application/json", body: `{"id":"1","eventType":"` + EventGridImagePushed + `","data":{"target":{"mediaType":"` + ociManifest + `","repository":"a/b","tag":"1.0.0"}}}`, events: 1},
		{name: "eventgrid subscription deleted", parse: ParseEventGrid, ctype: "application/json", body: `[{"id":"1","eventType":"Microsoft.EventGrid.SubscriptionDeletedEvent","data":{}}]`, ignored: `event type "Microsoft.EventGrid.SubscriptionDeletedEvent" not indexed`},
		{name: "eventgrid cloudevent without source", parse: ParseEventGrid, ctype: CloudEventsMediaType, body: `{"specversion":"1.0","id":"1","type":"` + EventGridImagePushed + `","data":{}}`, wantErr: ErrMalformed},
		{name: "eventgrid cloudevent old specversion", parse: ParseEventGrid, ctype: CloudEventsMediaType, body: `{"specversion":"0.3","id":"1","source":"s","type":"` + EventGridImagePushed + `","data":{}}`, wantErr: ErrMalformed},
		{name: "eventgrid cloudevent batch not an array", parse: ParseEventGrid, ctype: CloudEventsBatchMediaType, body: `{}`, wantErr: ErrMalformed},
		{name: "eventgrid cloudevent base64 data", parse: ParseEventGrid, ctype: CloudEventsMediaType, body: `{"specversion":"1.0","id":"1","source":"s","type":"` + EventGridImagePushed +
			`","data_base64":"` + base64.StdEncoding.EncodeToString([]byte(`{"target":{"mediaType":"`+ociManifest+`","repository":"a/b","tag":"1.0.0"}}`)) + `"}`, events: 1},
		{name: "gar not JSON", parse: ParseGAR, ctype: "application/json", body: `{`, wantErr: ErrMalformed},
		{name: "gar unwrapped payload", parse: ParseGAR, ctype: "application/json", body: `{"action":"INSERT","tag":"h.io/a/b:1"}`, wantErr: ErrMalformed},
		{name: "gar no message id", parse: ParseGAR, ctype: "application/json", body: garBody("", `{"action":"INSERT","tag":"h.io/a/b:1.0.0"}`), wantErr: ErrMalformed},
		{name: "gar data not base64", parse: ParseGAR, ctype: "application/json", body: `{"message":{"messageId":"1","data":"%%%"}}`, wantErr: ErrMalformed},
		{name: "gar data not JSON", parse: ParseGAR, ctype: "application/json", body: garBody("1", `nope`), wantErr: ErrMalformed},
		{name: "gar no action", parse: ParseGAR, ctype: "application/json", body: garBody("1", `{"tag":"h.io/a/b:1.0.0"}`), wantErr: ErrMalformed},
		{name: "gar tag and digest disagree", parse: ParseGAR, ctype: "application/json", body: garBody("1", `{"action":"INSERT","tag":"h.io/a/b:1.0.0","digest":"h.io/a/c@sha256:abc"}`), wantErr: ErrMalformed},
		{name: "gar invalid repository", parse: ParseGAR, ctype: "application/json", body: garBody("1", `{"action":"INSERT","tag":"h.io/A/B:1.0.0"}`), wantErr: ErrMalformed},
		{name: "gar unknown action", parse: ParseGAR, ctype: "application/json", body: garBody("1", `{"action":"UPDATE","tag":"h.io/a/b:1.0.0"}`), ignored: `action "UPDATE" not indexed`},
		{name: "gar nothing named", parse: ParseGAR, ctype: "application/json", body: garBody("1", `{"action":"DELETE"}`), ignored: "image event without tag or digest"},
		{name: "gar gcr.io tag", parse: ParseGAR, ctype: "application/json", body: garBody("1", `{"action":"INSERT","tag":"gcr.io/acme/nginx:1.0.0"}`), events: 1},
		{name: "dockerhub no pushed_at", parse: ParseDockerHub, ctype: "application/json", body: `{"push_data":{"tag":"1.0.0"},"repository":{"repo_name":"a/b"}}`, events: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.ctype != "" {
				h.Set("Content-Type", tt.ctype)
			}
			res, err := tt.parse(h, []byte(tt.body))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				checkParsed(t, res, err, "")
				return
			}
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if len(res.Events) != tt.events {
				t.Errorf("%d events, want %d: %+v", len(res.Events), tt.events, res.Events)
			}
			if tt.ignored != "" && (len(res.Ignored) != 1 || res.Ignored[0].Reason != tt.ignored) {
				t.Errorf("ignored = %+v, want %q", res.Ignored, tt.ignored)
			}
			checkParsed(t, res, nil, eventsFormat(res))
		})
	}
}

// garBody is a Pub/Sub push delivery of data.
func garBody(id, data string) string {
	return `{"message":{"messageId":"` + id + `","data":"` + base64.StdEncoding.EncodeToString([]byte(data)) + `"}}`
}

// Two pushes of the same tag are two events; the same body delivered twice is one.
func TestFormatBodyDerivedIDs(t *testing.T) {
	push := func(at string) []byte {
		return []byte(`{"push_data":{"tag":"1.0.0","pushed_at":` + at + `},"repository":{"repo_name":"a/b"}}`)
	}
	id := func(body []byte) string {
		res, err := ParseDockerHub(jsonHeader, body)
		if err != nil || len(res.Events) != 1 {
			t.Fatalf("%v %+v", err, res)
		}
		return res.Events[0].ID
	}
	if id(push("100")) != id(push("100")) {
		t.Error("a redelivered body got a new id")
	}
	if id(push("100")) == id(push("101")) {
		t.Error("two pushes got one id")
	}
}

func TestFormatImageRef(t *testing.T) {
	for in, want := range map[string]imageRef{
		"quay.io/acme/nginx":                      {Host: "quay.io", Repository: "acme/nginx"},
		"acme/nginx":                              {Repository: "acme/nginx"},
		"localhost/acme/nginx:1.0":                {Host: "localhost", Repository: "acme/nginx", Tag: "1.0"},
		"127.0.0.1:5000/packages/nginx:1.0.0":     {Host: "127.0.0.1:5000", Repository: "packages/nginx", Tag: "1.0.0"},
		"us-docker.pkg.dev/p/r/img@sha256:abc":    {Host: "us-docker.pkg.dev", Repository: "p/r/img", Digest: "sha256:abc"},
		"us-docker.pkg.dev/p/r/img:v1@sha256:abc": {Host: "us-docker.pkg.dev", Repository: "p/r/img", Tag: "v1", Digest: "sha256:abc"},
		"registry.example.com:8443/a":             {Host: "registry.example.com:8443", Repository: "a"},
		"":                                        {},
	} {
		if got := parseImageRef(in); got != want {
			t.Errorf("parseImageRef(%q) = %+v, want %+v", in, got, want)
		}
	}
}
