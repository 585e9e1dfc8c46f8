package webhook

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/oci-epr/package-registry/internal/events"
)

// Harbor notification types: the default format's and the CloudEvents format's (Harbor >= 2.8).
const (
	HarborPushArtifact    = "PUSH_ARTIFACT"
	HarborDeleteArtifact  = "DELETE_ARTIFACT"
	HarborArtifactPushed  = "harbor.artifact.pushed"
	HarborArtifactDeleted = "harbor.artifact.deleted"
)

var harborActions = map[string]events.Action{
	HarborPushArtifact:    events.ActionPush,
	HarborDeleteArtifact:  events.ActionDelete,
	HarborArtifactPushed:  events.ActionPush,
	HarborArtifactDeleted: events.ActionDelete,
}

// harborBody reads both formats at once: the CloudEvents attributes, and the default format's
// fields. "type" is shared; "specversion" tells the formats apart.
type harborBody struct {
	cloudEvent
	OccurAt   *json.Number    `json:"occur_at"`
	EventData json.RawMessage `json:"event_data"`
}

// harborData is the default format's event_data and the CloudEvents format's data.
type harborData struct {
	Resources []struct {
		Digest      string `json:"digest"`
		Tag         string `json:"tag"`
		ResourceURL string `json:"resource_url"`
	} `json:"resources"`
	Repository *struct {
		Name         string `json:"name"`
		Namespace    string `json:"namespace"`
		RepoFullName string `json:"repo_full_name"`
	} `json:"repository"`
}

// ParseHarbor reads a notification of a Harbor project webhook, in the default JSON format
// (application/json) or the CloudEvents format (structured mode, application/cloudevents+json;
// told apart by "specversion", whatever the Content-Type). It keeps artifact pushes and deletes,
// one event per resource, and ignores pulls, scans, quota, replication and retention events.
// The repository is repo_full_name ("project/repo"); the registry host is taken from the
// resource URL. The default format has no event id, so the id is a hash of the body.
func ParseHarbor(header http.Header, body []byte) (Result, error) {
	mt, err := mediaType(header.Get("Content-Type"))
	if err != nil {
		return Result{}, err
	}
	if mt != "application/json" && mt != CloudEventsMediaType {
		return Result{}, fmt.Errorf("%w: %s, want application/json or %s", ErrContentType, quote(mt), CloudEventsMediaType)
	}
	var hb harborBody
	if err := json.Unmarshal(body, &hb); err != nil {
		return Result{}, malformed("invalid JSON: %v", err)
	}
	var res Result
	cloud := hb.SpecVersion != ""
	id := bodyID(events.FormatHarbor, body, "")
	if cloud {
		id = hb.eventID()
	}
	action, kept := harborActions[hb.Type]
	switch {
	case hb.Type == "":
		return Result{}, malformed("Harbor notification has no type")
	case !kept:
		res.ignore(id, "event type "+quote(hb.Type)+" not indexed")
		return res, nil
	}

	var at time.Time
	data := []byte(hb.EventData)
	if cloud {
		switch {
		case hb.SpecVersion != "1.0":
			return Result{}, malformed("CloudEvent %s: unsupported specversion %s", quote(hb.ID), quote(hb.SpecVersion))
		case hb.ID == "":
			return Result{}, malformed("CloudEvent has no id")
		case hb.Source == "":
			return Result{}, malformed("CloudEvent %s has no source", quote(hb.ID))
		}
		if data, err = hb.jsonData(); err != nil {
			return Result{}, err
		}
		if at, err = parseTime(hb.ID, "time", hb.Time); err != nil {
			return Result{}, err
		}
	} else if hb.OccurAt != nil {
		secs, err := strconv.ParseInt(hb.OccurAt.String(), 10, 64)
		if err != nil {
			return Result{}, malformed("Harbor notification: invalid occur_at %s", quote(hb.OccurAt.String()))
		}
		at = time.Unix(secs, 0).UTC()
	}
	if len(data) == 0 {
		return Result{}, malformed("Harbor notification %s has no event data", quote(id))
	}
	var hd harborData
	if err := json.Unmarshal(data, &hd); err != nil {
		return Result{}, malformed("Harbor notification %s: invalid event data: %v", quote(id), err)
	}
	if hd.Repository == nil {
		return Result{}, malformed("Harbor notification %s has no repository", quote(id))
	}
	repository := hd.Repository.RepoFullName
	if repository == "" && hd.Repository.Namespace != "" && hd.Repository.Name != "" {
		repository = hd.Repository.Namespace + "/" + hd.Repository.Name
	}
	if len(hd.Resources) == 0 {
		res.ignore(id, "artifact event without resources")
		return res, nil
	}
	for i, r := range hd.Resources {
		evID := id
		if len(hd.Resources) > 1 {
			evID = id + "#" + strconv.Itoa(i)
		}
		host, _ := splitImage(r.ResourceURL)
		ev := events.Event{
			ID:         evID,
			Format:     events.FormatHarbor,
			Registry:   host,
			Repository: repository,
			Action:     action,
			Time:       at,
		}
		ev.Tag, ev.Digest = tagOrDigest(r.Tag, r.Digest)
		switch {
		case isFallbackTag(ev.Tag):
			res.ignore(evID, "referrers fallback tag")
			continue
		case ev.Tag == "" && ev.Digest == "":
			res.ignore(evID, "artifact without tag or digest")
			continue
		}
		if err := checkKept(ev); err != nil {
			return Result{}, err
		}
		res.Events = append(res.Events, ev)
	}
	return res, nil
}
