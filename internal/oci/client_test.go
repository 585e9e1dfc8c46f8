package oci

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"oras.land/oras-go/v2/registry/remote/errcode"
)

func TestParseAddress(t *testing.T) {
	tests := []struct {
		in       string
		insecure bool
		host     string
		mode     schemeMode
		wantErr  bool
	}{
		{in: "registry.example.com", host: "registry.example.com", mode: schemeHTTPS},
		{in: "registry.example.com:5000", host: "registry.example.com:5000", mode: schemeHTTPS},
		{in: "Registry.Example.com", host: "registry.example.com", mode: schemeHTTPS},
		{in: "localhost:5000", host: "localhost:5000", mode: schemeHTTPS}, // no implicit plain HTTP
		{in: "localhost:5000", insecure: true, host: "localhost:5000", mode: schemeProbe},
		{in: "https://ghcr.io", host: "ghcr.io", mode: schemeHTTPS},
		{in: "https://ghcr.io/", host: "ghcr.io", mode: schemeHTTPS},
		{in: "HTTPS://ghcr.io", host: "ghcr.io", mode: schemeHTTPS},
		{in: "https://10.0.0.1:443", insecure: true, host: "10.0.0.1:443", mode: schemeHTTPS}, // explicit: no fallback
		{in: "http://127.0.0.1:5000", host: "127.0.0.1:5000", mode: schemeHTTP},
		{in: "http://127.0.0.1:5000", insecure: true, host: "127.0.0.1:5000", mode: schemeHTTP},
		{in: "[::1]:5000", host: "[::1]:5000", mode: schemeHTTPS},
		{in: "  zot.local:8080  ", host: "zot.local:8080", mode: schemeHTTPS},
		{in: "", wantErr: true},
		{in: "ftp://host", wantErr: true},
		{in: "https://host/v2/", wantErr: true},
		{in: "host/packages", wantErr: true},
		{in: "https://user:secret@host", wantErr: true},
		{in: "host?x=1", wantErr: true},
		{in: "host:port", wantErr: true},
		{in: "https://", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q/insecure=%t", tt.in, tt.insecure), func(t *testing.T) {
			got, err := parseAddress(tt.in, tt.insecure)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("want error, got %+v", got)
				}
				if strings.Contains(err.Error(), "secret") {
					t.Errorf("error leaks the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if got.host != tt.host || got.mode != tt.mode {
				t.Errorf("got host %q mode %d, want %q mode %d", got.host, got.mode, tt.host, tt.mode)
			}
		})
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, cfg := range []Config{
		{Registry: "r.example", Username: "u"},
		{Registry: "r.example", Password: "p"},
		{Registry: "r.example", PageSize: -1},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%v): want error", cfg)
		}
	}
}

func TestPasswordNeverPrinted(t *testing.T) {
	const secret = "s3cr3t-pa55"
	cfg := Config{Registry: "r.example", Username: "alice", Password: secret}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Credentials typed into the address are refused, and not echoed either.
	inAddress := Config{Registry: "https://alice:" + secret + "@r.example"}
	_, err = New(inAddress)
	if err == nil || strings.Contains(err.Error(), secret) || strings.Contains(inAddress.String(), secret) {
		t.Errorf("credentials in the address: err %v, String %s", err, inAddress)
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "cfg", cfg, "client", c)
	for _, s := range []string{
		cfg.String(), fmt.Sprint(cfg), fmt.Sprintf("%v %+v %#v %s", cfg, cfg, cfg, cfg),
		fmt.Sprint(&cfg), c.String(), fmt.Sprint(c), logged.String(),
	} {
		if strings.Contains(s, secret) {
			t.Errorf("password printed: %s", s)
		}
	}
	if !strings.Contains(cfg.String(), "[redacted]") || !strings.Contains(c.String(), "alice") {
		t.Errorf("unexpected descriptions: %s / %s", cfg, c)
	}
}

