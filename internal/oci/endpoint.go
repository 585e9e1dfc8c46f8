package oci

import "strings"

// Endpoint is where a registry address, as users type it, is really served.
type Endpoint struct {
	// Host is the host[:port] the registry API is served on.
	Host string
	// CredentialKey is the key Docker's config.json and credential helpers file the
	// registry's credentials under.
	CredentialKey string
	// ImplicitNamespace is prefixed to one-component repository names, which the registry
	// serves under that namespace ("library" on Docker Hub: "nginx" is "library/nginx").
	ImplicitNamespace string
}

// dockerHubKey is the key Docker has always filed Docker Hub credentials under, whatever
// address the user typed; docker login, credential helpers and CI set-ups all use it.
const dockerHubKey = "https://index.docker.io/v1/"

// EndpointFor maps a registry host (lower-case host[:port], as parseAddress returns it) onto
// the host that serves its API, the key of its credentials and its implicit namespace. It is
// the one place that knows the aliases of Docker Hub: the name people type, "docker.io",
// does not serve the registry API, "registry-1.docker.io" does. Every other host
// (ghcr.io, <name>.azurecr.io, Harbor, Zot, …) is its own API host and credential key.
func EndpointFor(host string) Endpoint {
	switch host {
	case "docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com":
		return Endpoint{Host: "registry-1.docker.io", CredentialKey: dockerHubKey, ImplicitNamespace: "library"}
	}
	return Endpoint{Host: host, CredentialKey: host}
}

// CanonicalRepository spells a repository name as the registry serves it: on Docker Hub a
// one-component name is an official image under "library/". Names are otherwise unchanged.
func (e Endpoint) CanonicalRepository(name string) string {
	if e.ImplicitNamespace == "" || name == "" || strings.Contains(name, "/") {
		return name
	}
	return e.ImplicitNamespace + "/" + name
}
