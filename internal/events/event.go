// Package events owns what crosses process boundaries through NATS: the normalised registry
// event and its subject, the JetStream stream, consumer and key-value bucket set-up, the publish
// and consume helpers, and the embedded NATS server used by tests and the all-in-one mode.
package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Action is what happened to a repository's content.
type Action string

const (
	ActionPush   Action = "push"
	ActionDelete Action = "delete"
)

// Source formats, recorded on each event for logs and metrics.
const (
	FormatDistribution = "distribution"
	FormatZot          = "zot"
	FormatHarbor       = "harbor"
	FormatGitHub       = "github"
	FormatArtifactory  = "artifactory"
)

// Source formats of the registries that have a webhook of their own.
const (
	FormatQuay      = "quay"
	FormatDockerHub = "dockerhub"
	FormatACR       = "acr"       // Azure Container Registry's own webhooks
	FormatEventGrid = "eventgrid" // Azure Container Registry through Event Grid
	FormatGAR       = "gar"       // Google Artifact Registry through Pub/Sub push
)

// Event is a registry notification reduced to what the indexer needs: which repository changed.
// The indexer treats it as a hint and re-lists the repository; the other fields serve logs,
// metrics and debugging.
type Event struct {
	// ID is the source's event id, unique per source; it becomes the JetStream message id so a
	// re-delivered notification is stored once.
	ID     string `json:"id"`
	Format string `json:"format"`
	// Registry is the registry host[:port] the notification names, when it names one
	// (distribution's request.host, the host of Harbor's resource_url, ghcr.io, Quay's docker_url
	// host, Google's image host, "docker.io" for Docker Hub). It is kept for logs and debugging
	// only: the indexer maps an event onto the configured registry by Repository alone, because
	// a webhook route is set up per registry and the hosts in payloads are aliases (the name a
	// client pushed to, an external URL). An event from another registry can at worst make the
	// indexer re-list a repository of the same name, which changes nothing (see
	// docs/registry-events.md, "Mapping").
	Registry string `json:"registry,omitempty"`
	// Repository is the repository's path on its registry, without the host.
	Repository string    `json:"repository"`
	Tag        string    `json:"tag,omitempty"`
	Digest     string    `json:"digest,omitempty"`
	MediaType  string    `json:"media_type,omitempty"`
	Action     Action    `json:"action"`
	Time       time.Time `json:"time"`
}

// Validate reports whether the event can be published.
func (e Event) Validate() error {
	switch {
	case e.ID == "":
		return errors.New("event has no id")
	case e.Repository == "":
		return errors.New("event has no repository")
	case e.Action != ActionPush && e.Action != ActionDelete:
		return fmt.Errorf("event has unknown action %q", e.Action)
	}
	return nil
}

// Marshal encodes the event as a message payload.
func (e Event) Marshal() ([]byte, error) { return json.Marshal(e) }

// Unmarshal decodes a message payload.
func Unmarshal(data []byte) (Event, error) {
	var e Event
	if err := json.Unmarshal(data, &e); err != nil {
		return Event{}, fmt.Errorf("decode event: %w", err)
	}
	return e, e.Validate()
}

// SubjectPrefix is the first part of every normalised event subject.
const SubjectPrefix = "registry.events"

// Subject is the subject of events about one repository: the prefix, then one token per path
// component of the repository name, so `registry.events.packages.>` selects a subtree.
func Subject(repository string) string {
	parts := strings.Split(repository, "/")
	for i, p := range parts {
		parts[i] = subjectToken(p)
	}
	return SubjectPrefix + "." + strings.Join(parts, ".")
}

// RepositoryFromSubject inverts Subject.
func RepositoryFromSubject(subject string) (string, bool) {
	rest, ok := strings.CutPrefix(subject, SubjectPrefix+".")
	if !ok || rest == "" {
		return "", false
	}
	parts := strings.Split(rest, ".")
	for i, p := range parts {
		s, ok := unescapeToken(p)
		if !ok {
			return "", false
		}
		parts[i] = s
	}
	return strings.Join(parts, "/"), true
}

// subjectToken escapes what NATS gives a meaning in subjects (token separators, wildcards,
// whitespace) as %XX, and the escape character itself, so distinct names stay distinct.
func subjectToken(s string) string {
	if s == "" {
		return "%00"
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == '.' || c == '*' || c == '>' || c == '%' {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

func unescapeToken(s string) (string, bool) {
	if s == "%00" {
		return "", true
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+3 > len(s) {
			return "", false
		}
		c, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
		if err != nil {
			return "", false
		}
		b.WriteByte(byte(c))
		i += 2
	}
	return b.String(), true
}
