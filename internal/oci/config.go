package oci

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"oras.land/oras-go/v2/registry"
)

// Config says how to reach one registry.
type Config struct {
	// Registry is "host[:port]", optionally prefixed by "https://" or "http://" (plain HTTP).
	// A trailing "/" is tolerated; a path is not.
	Registry string
	// Username and Password are sent as a static credential: as Basic auth to registries that
	// challenge for Basic, exchanged for a token at registries that challenge for Bearer. Both
	// or neither must be set. Password never appears in String, logs or errors.
	Username string
	Password string
	// DockerConfig is the path of a Docker config.json. When Username is empty, the
	// registry's credentials come from it: its "auths" entry (user and password, or an
	// identity token), its "credHelpers" entry or its "credsStore" (docker-credential-<name>
	// programs found on PATH), looked up under the registry's credential key (EndpointFor).
	// A missing file is one without credentials, as for Docker; empty reads none.
	// Precedence: Username/Password, then DockerConfig, then anonymous.
	DockerConfig string
	// Insecure treats the registry as Docker treats an "insecure registry": TLS certificates
	// are not verified, and when Registry has no scheme the client first tries HTTPS and falls
	// back to plain HTTP if the registry does not speak TLS (decided once per Client, by probing
	// GET /v2/ on first use). An explicit "https://" never falls back; an explicit "http://" is
	// plain HTTP whatever Insecure says. Without Insecure and without a scheme, only verified
	// HTTPS is used: plain HTTP is never chosen implicitly, not even for localhost.
	Insecure bool
	// UserAgent defaults to DefaultUserAgent.
	UserAgent string
	// HTTPClient, when set, is used as is (tests wrap its transport to count or alter
	// requests). Its transport then decides TLS verification; Insecure still enables the
	// plain-HTTP fallback. When nil, the client builds a transport of its own that honours
	// Insecure.
	HTTPClient *http.Client
	// PageSize is the page size ("n") asked for in tag listings; zero leaves it to the
	// registry. Listings always follow Link headers to the end, whatever the size. The catalog
	// always uses the registry's page size.
	PageSize int
	// RequestTimeout bounds each registry request but blob transfers, from sending it to
	// reading the last byte of its answer; zero means DefaultRequestTimeout, negative none.
	RequestTimeout time.Duration
	// MaxTags and MaxTagBytes bound one tag listing (zero: DefaultMaxTags, DefaultMaxTagBytes);
	// a listing beyond them fails, as a partial one would delete packages.
	MaxTags     int
	MaxTagBytes int
}

// String describes the configuration without the password.
func (c Config) String() string {
	return fmt.Sprintf("oci.Config{Registry: %q, Username: %q, Password: %s, DockerConfig: %q, Insecure: %t, UserAgent: %q, PageSize: %d}",
		redactAddress(c.Registry), c.Username, redacted(c.Password), c.DockerConfig, c.Insecure, c.UserAgent, c.PageSize)
}

// GoString keeps %#v from printing the password.
func (c Config) GoString() string { return c.String() }

// LogValue keeps slog from printing the password.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("registry", redactAddress(c.Registry)),
		slog.String("username", c.Username),
		slog.String("password", redacted(c.Password)),
		slog.String("docker_config", c.DockerConfig),
		slog.Bool("insecure", c.Insecure),
	)
}

// redactAddress hides user info someone put into a registry address ("https://u:p@host"),
// which parseAddress refuses but errors and String would otherwise echo.
func redactAddress(s string) string {
	at := strings.LastIndex(s, "@")
	if at < 0 {
		return s
	}
	start := 0
	if i := strings.Index(s, "://"); i >= 0 && i < at {
		start = i + 3
	}
	return s[:start] + "[redacted]" + s[at:]
}

func redacted(secret string) string {
	if secret == "" {
		return `""`
	}
	return "[redacted]"
}

// schemeMode is how a Client picks between HTTPS and plain HTTP.
type schemeMode int

const (
	schemeHTTPS schemeMode = iota // verified (or, with Insecure, unverified) HTTPS only
	schemeHTTP                    // plain HTTP only
	schemeProbe                   // Insecure without a scheme: HTTPS, else plain HTTP
)

// address is a parsed Config.Registry.
type address struct {
	host string // API host[:port], as OCI references spell it
	mode schemeMode
	// endpoint is what the typed host maps onto (Docker Hub's aliases).
	endpoint Endpoint
}

// parseAddress parses Config.Registry. insecure only matters when no scheme is given.
func parseAddress(s string, insecure bool) (address, error) {
	raw := strings.TrimSpace(s)
	s = redactAddress(raw) // what errors may show
	if raw == "" {
		return address{}, errors.New("oci: registry address is empty")
	}
	mode := schemeHTTPS
	if insecure {
		mode = schemeProbe
	}
	if i := strings.Index(raw, "://"); i >= 0 {
		switch strings.ToLower(raw[:i]) {
		case "https":
			mode = schemeHTTPS
		case "http":
			mode = schemeHTTP
		default:
			return address{}, fmt.Errorf("oci: registry address %q: scheme must be http or https", s)
		}
		raw = raw[i+3:]
	}
	raw = strings.TrimSuffix(raw, "/")
	if strings.ContainsAny(raw, "/?#@ ") {
		// A path, query or user info would be silently dropped by the OCI URL scheme, and
		// credentials in the address would end up in logs: refuse them.
		return address{}, fmt.Errorf("oci: registry address %q must be host[:port] with an optional http:// or https:// prefix", s)
	}
	host := strings.ToLower(raw)
	if err := (registry.Reference{Registry: host}).ValidateRegistry(); err != nil {
		return address{}, fmt.Errorf("oci: registry address %q: %w", s, err)
	}
	ep := EndpointFor(host)
	return address{host: ep.Host, mode: mode, endpoint: ep}, nil
}

// RegisterFlags defines the -oci-* connection flags on fs, writing into c. Every role that talks
// to the registry registers them here, so names, defaults and help cannot drift apart.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Registry, "oci-registry", "", "OCI registry address: host[:port], optionally with http:// or https://")
	fs.StringVar(&c.Username, "oci-username", "", "registry username")
	fs.StringVar(&c.Password, "oci-password", "", "registry password or token (prefer EPR_OCI_PASSWORD)")
	fs.StringVar(&c.DockerConfig, "oci-docker-config", DefaultDockerConfig(), "Docker config.json to take registry credentials from when -oci-username is empty (auths, credHelpers, credsStore); empty: none")
	fs.BoolVar(&c.Insecure, "oci-insecure", false, "skip TLS verification and allow plain HTTP")
	fs.DurationVar(&c.RequestTimeout, "oci-request-timeout", DefaultRequestTimeout, "deadline of each registry request but blob downloads, answer included (a registry that stalls or trickles fails there)")
}
