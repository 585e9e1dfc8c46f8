package webhook

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/oci-epr/package-registry/internal/events"
)

// DockerHubRegistry is the registry address Docker Hub's events name; oci.EndpointFor knows
// which host serves it.
const DockerHubRegistry = "docker.io"

type dockerHubPush struct {
	PushData *struct {
		PushedAt json.Number `json:"pushed_at"`
		Tag      string      `json:"tag"`
	} `json:"push_data"`
	Repository struct {
		RepoName string `json:"repo_name"`
	} `json:"repository"`
}

// ParseDockerHub reads a Docker Hub repository webhook. Docker Hub sends one kind of body, for a
// push of one tag, without an id or an event type; the id is derived from the body, which holds
// the push time, so a redelivery is stored once and a later push of the same tag is not. Docker
// Hub reports no deletes; the resync covers them.
func ParseDockerHub(header http.Header, body []byte) (Result, error) {
	if err := requireJSON(header); err != nil {
		return Result{}, err
	}
	var p dockerHubPush
	if err := json.Unmarshal(body, &p); err != nil {
		return Result{}, malformed("invalid JSON: %v", err)
	}
	if p.PushData == nil {
		return Result{}, malformed("no push_data")
	}
	if p.Repository.RepoName == "" {
		return Result{}, malformed("no repository.repo_name")
	}
	id := bodyID(events.FormatDockerHub, body, "")
	var res Result
	if p.PushData.Tag == "" {
		res.ignore(id, "push without tag")
		return res, nil
	}
	ev := events.Event{
		ID:         id,
		Format:     events.FormatDockerHub,
		Registry:   DockerHubRegistry,
		Repository: p.Repository.RepoName,
		Tag:        p.PushData.Tag,
		Action:     events.ActionPush,
	}
	if p.PushData.PushedAt != "" {
		// Seconds since the epoch; documented examples show an integer, older ones a float.
		secs, err := p.PushData.PushedAt.Float64()
		if err != nil || secs < 0 || secs > 1e11 {
			return Result{}, malformed("invalid push_data.pushed_at %s", quote(p.PushData.PushedAt.String()))
		}
		ev.Time = time.Unix(int64(secs), 0).UTC()
	}
	if isFallbackTag(ev.Tag) {
		res.ignore(id, "referrers fallback tag")
		return res, nil
	}
	if err := checkKept(ev); err != nil {
		return Result{}, err
	}
	res.Events = append(res.Events, ev)
	return res, nil
}
