package webhook

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/oci-epr/package-registry/internal/events"
)

// DistributionMediaType is the Content-Type of CNCF distribution notifications.
const DistributionMediaType = "application/vnd.docker.distribution.events.v2+json"

const blobMediaType = "application/octet-stream"

// distEnvelope declares only what the parser reads, so that a field the parser ignores can never
// make a body malformed.
type distEnvelope struct {
	// A pointer tells a missing or null array (malformed) from an empty one (nothing to do).
	Events *[]distEvent `json:"events"`
}

type distEvent struct {
	ID        string `json:"id"`
	Timestamp string `json:"timestamp"`
	Action    string `json:"action"`
	Target    struct {
		MediaType  string `json:"mediaType"`
		Digest     string `json:"digest"`
		Repository string `json:"repository"`
		Tag        string `json:"tag"`
	} `json:"target"`
	Request struct {
		Host string `json:"host"`
	} `json:"request"`
}

// ParseDistribution reads a CNCF distribution notification envelope. It keeps manifest pushes
// (by tag or by digest), tag deletes and manifest deletes, and ignores pulls, mounts, blob events
// and referrers fallback tags. An envelope may hold several events (distribution v3.1.2 sends
// one, forks may batch); one malformed event that would have been kept rejects the whole body,
// so a request is either stored whole or not at all.
func ParseDistribution(header http.Header, body []byte) (Result, error) {
	mt, err := mediaType(header.Get("Content-Type"))
	if err != nil {
		return Result{}, err
	}
	if mt != DistributionMediaType {
		return Result{}, fmt.Errorf("%w: %s, want %s", ErrContentType, quote(mt), DistributionMediaType)
	}
	var env distEnvelope
	if err := json.Unmarshal(body, &env); err != nil {
		return Result{}, malformed("invalid JSON: %v", err)
	}
	if env.Events == nil {
		return Result{}, malformed("no events array")
	}
	var res Result
	for _, de := range *env.Events {
		if reason := de.ignoreReason(); reason != "" {
			res.ignore(de.ID, reason)
			continue
		}
		ev := events.Event{
			ID:         de.ID,
			Format:     events.FormatDistribution,
			Registry:   de.Request.Host,
			Repository: de.Target.Repository,
			Tag:        de.Target.Tag,
			Digest:     de.Target.Digest,
			MediaType:  de.Target.MediaType,
			Action:     events.Action(de.Action),
		}
		if ev.Time, err = parseTime(de.ID, "timestamp", de.Timestamp); err != nil {
			return Result{}, err
		}
		if err := checkKept(ev); err != nil {
			return Result{}, err
		}
		res.Events = append(res.Events, ev)
	}
	return res, nil
}

// ignoreReason says why an event is not worth indexing, or "" to keep it.
func (de distEvent) ignoreReason() string {
	t := de.Target
	switch de.Action {
	case "push":
		switch {
		case t.MediaType == blobMediaType:
			return "blob push"
		case !manifestMediaTypes[t.MediaType]:
			return "push of non-manifest media type " + quote(t.MediaType)
		case isFallbackTag(t.Tag):
			return "referrers fallback tag"
		case t.Tag == "" && t.Digest == "":
			return "manifest push without tag or digest"
		}
		return ""
	case "delete":
		switch {
		// v3.1.2 sends "" on every delete; a fork that reports the blob type is deleting a blob.
		case t.MediaType == blobMediaType:
			return "blob delete"
		case isFallbackTag(t.Tag):
			return "referrers fallback tag"
		case t.Tag == "" && t.Digest == "":
			return "delete without tag or digest"
		}
		return ""
	case "pull":
		return "pull"
	case "mount":
		return "blob mount"
	}
	return "unknown action " + quote(de.Action)
}
