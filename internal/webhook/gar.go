package webhook

import (
	"encoding/base64"
	"encoding/json"
	"net/http"

	"github.com/oci-epr/package-registry/internal/events"
)

// pubsubPush is the body of a Pub/Sub push delivery (the default, wrapped payload).
type pubsubPush struct {
	Message *struct {
		Data        string `json:"data"`
		MessageID   string `json:"messageId"`
		PublishTime string `json:"publishTime"`
	} `json:"message"`
	Subscription string `json:"subscription"`
}

// garNotification is the message data Artifact Registry (and Container Registry) publish on the
// gcr topic.
type garNotification struct {
	Action string `json:"action"`
	Digest string `json:"digest"` // host/project/repository/image@sha256:...
	Tag    string `json:"tag"`    // host/project/repository/image:tag, absent when untagged
}

// ParseGAR reads a Pub/Sub push delivery of Google Artifact Registry's gcr topic. INSERT is a
// push (of a tag, or of an untagged manifest), DELETE a delete; other actions are ignored. The
// image reference's host (LOCATION-docker.pkg.dev, or gcr.io) becomes the event's registry and
// the rest its repository. The dedupe id is message.messageId, unique within the topic.
// Push subscriptions can send a Google-signed OIDC token; it is not verified here (that needs
// Google's keys from the network), so the URL carries the webhook token instead.
func ParseGAR(header http.Header, body []byte) (Result, error) {
	if err := requireJSON(header); err != nil {
		return Result{}, err
	}
	var push pubsubPush
	if err := json.Unmarshal(body, &push); err != nil {
		return Result{}, malformed("invalid JSON: %v", err)
	}
	m := push.Message
	if m == nil {
		return Result{}, malformed("no message (only wrapped Pub/Sub push payloads are read)")
	}
	if m.MessageID == "" {
		return Result{}, malformed("message has no messageId")
	}
	id := m.MessageID
	raw, err := base64.StdEncoding.DecodeString(m.Data)
	if err != nil {
		return Result{}, malformed("message %s: data is not base64", quote(id))
	}
	var n garNotification
	if err := json.Unmarshal(raw, &n); err != nil {
		return Result{}, malformed("message %s: invalid data: %v", quote(id), err)
	}
	var res Result
	var action events.Action
	switch n.Action {
	case "INSERT":
		action = events.ActionPush
	case "DELETE":
		action = events.ActionDelete
	case "":
		return Result{}, malformed("message %s: data has no action", quote(id))
	default:
		res.ignore(id, "action "+quote(n.Action)+" not indexed")
		return res, nil
	}
	ev := events.Event{ID: id, Format: events.FormatGAR, Action: action}
	digest := parseImageRef(n.Digest)
	if n.Tag != "" {
		tag := parseImageRef(n.Tag)
		if n.Digest != "" && (digest.Host != tag.Host || digest.Repository != tag.Repository) {
			return Result{}, malformed("message %s: tag and digest name different images", quote(id))
		}
		ev.Registry, ev.Repository, ev.Tag = tag.Host, tag.Repository, tag.Tag
		ev.Digest = digest.Digest
	} else {
		ev.Registry, ev.Repository, ev.Digest = digest.Host, digest.Repository, digest.Digest
	}
	switch {
	case isFallbackTag(ev.Tag):
		res.ignore(id, "referrers fallback tag")
		return res, nil
	case ev.Tag == "" && ev.Digest == "":
		res.ignore(id, "image event without tag or digest")
		return res, nil
	}
	if ev.Time, err = parseTime(id, "publishTime", m.PublishTime); err != nil {
		return Result{}, err
	}
	if err := checkKept(ev); err != nil {
		return Result{}, err
	}
	res.Events = append(res.Events, ev)
	return res, nil
}
