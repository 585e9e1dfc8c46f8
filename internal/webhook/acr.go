package webhook

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/oci-epr/package-registry/internal/events"
)

// ParseACR reads an Azure Container Registry webhook: one distribution-style event object, not
// an envelope. It keeps push and delete (of a manifest, by tag or digest) and ignores Helm chart
// events, quarantine and anything else. ACR sends only the custom headers configured on the
// webhook; configure "Authorization: Bearer <token>" there, or put the token in the URL.
// request.host is the registry's name as the client addressed it (<name>.azurecr.io).
func ParseACR(header http.Header, body []byte) (Result, error) {
	if err := requireJSON(header); err != nil {
		return Result{}, err
	}
	var de distEvent
	if err := json.Unmarshal(body, &de); err != nil {
		return Result{}, malformed("invalid JSON: %v", err)
	}
	if de.ID == "" && de.Action == "" {
		return Result{}, malformed("not an ACR event: no id or action")
	}
	return acrEvent(events.FormatACR, de.ID, "", de)
}

// acrEvent turns one ACR event (a webhook body, or the data of an Event Grid event) into a
// Result. id is the dedupe id; at, when set, overrides the event's own timestamp.
func acrEvent(format, id, at string, de distEvent) (Result, error) {
	var res Result
	switch {
	case strings.HasPrefix(de.Action, "chart_"):
		res.ignore(id, "Helm chart event")
		return res, nil
	case de.Action == "quarantine":
		res.ignore(id, "quarantine")
		return res, nil
	}
	if reason := de.ignoreReason(); reason != "" {
		res.ignore(id, reason)
		return res, nil
	}
	if at == "" {
		at = de.Timestamp
	}
	ev := events.Event{
		ID:         id,
		Format:     format,
		Registry:   de.Request.Host,
		Repository: de.Target.Repository,
		Tag:        de.Target.Tag,
		Digest:     de.Target.Digest,
		MediaType:  de.Target.MediaType,
		Action:     events.Action(de.Action),
	}
	var err error
	if ev.Time, err = parseTime(id, "timestamp", at); err != nil {
		return Result{}, err
	}
	if err := checkKept(ev); err != nil {
		return Result{}, err
	}
	res.Events = append(res.Events, ev)
	return res, nil
}
