package oci

import "flag"

// RegisterFlags defines the -oci-* connection flags on fs, writing into c. Every role that talks
// to the registry registers them here, so names, defaults and help cannot drift apart.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Registry, "oci-registry", "", "OCI registry address: host[:port], optionally with http:// or https://")
	fs.StringVar(&c.Username, "oci-username", "", "registry username")
	fs.StringVar(&c.Password, "oci-password", "", "registry password or token (prefer EPR_OCI_PASSWORD)")
	fs.StringVar(&c.DockerConfig, "oci-docker-config", DefaultDockerConfig(), "Docker config.json to take registry credentials from when -oci-username is empty (auths, credHelpers, credsStore); empty: none")
	fs.BoolVar(&c.Insecure, "oci-insecure", false, "skip TLS verification and allow plain HTTP")
}
