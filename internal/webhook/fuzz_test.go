package webhook

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oci-epr/package-registry/internal/events"
)

func seedFiles(f *testing.F, pattern string) []string {
	f.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", pattern))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seeds for %s: %v", pattern, err)
	}
	return files
}

// checkParsed holds for every input: an error is one of the parser's two kinds, one line, with no
// result; a result only holds events that can be published.
func checkParsed(t *testing.T, res Result, err error, format string) {
	t.Helper()
	if err != nil {
		if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrContentType) {
			t.Fatalf("error of unknown kind: %v", err)
		}
		if strings.ContainsAny(err.Error(), "\r\n") {
			t.Fatalf("error is not one line: %q", err)
		}
		if len(res.Events)+len(res.Ignored) != 0 {
			t.Fatalf("error came with a result")
		}
		return
	}
	for _, ev := range res.Events {
		if err := checkKept(ev); err != nil {
			t.Fatalf("kept an event that cannot be published: %+v: %v", ev, err)
		}
		if ev.Format != format {
			t.Fatalf("event format %q, want %q", ev.Format, format)
		}
		if ev.Tag == "" && ev.Digest == "" {
			t.Fatalf("kept event names neither tag nor digest: %+v", ev)
		}
		// What reaches the stream must decode back to the same event.
		data, err := ev.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		back, err := DecodeStreamMessage(events.Subject(ev.Repository), data)
		if err != nil || len(back) != 1 || !back[0].Time.Equal(ev.Time) {
			t.Fatalf("round trip of %+v: %+v, %v", ev, back, err)
		}
	}
	for _, ig := range res.Ignored {
		if ig.Reason == "" {
			t.Fatalf("ignored without a reason: %+v", ig)
		}
	}
}

func FuzzParseDistribution(f *testing.F) {
	// GitLab's registry is a distribution fork: its fixtures seed the same parser.
	for _, path := range append(seedFiles(f, "distribution-*.json"), seedFiles(f, "gitlab-*.json")...) {
		body, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(DistributionMediaType, body)
	}
	f.Add(DistributionMediaType, []byte(distBody(validDistEvent)))
	f.Add("application/json", []byte(`{"events":[]}`))
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		res, err := ParseDistribution(http.Header{"Content-Type": {contentType}}, body)
		checkParsed(t, res, err, events.FormatDistribution)
	})
}

func FuzzParseZot(f *testing.F) {
	for _, path := range seedFiles(f, "zot-http-*.http") {
		h, body := loadZotHTTP(f, path)
		f.Add(h.Get("Content-Type"), h.Get("Ce-Specversion"), h.Get("Ce-Type"), h.Get("Ce-Id"), h.Get("Ce-Source"), h.Get("Ce-Time"), body)
	}
	// Structured mode, as the NATS sink sends it.
	for _, path := range seedFiles(f, "zot-nats-*.json") {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(CloudEventsMediaType, "", "", "", "", "", data)
		f.Add(CloudEventsBatchMediaType, "", "", "", "", "", append(append([]byte("["), data...), ']'))
	}
	f.Fuzz(func(t *testing.T, contentType, specVersion, typ, id, source, at string, body []byte) {
		h := http.Header{}
		for k, v := range map[string]string{"Content-Type": contentType, "Ce-Specversion": specVersion,
			"Ce-Type": typ, "Ce-Id": id, "Ce-Source": source, "Ce-Time": at} {
			if v != "" {
				h.Set(k, v)
			}
		}
		res, err := ParseZot(h, body)
		checkParsed(t, res, err, events.FormatZot)
	})
}

func FuzzDecodeStreamMessage(f *testing.F) {
	for _, path := range seedFiles(f, "zot-nats-*.json") {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(events.ZotSubject, data)
	}
	f.Add(events.Subject("packages/nginx"), []byte(`{"id":"e1","format":"distribution","repository":"packages/nginx","tag":"1.0.0","action":"push","time":"2026-01-02T03:04:05Z"}`))
	f.Fuzz(func(t *testing.T, subject string, data []byte) {
		evs, err := DecodeStreamMessage(subject, data)
		if err != nil {
			if len(evs) != 0 {
				t.Fatal("error came with events")
			}
			return
		}
		for _, ev := range evs {
			if err := ev.Validate(); err != nil {
				t.Fatalf("decoded an invalid event %+v: %v", ev, err)
			}
		}
	})
}

