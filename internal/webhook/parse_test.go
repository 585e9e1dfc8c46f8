package webhook

import (
	"bufio"
	"bytes"
	"errors"
	"io"
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
	digestThing   = "sha256:291871b4bb6aaf20adcb2abc33a6461afd0ac31c6d92b13153da97389c0a84d0"
	digestBin     = "sha256:07ade6dc31bac870d43344ee1c5e17acaa4f8dcac13911fee91bf6a2c5b61abc"
	digestZot     = "sha256:22cbe36f239a6691bd42b1501af73b6521394ad077fccd30b2285f13473a24d9"
	digestZotSig  = "sha256:125261977319d6c4f0a9d87b325f8406bd221f1aab5f458e392aa423710506bb"
	ociManifest   = "application/vnd.oci.image.manifest.v1+json"
	zotSource     = "zotregistry.dev/"
	capturedHost  = "127.0.0.1:5000"
	ignoredRepoID = "83fe7af3-1aa1-485f-9251-0d3163ee83ca"
)

func ts(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return v.UTC()
}

// distributionHeader is what distribution sent with every captured body (README).
func distributionHeader() http.Header {
	return http.Header{
		"Content-Type":  {DistributionMediaType},
		"Authorization": {"Bearer s3cret"},
		"User-Agent":    {"Go-http-client/1.1"},
	}
}

// loadZotHTTP reads a captured request: headers through http.ReadRequest, and the body as
// captured. The repository-created capture has no Content-Length, so its body is the rest of the
// file after the blank line.
func loadZotHTTP(t testing.TB, path string) (http.Header, []byte) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		t.Fatal(err)
	}
	if req.ContentLength <= 0 {
		_, rest, ok := bytes.Cut(raw, []byte("\n\n"))
		if !ok {
			t.Fatalf("%s: no blank line", path)
		}
		body = rest
	}
	return req.Header, body
}

