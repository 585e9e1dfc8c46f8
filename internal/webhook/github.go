package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/oci-epr/package-registry/internal/events"
)

// GitHub webhook events that report package versions: registry_package, and the older package.
const (
	GitHubEventRegistryPackage = "registry_package"
	GitHubEventPackage         = "package"
)

type githubBody struct {
	Action          string         `json:"action"`
	RegistryPackage *githubPackage `json:"registry_package"`
	Package         *githubPackage `json:"package"`
}

type githubPackage struct {
	Name        string `json:"name"`
	Ecosystem   string `json:"ecosystem"`
	PackageType string `json:"package_type"`
	UpdatedAt   string `json:"updated_at"`
	Owner       struct {
		Login string `json:"login"`
	} `json:"owner"`
	PackageVersion *struct {
		PackageURL        string `json:"package_url"`
		ContainerMetadata *struct {
			Tag struct {
				Name   string `json:"name"`
				Digest string `json:"digest"`
			} `json:"tag"`
			Manifest struct {
				Digest    string `json:"digest"`
				MediaType string `json:"media_type"`
			} `json:"manifest"`
		} `json:"container_metadata"`
	} `json:"package_version"`
}

// ParseGitHub reads a GitHub webhook delivery (a repository, organisation or App webhook with
// the "Packages" / "Registry packages" events). It keeps published and updated container package
// versions as a push of their tag (or digest, for an untagged version) and ignores other
// packages, other actions and other events (ping included). The event id is the delivery id
// (X-GitHub-Delivery). The repository is the package URL's path ("owner/name" on ghcr.io),
// lower-cased as the registry serves it. The signature is checked by the handler, not here.
// Both content types GitHub offers are read: application/json and a form with a payload field.
func ParseGitHub(header http.Header, body []byte) (Result, error) {
	mt, err := mediaType(header.Get("Content-Type"))
	if err != nil {
		return Result{}, err
	}
	switch mt {
	case "application/json":
	case "application/x-www-form-urlencoded":
		form, err := url.ParseQuery(string(body))
		if err != nil || !form.Has("payload") {
			return Result{}, malformed("form body without a payload field")
		}
		body = []byte(form.Get("payload"))
	default:
		return Result{}, fmt.Errorf("%w: %s, want application/json or application/x-www-form-urlencoded", ErrContentType, quote(mt))
	}
	id := header.Get("X-GitHub-Delivery")
	var res Result
	switch event := header.Get("X-GitHub-Event"); event {
	case GitHubEventRegistryPackage, GitHubEventPackage:
	case "":
		return Result{}, malformed("no X-GitHub-Event header")
	default:
		res.ignore(id, "GitHub event "+quote(event)+" not indexed")
		return res, nil
	}
	var gb githubBody
	if err := json.Unmarshal(body, &gb); err != nil {
		return Result{}, malformed("invalid JSON: %v", err)
	}
	pkg := gb.RegistryPackage
	if pkg == nil {
		pkg = gb.Package
	}
	if pkg == nil {
		return Result{}, malformed("GitHub delivery %s has no registry_package or package", quote(id))
	}
	switch {
	case gb.Action != "published" && gb.Action != "updated":
		res.ignore(id, "package action "+quote(gb.Action)+" not indexed")
		return res, nil
	case !isContainerPackage(pkg):
		res.ignore(id, "package type "+quote(pkg.PackageType)+" is not a container")
		return res, nil
	case pkg.PackageVersion == nil || pkg.PackageVersion.ContainerMetadata == nil:
		return Result{}, malformed("GitHub delivery %s: container package without container metadata", quote(id))
	}
	version := pkg.PackageVersion
	meta := version.ContainerMetadata
	host, repository := splitImage(version.PackageURL)
	if repository == "" && pkg.Owner.Login != "" && pkg.Name != "" {
		host, repository = "ghcr.io", pkg.Owner.Login+"/"+pkg.Name
	}
	ev := events.Event{
		ID:         id,
		Format:     events.FormatGitHub,
		Registry:   host,
		Repository: strings.ToLower(repository),
		MediaType:  meta.Manifest.MediaType,
		Action:     events.ActionPush,
	}
	digest := meta.Tag.Digest
	if digest == "" {
		digest = meta.Manifest.Digest
	}
	ev.Tag, ev.Digest = tagOrDigest(meta.Tag.Name, digest)
	switch {
	case isFallbackTag(ev.Tag):
		res.ignore(id, "referrers fallback tag")
		return res, nil
	case ev.Tag == "" && ev.Digest == "":
		res.ignore(id, "package version without tag or digest")
		return res, nil
	}
	if ev.Time, err = parseTime(id, "updated_at", pkg.UpdatedAt); err != nil {
		return Result{}, err
	}
	if err := checkKept(ev); err != nil {
		return Result{}, err
	}
	res.Events = append(res.Events, ev)
	return res, nil
}

// isContainerPackage: GitHub reports the kind as package_type or ecosystem, spelled
// "CONTAINER" (ghcr.io) or "docker" (the older Docker registry) depending on the event's age.
func isContainerPackage(p *githubPackage) bool {
	for _, kind := range []string{p.PackageType, p.Ecosystem} {
		if strings.EqualFold(kind, "container") || strings.EqualFold(kind, "docker") {
			return true
		}
	}
	return false
}

// GitHubSignatureValid reports whether X-Hub-Signature-256 is the HMAC-SHA256 of body under
// secret, as GitHub computes it over the raw body. The comparison is constant-time.
func GitHubSignatureValid(secret []byte, header http.Header, body []byte) bool {
	sig, ok := strings.CutPrefix(header.Get("X-Hub-Signature-256"), "sha256=")
	if !ok {
		return false
	}
	got, err := hex.DecodeString(sig)
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}
