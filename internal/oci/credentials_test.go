package oci

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oci-epr/package-registry/internal/devregistry"
)

func TestEndpointFor(t *testing.T) {
	tests := []struct {
		typed      string // what -oci-registry says
		host, key  string
		repo, want string // CanonicalRepository(repo) == want
	}{
		{typed: "docker.io", host: "registry-1.docker.io", key: "https://index.docker.io/v1/", repo: "nginx", want: "library/nginx"},
		{typed: "https://docker.io", host: "registry-1.docker.io", key: "https://index.docker.io/v1/", repo: "elastic/packages", want: "elastic/packages"},
		{typed: "index.docker.io", host: "registry-1.docker.io", key: "https://index.docker.io/v1/", repo: "library/nginx", want: "library/nginx"},
		{typed: "registry-1.docker.io", host: "registry-1.docker.io", key: "https://index.docker.io/v1/", repo: "", want: ""},
		{typed: "Docker.IO", host: "registry-1.docker.io", key: "https://index.docker.io/v1/", repo: "packages", want: "library/packages"},
		{typed: "ghcr.io", host: "ghcr.io", key: "ghcr.io", repo: "packages", want: "packages"},
		{typed: "myregistry.azurecr.io", host: "myregistry.azurecr.io", key: "myregistry.azurecr.io", repo: "packages/nginx", want: "packages/nginx"},
		{typed: "http://127.0.0.1:5000", host: "127.0.0.1:5000", key: "127.0.0.1:5000", repo: "packages", want: "packages"},
		// A mirror or a look-alike is not Docker Hub.
		{typed: "mirror.docker.io.example.com", host: "mirror.docker.io.example.com", key: "mirror.docker.io.example.com", repo: "nginx", want: "nginx"},
		{typed: "docker.io:443", host: "docker.io:443", key: "docker.io:443", repo: "nginx", want: "nginx"},
	}
	for _, tt := range tests {
		t.Run(tt.typed, func(t *testing.T) {
			addr, err := parseAddress(tt.typed, false)
			if err != nil {
				t.Fatal(err)
			}
			if addr.host != tt.host || addr.endpoint.CredentialKey != tt.key {
				t.Errorf("host %q key %q, want %q %q", addr.host, addr.endpoint.CredentialKey, tt.host, tt.key)
			}
			if got := addr.endpoint.CanonicalRepository(tt.repo); got != tt.want {
				t.Errorf("CanonicalRepository(%q) = %q, want %q", tt.repo, got, tt.want)
			}
		})
	}
}