// TestParseCaptured runs every captured payload through its parser and checks the exact result.
func TestParseCaptured(t *testing.T) {
	type want struct {
		events  []events.Event
		ignored []Ignored
	}
	dist := func(id, repo, tag, digest, mt string, action events.Action, at string) want {
		return want{events: []events.Event{{ID: id, Format: events.FormatDistribution, Registry: capturedHost,
			Repository: repo, Tag: tag, Digest: digest, MediaType: mt, Action: action, Time: ts(t, at)}}}
	}
	zot := func(id, tag, digest string, action events.Action, at string) want {
		return want{events: []events.Event{{ID: zotSource + id, Format: events.FormatZot,
			Repository: "demo/thing", Tag: tag, Digest: digest, MediaType: ociManifest, Action: action, Time: ts(t, at)}}}
	}
	ignored := func(id, reason string) want { return want{ignored: []Ignored{{ID: id, Reason: reason}}} }

	cases := map[string]want{
		"distribution-push-blob.json": ignored("01a21bba-64b3-7683-a865-470320538888", "blob push"),
		"distribution-push-manifest-tag.json": dist("01a21bba-64bc-7259-80e9-026315748601", "demo/thing", "v1", digestThing,
			ociManifest, events.ActionPush, "2026-11-27T06:38:50.044154188Z"),
		"distribution-push-manifest-tag-no-references.json": dist("01a21bbc-c59d-7c8f-a952-c5e26656d776", "demo/bin", "v1", digestBin,
			ociManifest, events.ActionPush, "2026-11-27T06:41:25.917823787Z"),
		"distribution-push-manifest-retag.json": dist("01a21bba-65eb-70d7-a34d-831d499e4a66", "demo/thing", "latest", digestThing,
			ociManifest, events.ActionPush, "2026-11-27T06:38:50.347055489Z"),
		"distribution-pull.json":        ignored("01a21bba-65ea-767b-b78a-12404e54cff3", "pull"),
		"distribution-pull-digest.json": ignored("01a21bba-686f-7949-8edd-cde4f90fb664", "pull"),
		"distribution-mount.json":       ignored("01a21bbc-e0e9-7054-bb7d-c9d82fa3a325", "blob mount"),
		"distribution-delete-tag.json": dist("01a21bba-672d-77ff-9f8d-669f0af197ba", "demo/thing", "v1", "",
			"", events.ActionDelete, "2026-11-27T06:38:50.669524413Z"),
		"distribution-delete-manifest.json": dist("01a21bba-6870-73fe-ab49-480a016dd656", "demo/thing", "", digestThing,
			"", events.ActionDelete, "2026-11-27T06:38:50.992261861Z"),
		"distribution-delete-manifest-untag.json": dist("01a21bba-6870-74b3-bdf9-43bfb92a60b7", "demo/thing", "latest", "",
			"", events.ActionDelete, "2026-11-27T06:38:50.992308217Z"),

		// The capture recorded no Ce-Source, so the id has no source part.
		"zot-http-repository-created.http": ignored(ignoredRepoID, "repository created (no manifest yet)"),
		"zot-http-image-updated.http": zot("066aee84-eb64-40a8-bbbe-3b89712c765a", "latest", digestZot,
			events.ActionPush, "2026-11-27T06:51:51.787334294Z"),
		"zot-http-image-updated-referrer.http": zot("428170f9-f1d4-42d0-b645-57cae977832e", "", digestZotSig,
			events.ActionPush, "2026-11-27T06:51:52.81040679Z"),
		"zot-http-image-deleted-tag.http": zot("b01aa2c4-3949-4fa8-8b83-4d66f18c7d9f", "latest", digestZot,
			events.ActionDelete, "2026-11-27T06:51:53.850265551Z"),
		"zot-http-image-deleted-digest.http": zot("8924ed8a-a123-496e-b473-27521eb96740", "", digestZot,
			events.ActionDelete, "2026-11-27T06:51:54.862690187Z"),

		"zot-nats-repository-created.json": ignored(zotSource+ignoredRepoID, "repository created (no manifest yet)"),
		"zot-nats-image-updated.json": zot("012c89d4-66c9-4b14-9b02-203b8096c15e", "v1", digestZot,
			events.ActionPush, "2026-11-27T06:51:37.7625842Z"),
		"zot-nats-image-updated-referrer.json": zot("428170f9-f1d4-42d0-b645-57cae977832e", "", digestZotSig,
			events.ActionPush, "2026-11-27T06:51:52.81040679Z"),
		"zot-nats-image-deleted.json": zot("b01aa2c4-3949-4fa8-8b83-4d66f18c7d9f", "latest", digestZot,
			events.ActionDelete, "2026-11-27T06:51:53.850265551Z"),
		"zot-nats-image-deleted-digest.json": zot("8924ed8a-a123-496e-b473-27521eb96740", "", digestZot,
			events.ActionDelete, "2026-11-27T06:51:54.862690187Z"),
	}

	files, err := filepath.Glob("testdata/*")
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, path := range files {
		name := filepath.Base(path)
		// Only the captured payloads; the fixtures written from vendor docs have tests of their own.
		if !strings.HasPrefix(name, "distribution-") && !strings.HasPrefix(name, "zot-") {
			continue
		}
		seen++
		t.Run(name, func(t *testing.T) {
			w, ok := cases[name]
			if !ok {
				t.Fatalf("captured payload %s has no expectation", name)
			}
			var res Result
			var err error
			switch {
			case strings.HasPrefix(name, "distribution-"):
				body, rerr := os.ReadFile(path)
				if rerr != nil {
					t.Fatal(rerr)
				}
				res, err = ParseDistribution(distributionHeader(), body)
			case strings.HasPrefix(name, "zot-http-"):
				res, err = ParseZot(loadZotHTTP(t, path))
			case strings.HasPrefix(name, "zot-nats-"):
				data, rerr := os.ReadFile(path)
				if rerr != nil {
					t.Fatal(rerr)
				}
				res, err = ParseCloudEvent(data)
				// The indexer reads these through the stream decoder: same events, ignored ones dropped.
				evs, derr := DecodeStreamMessage(events.ZotSubject, data)
				if derr != nil {
					t.Fatalf("DecodeStreamMessage: %v", derr)
				}
				if !reflect.DeepEqual(evs, w.events) {
					t.Errorf("DecodeStreamMessage = %+v, want %+v", evs, w.events)
				}
			default:
				t.Fatalf("unknown capture kind %s", name)
			}
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if !reflect.DeepEqual(res.Events, w.events) {
				t.Errorf("events = %+v\nwant     %+v", res.Events, w.events)
			}
			if !reflect.DeepEqual(res.Ignored, w.ignored) {
				t.Errorf("ignored = %+v, want %+v", res.Ignored, w.ignored)
			}
		})
	}
	if seen != len(cases) {
		t.Errorf("testdata has %d payloads, the table %d", seen, len(cases))
	}
}