// tlsRegistry serves one real registry over TLS with httptest's self-signed certificate.
func tlsRegistry(t *testing.T) (host string) {
	t.Helper()
	var inner http.Handler
	startRegistry(t, func(h http.Handler) http.Handler { inner = h; return h })
	srv := httptest.NewUnstartedServer(inner)
	// Handshakes that fail on purpose would otherwise log to stderr.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// TestSchemeSelection pins down Config.Insecure: without a scheme, an insecure registry is
// tried over unverified HTTPS first and over plain HTTP only if it does not speak TLS; a
// secure one is verified HTTPS only; an explicit scheme is never second-guessed.
func TestSchemeSelection(t *testing.T) {
	plainHost := startRegistry(t, nil).Host()
	tlsHost := tlsRegistry(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedHost := ln.Addr().String()
	ln.Close()

	tests := []struct {
		name      string
		registry  string
		insecure  bool
		wantPlain bool
		wantErr   string
	}{
		{name: "insecure TLS registry: unverified HTTPS", registry: tlsHost, insecure: true},
		{name: "insecure plain registry: falls back to HTTP", registry: plainHost, insecure: true, wantPlain: true},
		{name: "secure TLS registry with unknown CA: refused", registry: tlsHost, wantErr: "certificate"},
		{name: "secure plain registry: no implicit HTTP", registry: plainHost, wantErr: "HTTP response to HTTPS client"},
		{name: "explicit https, insecure, TLS", registry: "https://" + tlsHost, insecure: true},
		{name: "explicit https never falls back", registry: "https://" + plainHost, insecure: true, wantErr: "HTTP response to HTTPS client"},
		{name: "explicit http", registry: "http://" + plainHost, wantPlain: true},
		{name: "insecure, nothing listening: neither works", registry: closedHost, insecure: true, wantErr: "speaks neither HTTPS"},
		{name: "explicit http to a TLS port fails", registry: "http://" + tlsHost, insecure: true, wantErr: "400"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(Config{Registry: tt.registry, Insecure: tt.insecure})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Tags(testCtx(t), "some/repo")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("want error containing %q, got %v", tt.wantErr, err)
				}
				return
			}
			// Reaching the registry shows as "repository not found", not a transport error.
			if !errors.Is(err, ErrRepositoryNotFound) {
				t.Fatalf("want ErrRepositoryNotFound, got %v", err)
			}
			plain, err := c.plainHTTP(testCtx(t))
			if err != nil || plain != tt.wantPlain {
				t.Errorf("plainHTTP = %t, %v; want %t", plain, err, tt.wantPlain)
			}
		})
	}
}

// TestSchemeProbeOnce shows the fallback decision is taken once per client, not per request.
func TestSchemeProbeOnce(t *testing.T) {
	reg := startRegistry(t, nil)
	ct := newCountingTransport()
	c, err := New(Config{Registry: reg.Host(), Insecure: true, HTTPClient: &http.Client{Transport: ct}})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := c.Tags(testCtx(t), "a/b"); !errors.Is(err, ErrRepositoryNotFound) {
			t.Fatalf("Tags: %v", err)
		}
	}
	// One HTTPS attempt and one HTTP probe of /v2/, then only tag listings.
	if got := ct.count("GET base"); got != 2 {
		t.Errorf("GET /v2/ probes = %d, want 2", got)
	}
	if got := ct.count("GET tags"); got != 3 {
		t.Errorf("tag listings = %d, want 3", got)
	}
}

func basicAuth(user, pass string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			u, p, ok := r.BasicAuth()
			if !ok || u != user || p != pass {
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				io.WriteString(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

func TestBasicAuth(t *testing.T) {
	const user, pass, wrong = "alice", "right-pa55word", "wrong-pa55word"
	reg := startRegistry(t, basicAuth(user, pass))

	good := newTestClient(t, reg, nil, func(c *Config) { c.Username, c.Password = user, pass })
	pushTestPackage(t, good, "packages/nginx", "1.20.0", "nginx-1.20.0")
	tags, err := good.Tags(testCtx(t), "packages/nginx")
	if err != nil || len(tags) != 1 || tags[0] != "1.20.0" {
		t.Fatalf("Tags with the right credentials = %v, %v", tags, err)
	}

	bad := newTestClient(t, reg, nil, func(c *Config) { c.Username, c.Password = user, wrong })
	_, err = bad.Tags(testCtx(t), "packages/nginx")
	var resp *errcode.ErrorResponse
	if !errors.As(err, &resp) || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("Tags with a wrong password: want a 401 error, got %v", err)
	}
	if errors.Is(err, ErrRepositoryNotFound) {
		t.Error("an auth failure must not read as a missing repository")
	}
	for _, secret := range []string{wrong, pass} {
		if strings.Contains(err.Error(), secret) || strings.Contains(fmt.Sprintf("%+v %#v", err, err), secret) {
			t.Errorf("error leaks a password: %v", err)
		}
	}

	anonymous := newTestClient(t, reg, nil, nil)
	if _, err := anonymous.Tags(testCtx(t), "packages/nginx"); err == nil {
		t.Error("Tags without credentials: want error")
	}
}
