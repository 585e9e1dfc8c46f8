package webhook

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"

	"github.com/oci-epr/package-registry/internal/events"
)

// Artifactory webhook events of the docker domain that the parser keeps.
const (
	ArtifactoryDockerPushed  = "pushed"
	ArtifactoryDockerDeleted = "deleted"
)

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

type artifactoryBody struct {
	Domain    string `json:"domain"`
	EventType string `json:"event_type"`
	JPDOrigin string `json:"jpd_origin"`
	Data      *struct {
		RepoKey   string `json:"repo_key"`
		ImageName string `json:"image_name"`
		Tag       string `json:"tag"`
		SHA256    string `json:"sha256"`
	} `json:"data"`
}

// ParseArtifactory reads a notification of a JFrog Artifactory webhook of the docker domain.
// It keeps "pushed" and "deleted" (a tag of an image) and ignores "promoted" and every other
// domain. The repository is "<repo_key>/<image_name>", the path under which Artifactory's
// repository-path access method serves the image (<host>/<repo_key>/<image>); the digest is the
// sha256 of the manifest file the event names. Payloads carry no id, so the id is a hash of the
// body.
func ParseArtifactory(header http.Header, body []byte) (Result, error) {
	mt, err := mediaType(header.Get("Content-Type"))
	if err != nil {
		return Result{}, err
	}
	if mt != "application/json" {
		return Result{}, fmt.Errorf("%w: %s, want application/json", ErrContentType, quote(mt))
	}
	var ab artifactoryBody
	if err := json.Unmarshal(body, &ab); err != nil {
		return Result{}, malformed("invalid JSON: %v", err)
	}
	id := bodyID(events.FormatArtifactory, body, "")
	var res Result
	var action events.Action
	switch {
	case ab.Domain == "" || ab.EventType == "":
		return Result{}, malformed("Artifactory notification without domain or event_type")
	case ab.Domain != "docker":
		res.ignore(id, "domain "+quote(ab.Domain)+" not indexed")
		return res, nil
	case ab.EventType == ArtifactoryDockerPushed:
		action = events.ActionPush
	case ab.EventType == ArtifactoryDockerDeleted:
		action = events.ActionDelete
	default:
		res.ignore(id, "docker event "+quote(ab.EventType)+" not indexed")
		return res, nil
	}
	if ab.Data == nil {
		return Result{}, malformed("Artifactory notification has no data")
	}
	d := ab.Data
	if d.RepoKey == "" || d.ImageName == "" {
		return Result{}, malformed("Artifactory notification without repo_key or image_name")
	}
	host, _ := splitImage(ab.JPDOrigin + "/")
	ev := events.Event{
		ID:         id,
		Format:     events.FormatArtifactory,
		Registry:   host,
		Repository: d.RepoKey + "/" + d.ImageName,
		Tag:        d.Tag,
		Action:     action,
	}
	if sha256Hex.MatchString(d.SHA256) {
		ev.Digest = "sha256:" + d.SHA256
	}
	switch {
	case isFallbackTag(ev.Tag):
		res.ignore(id, "referrers fallback tag")
		return res, nil
	case ev.Tag == "" && ev.Digest == "":
		res.ignore(id, "docker event without tag or digest")
		return res, nil
	}
	if err := checkKept(ev); err != nil {
		return Result{}, err
	}
	res.Events = append(res.Events, ev)
	return res, nil
}