// distBody wraps one event in a distribution envelope.
func distBody(event string) string { return `{"events":[` + event + `]}` }

const validDistEvent = `{"id":"e1","timestamp":"2026-01-02T03:04:05Z","action":"push",
	"target":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:abc","repository":"packages/nginx","tag":"1.0.0"},
	"request":{"host":"reg.example"}}`

func TestParseDistribution(t *testing.T) {
	ev := func(id, repo, tag, digest, mt string, action events.Action) events.Event {
		return events.Event{ID: id, Format: events.FormatDistribution, Registry: "reg.example", Repository: repo,
			Tag: tag, Digest: digest, MediaType: mt, Action: action, Time: ts(t, "2026-01-02T03:04:05Z")}
	}
	event := func(action, mt, digest, repo, tag string) string {
		return `{"id":"e2","timestamp":"2026-01-02T03:04:05Z","action":"` + action + `","target":{"mediaType":"` + mt +
			`","digest":"` + digest + `","repository":"` + repo + `","tag":"` + tag + `"},"request":{"host":"reg.example"}}`
	}
	fallback := "sha256-" + strings.Repeat("ab", 32)
	tests := []struct {
		name        string
		contentType string
		body        string
		want        []events.Event
		ignored     []string // reasons
		err         error
	}{
		{name: "empty envelope", body: `{"events":[]}`},
		{name: "content type parameters", contentType: DistributionMediaType + "; charset=utf-8", body: distBody(validDistEvent),
			want: []events.Event{ev("e1", "packages/nginx", "1.0.0", "sha256:abc", ociManifest, events.ActionPush)}},
		{name: "batch keeps order, drops blobs",
			body: `{"events":[` + event("push", "application/octet-stream", "sha256:b", "packages/nginx", "") + `,` + validDistEvent + `,` +
				event("delete", "", "", "packages/nginx", "1.0.0") + `]}`,
			want: []events.Event{
				ev("e1", "packages/nginx", "1.0.0", "sha256:abc", ociManifest, events.ActionPush),
				ev("e2", "packages/nginx", "1.0.0", "", "", events.ActionDelete),
			},
			ignored: []string{"blob push"}},
		{name: "index pushed by digest", body: distBody(event("push", "application/vnd.oci.image.index.v1+json", "sha256:abc", "p", "")),
			want: []events.Event{ev("e2", "p", "", "sha256:abc", "application/vnd.oci.image.index.v1+json", events.ActionPush)}},
		{name: "referrers fallback tag push", body: distBody(event("push", "application/vnd.oci.image.index.v1+json", "sha256:abc", "p", fallback)),
			ignored: []string{"referrers fallback tag"}},
		{name: "referrers fallback tag delete", body: distBody(event("delete", "", "", "p", fallback)), ignored: []string{"referrers fallback tag"}},
		{name: "config push", body: distBody(event("push", "application/vnd.oci.empty.v1+json", "sha256:abc", "p", "")),
			ignored: []string{`push of non-manifest media type "application/vnd.oci.empty.v1+json"`}},
		{name: "manifest push without tag or digest", body: distBody(event("push", ociManifest, "", "p", "")),
			ignored: []string{"manifest push without tag or digest"}},
		{name: "delete without tag or digest", body: distBody(event("delete", "", "", "p", "")), ignored: []string{"delete without tag or digest"}},
		{name: "blob delete", body: distBody(event("delete", "application/octet-stream", "sha256:abc", "p", "")), ignored: []string{"blob delete"}},
		{name: "unknown action", body: distBody(event("chart_push", ociManifest, "sha256:abc", "p", "1")), ignored: []string{`unknown action "chart_push"`}},
		{name: "ignored events are not validated", body: distBody(`{"action":"pull","target":{"repository":"NOT VALID"}}`), ignored: []string{"pull"}},

		{name: "no content type", contentType: "-", body: distBody(validDistEvent), err: ErrContentType},
		{name: "json content type", contentType: "application/json", body: distBody(validDistEvent), err: ErrContentType},
		{name: "zot content type", contentType: CloudEventsMediaType, body: distBody(validDistEvent), err: ErrContentType},
		{name: "unparseable content type", contentType: "a/b; =", body: distBody(validDistEvent), err: ErrContentType},
		{name: "empty body", body: ``, err: ErrMalformed},
		{name: "truncated JSON", body: `{"events":[`, err: ErrMalformed},
		{name: "top-level array", body: `[` + validDistEvent + `]`, err: ErrMalformed},
		{name: "null", body: `null`, err: ErrMalformed},
		{name: "no events key", body: `{}`, err: ErrMalformed},
		{name: "events null", body: `{"events":null}`, err: ErrMalformed},
		{name: "events not an array", body: `{"events":{}}`, err: ErrMalformed},
		{name: "trailing garbage", body: distBody(validDistEvent) + `x`, err: ErrMalformed},
		{name: "wrong field type", body: distBody(`{"id":"e","action":"push","target":{"repository":5}}`), err: ErrMalformed},
		{name: "kept event without id", body: distBody(strings.Replace(validDistEvent, `"id":"e1"`, `"id":""`, 1)), err: ErrMalformed},
		{name: "id with control characters", body: distBody(strings.Replace(validDistEvent, `"id":"e1"`, `"id":"e\r\nX: y"`, 1)), err: ErrMalformed},
		{name: "kept event without repository", body: distBody(event("push", ociManifest, "sha256:abc", "", "1")), err: ErrMalformed},
		{name: "invalid repository", body: distBody(event("push", ociManifest, "sha256:abc", "Packages/../x", "1")), err: ErrMalformed},
		{name: "invalid tag", body: distBody(event("push", ociManifest, "sha256:abc", "p", "-1")), err: ErrMalformed},
		{name: "invalid digest", body: distBody(event("delete", "", "sha256", "p", "")), err: ErrMalformed},
		{name: "invalid timestamp", body: distBody(strings.Replace(validDistEvent, `2026-01-02T03:04:05Z`, `yesterday`, 1)), err: ErrMalformed},
		{name: "one bad kept event rejects the batch",
			body: `{"events":[` + validDistEvent + `,` + event("push", ociManifest, "sha256:abc", "", "1") + `]}`, err: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			switch tt.contentType {
			case "":
				h.Set("Content-Type", DistributionMediaType)
			case "-":
			default:
				h.Set("Content-Type", tt.contentType)
			}
			res, err := ParseDistribution(h, []byte(tt.body))
			checkResult(t, res, err, tt.want, tt.ignored, tt.err)
		})
	}
}

