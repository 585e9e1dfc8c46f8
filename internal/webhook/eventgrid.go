package webhook

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/oci-epr/package-registry/internal/events"
)

// Event types of Azure Container Registry on Event Grid, and Event Grid's own.
const (
	EventGridImagePushed  = "Microsoft.ContainerRegistry.ImagePushed"
	EventGridImageDeleted = "Microsoft.ContainerRegistry.ImageDeleted"
	EventGridValidation   = "Microsoft.EventGrid.SubscriptionValidationEvent"
)

// EventGridValidationReply is the answer to Event Grid's subscription validation event.
type EventGridValidationReply struct {
	ValidationResponse string `json:"validationResponse"`
}

// eventGridEvent is one event of the Event Grid schema.
type eventGridEvent struct {
	ID        string          `json:"id"`
	Topic     string          `json:"topic"`
	EventType string          `json:"eventType"`
	EventTime string          `json:"eventTime"`
	Data      json.RawMessage `json:"data"`
}

// ParseEventGrid reads Azure Container Registry events delivered by Event Grid to a webhook, in
// either output schema: the Event Grid schema (application/json, always an array) or the
// CloudEvents 1.0 schema (application/cloudevents+json, or -batch+json for an array). It keeps
// ImagePushed and ImageDeleted and ignores chart and other types. A subscription validation
// event is answered with its validation code (Result.Reply); the CloudEvents schema validates
// with an OPTIONS request instead, which the handler answers. The dedupe id is topic/id
// (source/id for CloudEvents), as ids are unique only per topic.
func ParseEventGrid(header http.Header, body []byte) (Result, error) {
	mt, err := mediaType(header.Get("Content-Type"))
	if err != nil {
		return Result{}, err
	}
	switch mt {
	case CloudEventsMediaType:
		var ce cloudEvent
		if err := json.Unmarshal(body, &ce); err != nil {
			return Result{}, malformed("invalid JSON: %v", err)
		}
		return ce.parseACR()
	case CloudEventsBatchMediaType:
		var batch []cloudEvent
		if err := json.Unmarshal(body, &batch); err != nil {
			return Result{}, malformed("invalid JSON: %v", err)
		}
		var res Result
		for _, ce := range batch {
			r, err := ce.parseACR()
			if err != nil {
				return Result{}, err
			}
			res.merge(r)
		}
		return res, nil
	case "application/json":
	default:
		return Result{}, fmt.Errorf("%w: %s, want application/json (Event Grid schema) or %s",
			ErrContentType, quote(mt), CloudEventsMediaType)
	}
	var batch []eventGridEvent
	if trimmed := bytes.TrimSpace(body); len(trimmed) > 0 && trimmed[0] == '{' {
		// Event Grid always sends an array; one object is accepted for hand-made requests.
		var one eventGridEvent
		if err := json.Unmarshal(body, &one); err != nil {
			return Result{}, malformed("invalid JSON: %v", err)
		}
		batch = []eventGridEvent{one}
	} else if err := json.Unmarshal(body, &batch); err != nil {
		return Result{}, malformed("invalid JSON: %v", err)
	}
	var res Result
	for _, eg := range batch {
		r, err := eg.parse()
		if err != nil {
			return Result{}, err
		}
		res.merge(r)
	}
	if res.Reply != nil && len(res.Events) > 0 {
		return Result{}, malformed("subscription validation mixed with other events")
	}
	return res, nil
}

func (r *Result) merge(o Result) {
	r.Events = append(r.Events, o.Events...)
	r.Ignored = append(r.Ignored, o.Ignored...)
	if o.Reply != nil {
		r.Reply = o.Reply
	}
}

func (eg eventGridEvent) parse() (Result, error) {
	if eg.EventType == "" {
		return Result{}, malformed("Event Grid event has no eventType")
	}
	id := eg.ID
	if eg.Topic != "" {
		id = eg.Topic + "/" + eg.ID
	}
	var res Result
	switch eg.EventType {
	case EventGridValidation:
		var v struct {
			ValidationCode string `json:"validationCode"`
		}
		if err := json.Unmarshal(eg.Data, &v); err != nil || v.ValidationCode == "" {
			return Result{}, malformed("subscription validation event without validationCode")
		}
		res.Reply = EventGridValidationReply{ValidationResponse: v.ValidationCode}
		res.ignore(id, "subscription validation (answered)")
		return res, nil
	case EventGridImagePushed, EventGridImageDeleted:
	default:
		res.ignore(id, "event type "+quote(eg.EventType)+" not indexed")
		return res, nil
	}
	if eg.ID == "" {
		return Result{}, malformed("Event Grid event has no id")
	}
	return acrData(id, eg.EventType, eg.EventTime, eg.Data)
}

// parseACR reads one CloudEvent of the Event Grid CloudEvents schema.
func (ce cloudEvent) parseACR() (Result, error) {
	var res Result
	switch ce.Type {
	case EventGridImagePushed, EventGridImageDeleted:
	case "":
		return Result{}, malformed("CloudEvent has no type")
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
	data, err := ce.jsonData()
	if err != nil {
		return Result{}, err
	}
	return acrData(ce.eventID(), ce.Type, ce.Time, data)
}

// acrData reads the data of an ACR event on Event Grid: the registry's event, as its webhooks
// send it. The event type decides the action.
func acrData(id, eventType, at string, data []byte) (Result, error) {
	var de distEvent
	if err := json.Unmarshal(data, &de); err != nil || len(data) == 0 {
		return Result{}, malformed("event %s: invalid data", quote(id))
	}
	de.Action = "push"
	if eventType == EventGridImageDeleted {
		de.Action = "delete"
	}
	return acrEvent(events.FormatEventGrid, id, at, de)
}
