package webhook

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/oci-epr/package-registry/internal/events"
)

// Event types of Zot's events extension.
const (
	ZotImageUpdated      = "zotregistry.image.updated"
	ZotImageDeleted      = "zotregistry.image.deleted"
	ZotRepositoryCreated = "zotregistry.repository.created"
)

// CloudEvents structured-mode media types.
const (
	CloudEventsMediaType      = "application/cloudevents+json"
	CloudEventsBatchMediaType = "application/cloudevents-batch+json"
)

// cloudEvent holds the attributes the parser reads, from either content mode.
type cloudEvent struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	DataContentType string          `json:"datacontenttype"`
	Time            string          `json:"time"`
	Data            json.RawMessage `json:"data"`
	DataBase64      string          `json:"data_base64"`
}

type zotData struct {
	Name      string `json:"name"`
	Reference string `json:"reference"`
	Digest    string `json:"digest"`
	MediaType string `json:"mediaType"`
}

// ParseZot reads a notification from Zot's http events sink: a CloudEvent in binary mode (Ce-*
// headers, the body is the data) as Zot sends it, or in structured mode
// (application/cloudevents+json, or a -batch+json array). It keeps zotregistry.image.updated as
// a push and zotregistry.image.deleted as a delete and ignores every other type.
func ParseZot(header http.Header, body []byte) (Result, error) {
	contentType := header.Get("Content-Type")
	mt, err := mediaType(contentType)
	if err != nil {
		return Result{}, err
	}
	switch mt {
	case CloudEventsMediaType:
		return ParseCloudEvent(body)
	case CloudEventsBatchMediaType:
		var batch []json.RawMessage
		if err := json.Unmarshal(body, &batch); err != nil {
			return Result{}, malformed("invalid JSON: %v", err)
		}
		var res Result
		for _, raw := range batch {
			r, err := ParseCloudEvent(raw)
			if err != nil {
				return Result{}, err
			}
			res.Events = append(res.Events, r.Events...)
			res.Ignored = append(res.Ignored, r.Ignored...)
		}
		return res, nil
	case "application/json":
		// Binary mode. The README's capture of repository.created shows that not every attribute
		// header is always there, so any one of them marks the mode; the attributes an event
		// needs are checked only once its type says it is kept.
		if header.Get("Ce-Specversion") == "" && header.Get("Ce-Type") == "" && header.Get("Ce-Id") == "" {
			return Result{}, malformed("not a CloudEvent: no Ce-Specversion, Ce-Type or Ce-Id header")
		}
		ce := cloudEvent{
			SpecVersion:     header.Get("Ce-Specversion"),
			ID:              header.Get("Ce-Id"),
			Source:          header.Get("Ce-Source"),
			Type:            header.Get("Ce-Type"),
			DataContentType: contentType,
			Time:            header.Get("Ce-Time"),
			Data:            body,
		}
		return ce.parse()
	}
	return Result{}, fmt.Errorf("%w: %s, want application/json (CloudEvents binary mode) or %s",
		ErrContentType, quote(mt), CloudEventsMediaType)
}

// ParseCloudEvent reads one CloudEvent in structured JSON mode, the form of Zot's NATS sink
// messages and of application/cloudevents+json requests.
func ParseCloudEvent(data []byte) (Result, error) {
	var ce cloudEvent
	if err := json.Unmarshal(data, &ce); err != nil {
		return Result{}, malformed("invalid JSON: %v", err)
	}
	return ce.parse()
}

// DecodeStreamMessage is the events.Decoder for the registry event stream: messages on
// events.ZotSubject are Zot's NATS sink CloudEvents, everything else is a normalised event.
// Ignored CloudEvents decode to no events, so the consumer acknowledges them without work.
func DecodeStreamMessage(subject string, data []byte) ([]events.Event, error) {
	if subject != events.ZotSubject {
		return events.DecodeMessage(subject, data)
	}
	res, err := ParseCloudEvent(data)
	if err != nil {
		return nil, err
	}
	return res.Events, nil
}

// eventID is the dedupe key of a CloudEvent: ids are unique only within a source.
func (ce cloudEvent) eventID() string {
	if ce.Source == "" {
		return ce.ID
	}
	return ce.Source + "/" + ce.ID
}

func (ce cloudEvent) parse() (Result, error) {
	var res Result
	var action events.Action
	switch ce.Type {
	case ZotImageUpdated:
		action = events.ActionPush
	case ZotImageDeleted:
		action = events.ActionDelete
	case "":
		return Result{}, malformed("CloudEvent has no type")
	case ZotRepositoryCreated:
		// The first blob upload creates the repository; image.updated follows with the manifest.
		res.ignore(ce.eventID(), "repository created (no manifest yet)")
		return res, nil
	default:
		res.ignore(ce.eventID(), "event type "+quote(ce.Type)+" not indexed")
		return res, nil
	}
	switch {
	case ce.SpecVersion != "1.0":
		return Result{}, malformed("CloudEvent %s: unsupported specversion %s", quote(ce.ID), quote(ce.SpecVersion))
	case ce.ID == "":
		return Result{}, malformed("CloudEvent has no id")
	case ce.Source == "":
		return Result{}, malformed("CloudEvent %s has no source", quote(ce.ID))
	}
	id := ce.eventID()
	data, err := ce.jsonData()
	if err != nil {
		return Result{}, err
	}
	var zd zotData
	if err := json.Unmarshal(data, &zd); err != nil {
		return Result{}, malformed("CloudEvent %s: invalid data: %v", quote(ce.ID), err)
	}
	if zd.Name == "" {
		return Result{}, malformed("CloudEvent %s: data has no name", quote(ce.ID))
	}
	ev := events.Event{
		ID:         id,
		Format:     events.FormatZot,
		Repository: zd.Name,
		MediaType:  zd.MediaType,
		Action:     action,
	}
	switch {
	case zd.Reference == "":
		ev.Digest = zd.Digest
	case strings.Contains(zd.Reference, ":"):
		// A tag cannot contain ':', so this is a push or delete by digest (e.g. a referrer).
		ev.Digest = zd.Reference
	default:
		ev.Tag, ev.Digest = zd.Reference, zd.Digest
	}
	switch {
	case isFallbackTag(ev.Tag):
		res.ignore(id, "referrers fallback tag")
		return res, nil
	case ev.Tag == "" && ev.Digest == "":
		res.ignore(id, "image event without tag or digest")
		return res, nil
	}
	if ev.Time, err = parseTime(ce.ID, "time", ce.Time); err != nil {
		return Result{}, err
	}
	if err := checkKept(ev); err != nil {
		return Result{}, err
	}
	res.Events = append(res.Events, ev)
	return res, nil
}

// jsonData returns the event's data as JSON, whichever way it was carried.
func (ce cloudEvent) jsonData() ([]byte, error) {
	if ce.DataContentType != "" {
		mt, err := mediaType(ce.DataContentType)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return nil, malformed("CloudEvent %s: data content type %s is not JSON", quote(ce.ID), quote(ce.DataContentType))
		}
	}
	data := []byte(ce.Data)
	if len(data) == 0 && ce.DataBase64 != "" {
		var err error
		if data, err = base64.StdEncoding.DecodeString(ce.DataBase64); err != nil {
			return nil, malformed("CloudEvent %s: invalid data_base64", quote(ce.ID))
		}
	}
	if len(data) == 0 {
		return nil, malformed("CloudEvent %s has no data", quote(ce.ID))
	}
	return data, nil
}