func checkResult(t *testing.T, res Result, err error, want []events.Event, ignored []string, wantErr error) {
	t.Helper()
	if wantErr != nil {
		if !errors.Is(err, wantErr) {
			t.Fatalf("err = %v, want %v", err, wantErr)
		}
		if strings.ContainsAny(err.Error(), "\r\n") {
			t.Errorf("error is not one line: %q", err)
		}
		if len(res.Events)+len(res.Ignored) != 0 {
			t.Errorf("error came with a result: %+v", res)
		}
		return
	}
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if !reflect.DeepEqual(res.Events, want) {
		t.Errorf("events = %+v\nwant     %+v", res.Events, want)
	}
	var reasons []string
	for _, ig := range res.Ignored {
		reasons = append(reasons, ig.Reason)
	}
	if !reflect.DeepEqual(reasons, ignored) {
		t.Errorf("ignored = %q, want %q", reasons, ignored)
	}
}

func TestParseZot(t *testing.T) {
	data := `{"name":"packages/nginx","reference":"1.0.0","digest":"sha256:abc","mediaType":"application/vnd.oci.image.manifest.v1+json"}`
	binary := func(typ string) http.Header {
		return http.Header{"Content-Type": {"application/json"}, "Ce-Specversion": {"1.0"}, "Ce-Id": {"i1"},
			"Ce-Source": {"zot.example"}, "Ce-Type": {typ}, "Ce-Time": {"2026-01-02T03:04:05Z"}}
	}
	with := func(h http.Header, key, value string) http.Header {
		h = h.Clone()
		if value == "" {
			h.Del(key)
		} else {
			h.Set(key, value)
		}
		return h
	}
	structured := func(typ, dataField string) string {
		return `{"specversion":"1.0","id":"i1","source":"zot.example","type":"` + typ +
			`","datacontenttype":"application/json","time":"2026-01-02T03:04:05Z",` + dataField + `}`
	}
	push := events.Event{ID: "zot.example/i1", Format: events.FormatZot, Repository: "packages/nginx", Tag: "1.0.0",
		Digest: "sha256:abc", MediaType: ociManifest, Action: events.ActionPush, Time: ts(t, "2026-01-02T03:04:05Z")}
	del := push
	del.Action = events.ActionDelete
	byDigest := push
	byDigest.Tag, byDigest.Digest = "", "sha256:def"
	ce := http.Header{"Content-Type": {CloudEventsMediaType}}

	tests := []struct {
		name    string
		header  http.Header
		body    string
		want    []events.Event
		ignored []string
		err     error
	}{
		{name: "binary push", header: binary(ZotImageUpdated), body: data, want: []events.Event{push}},
		{name: "binary delete", header: binary(ZotImageDeleted), body: data, want: []events.Event{del}},
		{name: "binary push by digest reference", header: binary(ZotImageUpdated),
			body: `{"name":"packages/nginx","reference":"sha256:def","digest":"sha256:def","mediaType":"` + ociManifest + `"}`,
			want: []events.Event{byDigest}},
		{name: "binary content type with charset", header: with(binary(ZotImageUpdated), "Content-Type", "application/json; charset=utf-8"),
			body: data, want: []events.Event{push}},
		{name: "structured push", header: ce, body: structured(ZotImageUpdated, `"data":`+data), want: []events.Event{push}},
		{name: "structured data_base64", header: ce,
			body: structured(ZotImageUpdated, `"data_base64":"eyJuYW1lIjoicGFja2FnZXMvbmdpbngiLCJyZWZlcmVuY2UiOiIxLjAuMCIsImRpZ2VzdCI6InNoYTI1NjphYmMiLCJtZWRpYVR5cGUiOiJhcHBsaWNhdGlvbi92bmQub2NpLmltYWdlLm1hbmlmZXN0LnYxK2pzb24ifQ=="`),
			want: []events.Event{push}},
		{name: "structured batch", header: http.Header{"Content-Type": {CloudEventsBatchMediaType}},
			body: `[` + structured(ZotImageUpdated, `"data":`+data) + `,` + structured(ZotRepositoryCreated, `"data":{}`) + `]`,
			want: []events.Event{push}, ignored: []string{"repository created (no manifest yet)"}},
		{name: "scanned", header: binary("zotregistry.image.scanned"), body: data, ignored: []string{`event type "zotregistry.image.scanned" not indexed`}},
		{name: "lint failed", header: binary("zotregistry.image.lint_failed"), body: data, ignored: []string{`event type "zotregistry.image.lint_failed" not indexed`}},
		{name: "repository created with any body", header: binary(ZotRepositoryCreated), body: `not json`, ignored: []string{"repository created (no manifest yet)"}},
		{name: "fallback tag", header: binary(ZotImageUpdated), body: `{"name":"p","reference":"sha256-` + strings.Repeat("0", 64) + `"}`,
			ignored: []string{"referrers fallback tag"}},
		{name: "no reference or digest", header: binary(ZotImageDeleted), body: `{"name":"p"}`, ignored: []string{"image event without tag or digest"}},

		{name: "text content type", header: with(binary(ZotImageUpdated), "Content-Type", "text/plain"), body: data, err: ErrContentType},
		{name: "no content type", header: with(binary(ZotImageUpdated), "Content-Type", ""), body: data, err: ErrContentType},
		{name: "distribution content type", header: http.Header{"Content-Type": {DistributionMediaType}}, body: distBody(validDistEvent), err: ErrContentType},
		{name: "plain JSON without CloudEvents headers", header: http.Header{"Content-Type": {"application/json"}}, body: data, err: ErrMalformed},
		{name: "binary without type", header: with(binary(ZotImageUpdated), "Ce-Type", ""), body: data, err: ErrMalformed},
		{name: "binary body not JSON", header: binary(ZotImageUpdated), body: `{"name":`, err: ErrMalformed},
		{name: "binary empty body", header: binary(ZotImageUpdated), body: ``, err: ErrMalformed},
		{name: "binary without id", header: with(binary(ZotImageUpdated), "Ce-Id", ""), body: data, err: ErrMalformed},
		{name: "binary without source", header: with(binary(ZotImageUpdated), "Ce-Source", ""), body: data, err: ErrMalformed},
		{name: "binary old specversion", header: with(binary(ZotImageUpdated), "Ce-Specversion", "0.3"), body: data, err: ErrMalformed},
		{name: "binary bad time", header: with(binary(ZotImageUpdated), "Ce-Time", "noon"), body: data, err: ErrMalformed},
		{name: "binary without name", header: binary(ZotImageUpdated), body: `{"reference":"1.0.0"}`, err: ErrMalformed},
		{name: "binary invalid name", header: binary(ZotImageUpdated), body: `{"name":"a b","reference":"1.0.0"}`, err: ErrMalformed},
		{name: "binary data is an array", header: binary(ZotImageUpdated), body: `[]`, err: ErrMalformed},
		{name: "structured not JSON", header: ce, body: `{`, err: ErrMalformed},
		{name: "structured without type", header: ce, body: structured("", `"data":`+data), err: ErrMalformed},
		{name: "structured without data", header: ce, body: structured(ZotImageUpdated, `"x":1`), err: ErrMalformed},
		{name: "structured bad base64", header: ce, body: structured(ZotImageUpdated, `"data_base64":"!!"`), err: ErrMalformed},
		{name: "structured non-JSON data", header: ce,
			body: strings.Replace(structured(ZotImageUpdated, `"data":`+data), `"datacontenttype":"application/json"`, `"datacontenttype":"text/plain"`, 1),
			err:  ErrMalformed},
		{name: "batch not an array", header: http.Header{"Content-Type": {CloudEventsBatchMediaType}}, body: structured(ZotImageUpdated, `"data":`+data), err: ErrMalformed},
		{name: "batch with a malformed event", header: http.Header{"Content-Type": {CloudEventsBatchMediaType}},
			body: `[` + structured(ZotImageUpdated, `"data":`+data) + `,{}]`, err: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := ParseZot(tt.header, []byte(tt.body))
			checkResult(t, res, err, tt.want, tt.ignored, tt.err)
		})
	}
}

