package webhook

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sort"

	"github.com/oci-epr/package-registry/internal/events"
)

// quayPush declares what the parser reads of Quay's repo_push notification.
type quayPush struct {
	Repository string `json:"repository"`
	DockerURL  string `json:"docker_url"`
	// A list of tag names in current Quay, a map of tag to image id in older payloads.
	UpdatedTags json.RawMessage `json:"updated_tags"`
}

// ParseQuay reads a Quay (quay.io or Red Hat Quay) "Repository Push" notification sent by the
// "Webhook POST" method: one event per updated tag. Quay sends no event id, no time and no other
// event type to this body, so the id is derived from the body (a redelivery is stored once) and a
// body without updated tags is ignored. Quay reports no deletes; the resync covers them.
func ParseQuay(header http.Header, body []byte) (Result, error) {
	if err := requireJSON(header); err != nil {
		return Result{}, err
	}
	var p quayPush
	if err := json.Unmarshal(body, &p); err != nil {
		return Result{}, malformed("invalid JSON: %v", err)
	}
	if p.Repository == "" {
		return Result{}, malformed("no repository")
	}
	tags, err := quayTags(p.UpdatedTags)
	if err != nil {
		return Result{}, err
	}
	var res Result
	if len(tags) == 0 {
		res.ignore(bodyID(events.FormatQuay, body, ""), "push without updated tags")
		return res, nil
	}
	// docker_url is host/namespace/name: the host is the registry's (SERVER_HOSTNAME).
	host := parseImageRef(p.DockerURL).Host
	for _, tag := range tags {
		ev := events.Event{
			ID:         bodyID(events.FormatQuay, body, tag),
			Format:     events.FormatQuay,
			Registry:   host,
			Repository: p.Repository,
			Tag:        tag,
			Action:     events.ActionPush,
		}
		switch {
		case tag == "":
			res.ignore(ev.ID, "empty tag name")
			continue
		case isFallbackTag(tag):
			res.ignore(ev.ID, "referrers fallback tag")
			continue
		}
		if err := checkKept(ev); err != nil {
			return Result{}, err
		}
		res.Events = append(res.Events, ev)
	}
	return res, nil
}

// quayTags reads updated_tags in either shape, in a stable order.
func quayTags(raw json.RawMessage) ([]string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, nil
	}
	var tags []string
	if raw[0] == '{' {
		var byTag map[string]json.RawMessage
		if err := json.Unmarshal(raw, &byTag); err != nil {
			return nil, malformed("invalid updated_tags: %v", err)
		}
		for tag := range byTag {
			tags = append(tags, tag)
		}
		sort.Strings(tags)
		return tags, nil
	}
	if err := json.Unmarshal(raw, &tags); err != nil {
		return nil, malformed("invalid updated_tags: %v", err)
	}
	return tags, nil
}