// buildCredHelper builds testdata/credhelper as docker-credential-<name> for each name into a
// directory put first on PATH, and points the helpers at store (server URL → user, secret).
// It returns the file the helpers log the server URLs they were asked for to.
func buildCredHelper(t *testing.T, store map[string][2]string, names ...string) (logPath string) {
	t.Helper()
	dir := t.TempDir()
	first := filepath.Join(dir, "docker-credential-"+names[0])
	cmd := exec.Command("go", "build", "-o", first, "./testdata/credhelper")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build credential helper: %v\n%s", err, out)
	}
	raw, err := os.ReadFile(first)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names[1:] {
		if err := os.WriteFile(filepath.Join(dir, "docker-credential-"+n), raw, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	entries := map[string]map[string]string{}
	for server, c := range store {
		entries[server] = map[string]string{"Username": c[0], "Secret": c[1]}
	}
	writeJSON(t, filepath.Join(dir, "store.json"), entries)
	logPath = filepath.Join(dir, "asked.log")
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("EPR_TEST_CREDHELPER_STORE", filepath.Join(dir, "store.json"))
	t.Setenv("EPR_TEST_CREDHELPER_LOG", logPath)
	return logPath
}

func writeJSON(t *testing.T, path string, v any) string {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func b64(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
}

// authRegistry is a real distribution registry with one access controller, and a package
// pushed to packages/nginx:1.20.0 with writer credentials.
type authRegistry struct {
	reg    *devregistry.Registry
	issuer *devregistry.TokenIssuer // nil for htpasswd
}

const (
	readerPass   = "reader-pa55-Q7x"
	writerPass   = "writer-pa55-Z9k"
	refreshToken = "refresh-t0ken-M3v"
	helperPass   = "helper-pa55-W2c"
)

func startAuthRegistry(t *testing.T, kind string) authRegistry {
	t.Helper()
	dir := t.TempDir()
	var ar authRegistry
	var authOpts map[string]map[string]any
	switch kind {
	case "htpasswd":
		var err error
		authOpts, err = devregistry.HtpasswdAuth(dir, map[string]string{"reader": readerPass, "writer": writerPass, "helper": helperPass})
		if err != nil {
			t.Fatal(err)
		}
	case "token":
		ti, err := devregistry.StartTokenIssuer(dir, map[string]devregistry.Account{
			"reader": {Password: readerPass, RefreshToken: refreshToken, Actions: []string{"pull"}},
			"helper": {Password: helperPass, Actions: []string{"pull"}},
			"writer": {Password: writerPass, Actions: []string{"pull", "push"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ti.Close() })
		ar.issuer = ti
		authOpts = ti.Auth()
	}
	reg, err := devregistry.Start(context.Background(), devregistry.Options{Auth: authOpts})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	ar.reg = reg
	writer := newTestClient(t, reg, nil, func(c *Config) { c.Username, c.Password = "writer", writerPass })
	pushTestPackage(t, writer, "packages/nginx", "1.20.0", "nginx-1.20.0")
	return ar
}

// TestDockerConfigCredentials reads each kind of docker config entry and checks it against
// real registries: distribution with htpasswd (Basic) and with token auth, where the
// registry verifies the JWTs our test issuer signs. The credential helpers are a real
// program speaking the helper protocol, built by the test.
func TestDockerConfigCredentials(t *testing.T) {
	regs := map[string]authRegistry{"htpasswd": startAuthRegistry(t, "htpasswd"), "token": startAuthRegistry(t, "token")}
	store := map[string][2]string{}
	for _, ar := range regs {
		store[ar.reg.Host()] = [2]string{"helper", helperPass}
	}
	helperLog := buildCredHelper(t, store, "eprtest-a", "eprtest-b")
	secrets := []string{readerPass, writerPass, refreshToken, helperPass, b64("reader", readerPass), "wrong-pa55-K1j"}

	tests := []struct {
		name     string
		kinds    []string // registries it runs against
		config   func(host string) any
		user     string // explicit Username/Password when set
		pass     string
		wantErr  bool
		wantHelp string // helper that must have been asked, if any
	}{
		{name: "auths with auth", kinds: []string{"htpasswd", "token"},
			config: func(h string) any {
				return map[string]any{"auths": map[string]any{h: map[string]string{"auth": b64("reader", readerPass)}}}
			}},
		{name: "auths keyed by URL", kinds: []string{"htpasswd"},
			config: func(h string) any {
				return map[string]any{"auths": map[string]any{"https://" + h + "/": map[string]string{"auth": b64("reader", readerPass)}}}
			}},
		{name: "auths with identitytoken", kinds: []string{"token"},
			config: func(h string) any {
				return map[string]any{"auths": map[string]any{h: map[string]string{"identitytoken": refreshToken}}}
			}},
		{name: "credHelpers", kinds: []string{"htpasswd", "token"}, wantHelp: "eprtest-a",
			config: func(h string) any { return map[string]any{"credHelpers": map[string]string{h: "eprtest-a"}} }},
		{name: "credsStore", kinds: []string{"htpasswd", "token"}, wantHelp: "eprtest-b",
			config: func(h string) any { return map[string]any{"credsStore": "eprtest-b"} }},
		{name: "credHelpers wins over credsStore and auths", kinds: []string{"htpasswd"}, wantHelp: "eprtest-a",
			config: func(h string) any {
				return map[string]any{"credsStore": "eprtest-b", "credHelpers": map[string]string{h: "eprtest-a"},
					"auths": map[string]any{h: map[string]string{"auth": b64("reader", "wrong-pa55-K1j")}}}
			}},
		{name: "flags win over the docker config", kinds: []string{"htpasswd", "token"}, user: "reader", pass: readerPass,
			config: func(h string) any {
				return map[string]any{"auths": map[string]any{h: map[string]string{"auth": b64("reader", "wrong-pa55-K1j")}}}
			}},
		{name: "wrong password in auths", kinds: []string{"htpasswd", "token"}, wantErr: true,
			config: func(h string) any {
				return map[string]any{"auths": map[string]any{h: map[string]string{"auth": b64("reader", "wrong-pa55-K1j")}}}
			}},
		{name: "auth that is not user:password", kinds: []string{"htpasswd"}, wantErr: true,
			config: func(h string) any {
				return map[string]any{"auths": map[string]any{h: map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte(readerPass))}}}
			}},
		{name: "helper missing", kinds: []string{"htpasswd"}, wantErr: true,
			config: func(h string) any { return map[string]any{"credsStore": "eprtest-absent"} }},
		{name: "entry for another registry only: anonymous", kinds: []string{"htpasswd", "token"}, wantErr: true,
			config: func(h string) any {
				return map[string]any{"auths": map[string]any{"ghcr.io": map[string]string{"auth": b64("reader", readerPass)}}}
			}},
		{name: "no file: anonymous", kinds: []string{"htpasswd"}, wantErr: true, config: nil},
	}
	for _, tt := range tests {
		for _, kind := range tt.kinds {
			t.Run(tt.name+"/"+kind, func(t *testing.T) {
				ar := regs[kind]
				path := filepath.Join(t.TempDir(), "config.json")
				if tt.config != nil {
					writeJSON(t, path, tt.config(ar.reg.Host()))
				}
				os.Remove(helperLog)
				c := newTestClient(t, ar.reg, nil, func(c *Config) {
					c.DockerConfig, c.Username, c.Password = path, tt.user, tt.pass
				})
				wantSource := "credentials from " + path
				switch {
				case tt.user != "":
					wantSource = `as "reader"`
				case tt.config == nil:
					wantSource = "anonymous (no docker config at " + path + ")"
				}
				if c.Credentials() != wantSource && !strings.HasSuffix(c.Credentials(), wantSource) {
					t.Errorf("Credentials() = %q, want %q", c.Credentials(), wantSource)
				}
				tags, err := c.Tags(testCtx(t), "packages/nginx")
				if tt.wantErr {
					if err == nil {
						t.Fatalf("want an error, listed %v", tags)
					}
				} else if err != nil || len(tags) != 1 || tags[0] != "1.20.0" {
					t.Fatalf("Tags = %v, %v", tags, err)
				}
				if err == nil {
					// Reading content works with the same credentials (a second scope).
					desc, err := c.Resolve(testCtx(t), "packages/nginx", "1.20.0")
					if err != nil {
						t.Fatalf("Resolve: %v", err)
					}
					if _, _, err := c.FetchManifest(testCtx(t), "packages/nginx", desc); err != nil {
						t.Fatalf("FetchManifest: %v", err)
					}
				}
				asked, _ := os.ReadFile(helperLog)
				if tt.wantHelp != "" && !strings.Contains(string(asked), "docker-credential-"+tt.wantHelp+" "+ar.reg.Host()) {
					t.Errorf("helper %s was not asked for %s; asked: %q", tt.wantHelp, ar.reg.Host(), asked)
				}
				if tt.wantHelp == "" && len(asked) > 0 {
					t.Errorf("no helper should run, asked: %q", asked)
				}
				for _, s := range append(secrets, tt.pass) {
					if s == "" {
						continue
					}
					if err != nil && strings.Contains(fmt.Sprintf("%v %+v %#v", err, err, err), s) {
						t.Errorf("error leaks a secret: %v", err)
					}
					if strings.Contains(c.String(), s) {
						t.Errorf("String leaks a secret: %s", c)
					}
				}
			})
		}
	}
}

// TestTokenExchange checks the Bearer flow against a registry that verifies the tokens: the
// client asks for pull scope only on the repository it reads, and the token cache answers
// repeated requests without asking the issuer again.
func TestTokenExchange(t *testing.T) {
	ar := startAuthRegistry(t, "token")
	before := ar.issuer.Issued()
	c := newTestClient(t, ar.reg, nil, func(c *Config) { c.Username, c.Password = "reader", readerPass })
	for range 5 {
		if tags, err := c.Tags(testCtx(t), "packages/nginx"); err != nil || len(tags) != 1 {
			t.Fatalf("Tags = %v, %v", tags, err)
		}
	}
	if got := ar.issuer.Issued() - before; got != 1 {
		t.Errorf("tokens issued for 5 listings = %d, want 1 (cached)", got)
	}
	scopes := ar.issuer.Scopes()
	if last := scopes[len(scopes)-1]; last != "repository:packages/nginx:pull" {
		t.Errorf("granted scope %q, want pull on packages/nginx only", last)
	}

	// A reader cannot push: the registry itself refuses a token without push.
	_, err := c.PushPackage(testCtx(t), "packages/nginx", "1.21.0", makeZip(t, "nginx-1.21.0", 0), nil, nil)
	if err == nil {
		t.Error("push with a pull-only account succeeded")
	}

	// A token the registry does not trust is refused: the registry verifies signatures.
	req, _ := http.NewRequest(http.MethodGet, ar.reg.URL()+"/v2/packages/nginx/tags/list", nil)
	req.Header.Set("Authorization", "Bearer eyJhbGciOiJFUzI1NiIsImtpZCI6ImRldnJlZ2lzdHJ5LWtleSJ9.eyJpc3MiOiJ4In0.c2lnbmF0dXJl")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("forged token: status %d, want 401", resp.StatusCode)
	}
}