// The same Zot event reaches the http and the nats sink with the same id; both paths must yield
// the same event so that consumers can recognise it.
func TestZotSinksAgree(t *testing.T) {
	h, body := loadZotHTTP(t, "testdata/zot-http-image-deleted-tag.http")
	fromHTTP, err := ParseZot(h, body)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile("testdata/zot-nats-image-deleted.json")
	if err != nil {
		t.Fatal(err)
	}
	fromNATS, err := DecodeStreamMessage(events.ZotSubject, data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fromHTTP.Events, fromNATS) {
		t.Fatalf("http sink %+v, nats sink %+v", fromHTTP.Events, fromNATS)
	}
}

func TestDecodeStreamMessage(t *testing.T) {
	ev := events.Event{ID: "e1", Format: events.FormatDistribution, Repository: "packages/nginx", Tag: "1.0.0",
		Action: events.ActionPush, Time: ts(t, "2026-01-02T03:04:05Z")}
	data, err := ev.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeStreamMessage(events.Subject(ev.Repository), data)
	if err != nil || !reflect.DeepEqual(got, []events.Event{ev}) {
		t.Fatalf("normalised event: %+v, %v", got, err)
	}
	for name, tc := range map[string]struct{ subject, data string }{
		"normalised garbage":        {events.Subject("p"), `{`},
		"normalised without action": {events.Subject("p"), `{"id":"x","repository":"p"}`},
		"zot garbage":               {events.ZotSubject, `{`},
		"zot image without name":    {events.ZotSubject, `{"specversion":"1.0","id":"1","source":"s","type":"` + ZotImageUpdated + `","data":{}}`},
	} {
		if evs, err := DecodeStreamMessage(tc.subject, []byte(tc.data)); err == nil {
			t.Errorf("%s: decoded %+v, want error", name, evs)
		}
	}
	evs, err := DecodeStreamMessage(events.ZotSubject, []byte(`{"specversion":"1.0","id":"1","source":"s","type":"`+ZotRepositoryCreated+`"}`))
	if err != nil || len(evs) != 0 {
		t.Fatalf("ignored zot event: %+v, %v; want nothing, no error", evs, err)
	}
}