// fuzzVendor seeds a fuzz target with the fixtures of one format (body and Content-Type).
func fuzzVendor(f *testing.F, pattern string) {
	f.Helper()
	for _, path := range seedFiles(f, pattern) {
		_, h, body := loadVendorFixture(f, path)
		f.Add(h.Get("Content-Type"), body)
	}
}

func FuzzParseHarbor(f *testing.F) {
	fuzzVendor(f, "harbor-*.json")
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		res, err := ParseHarbor(http.Header{"Content-Type": {contentType}}, body)
		checkParsed(t, res, err, events.FormatHarbor)
	})
}

func FuzzParseGitHub(f *testing.F) {
	for _, path := range seedFiles(f, "github-*.http") {
		_, h, body := loadVendorFixture(f, path)
		f.Add(h.Get("Content-Type"), h.Get("X-GitHub-Event"), h.Get("X-GitHub-Delivery"), body)
	}
	f.Fuzz(func(t *testing.T, contentType, event, delivery string, body []byte) {
		h := http.Header{"Content-Type": {contentType}, "X-Github-Event": {event}, "X-Github-Delivery": {delivery}}
		res, err := ParseGitHub(h, body)
		checkParsed(t, res, err, events.FormatGitHub)
		// The signature check sees the same untrusted bytes: it accepts the body's own signature
		// and never that signature for a different body.
		mac := hmac.New(sha256.New, []byte("s3cret"))
		mac.Write(body)
		sig := http.Header{"X-Hub-Signature-256": {"sha256=" + hex.EncodeToString(mac.Sum(nil))}}
		if !GitHubSignatureValid([]byte("s3cret"), sig, body) || GitHubSignatureValid([]byte("s3cret"), sig, append(bytes.Clone(body), 0)) {
			t.Fatal("signature check disagrees with HMAC-SHA256")
		}
	})
}

func FuzzParseArtifactory(f *testing.F) {
	fuzzVendor(f, "artifactory-*.json")
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		res, err := ParseArtifactory(http.Header{"Content-Type": {contentType}}, body)
		checkParsed(t, res, err, events.FormatArtifactory)
	})
}

// fuzzJSONParser fuzzes a vendor parser over its fixtures (bodies sent as application/json or
// .http requests) under content types it may see.
func fuzzJSONParser(f *testing.F, pattern, format string, parse func(http.Header, []byte) (Result, error)) {
	for _, path := range seedFiles(f, pattern) {
		h, body := loadFixture(f, path)
		f.Add(h.Get("Content-Type"), h.Get("Aeg-Event-Type"), body)
	}
	f.Add("application/json; charset=utf-8", "", []byte(`{}`))
	f.Fuzz(func(t *testing.T, contentType, eventType string, body []byte) {
		h := http.Header{}
		if contentType != "" {
			h.Set("Content-Type", contentType)
		}
		if eventType != "" {
			h.Set("Aeg-Event-Type", eventType)
		}
		res, err := parse(h, body)
		checkParsed(t, res, err, format)
	})
}

func FuzzParseQuay(f *testing.F) { fuzzJSONParser(f, "quay-*", events.FormatQuay, ParseQuay) }

func FuzzParseDockerHub(f *testing.F) {
	fuzzJSONParser(f, "dockerhub-*", events.FormatDockerHub, ParseDockerHub)
}

func FuzzParseACR(f *testing.F) { fuzzJSONParser(f, "acr-*", events.FormatACR, ParseACR) }

func FuzzParseEventGrid(f *testing.F) {
	fuzzJSONParser(f, "eventgrid-*", events.FormatEventGrid, ParseEventGrid)
}

func FuzzParseGAR(f *testing.F) { fuzzJSONParser(f, "gar-*", events.FormatGAR, ParseGAR) }
