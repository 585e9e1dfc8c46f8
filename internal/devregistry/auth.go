package devregistry

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/crypto/bcrypt"
)

// HtpasswdAuth writes an htpasswd file (bcrypt, as the registry requires) for users (name →
// password) into dir and returns the Options.Auth that makes the registry check it.
func HtpasswdAuth(dir string, users map[string]string) (map[string]map[string]any, error) {
	var b strings.Builder
	for user, pass := range users {
		hash, err := bcrypt.GenerateFromPassword([]byte(pass), bcrypt.MinCost)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&b, "%s:%s\n", user, hash)
	}
	path := filepath.Join(dir, "htpasswd")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return nil, err
	}
	return map[string]map[string]any{"htpasswd": {"realm": "devregistry", "path": path}}, nil
}

// Account is one user of a TokenIssuer.
type Account struct {
	Password string
	// RefreshToken, when set, is accepted in place of the password through the OAuth2
	// refresh-token grant, as identity tokens (ACR, Harbor robot accounts) are.
	RefreshToken string
	// Actions are what the account may do on any repository ("pull", "push").
	Actions []string
}

// TokenIssuer is the token server of a registry with token auth: it checks an account's
// password (Basic auth on GET, the distribution token protocol) or refresh token (POST, the
// OAuth2 form) and grants the scopes asked for, narrowed to the account's actions, as a JWT
// signed with an ECDSA key generated at start. The registry trusts that key through a JWKS
// file and verifies every token itself.
type TokenIssuer struct {
	Service  string
	Issuer   string
	key      *ecdsa.PrivateKey
	keyID    string
	jwksPath string
	accounts map[string]Account
	server   *http.Server
	listener net.Listener
	issued   atomic.Int64

	mu     sync.Mutex
	scopes []string // scopes of each token issued, in order
}

// StartTokenIssuer starts a token server for accounts and writes its JWKS into dir.
func StartTokenIssuer(dir string, accounts map[string]Account) (*TokenIssuer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	ti := &TokenIssuer{Service: "devregistry", Issuer: "devregistry-token-issuer", key: key,
		keyID: "devregistry-key", accounts: accounts, jwksPath: filepath.Join(dir, "jwks.json")}
	jwks := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: ti.keyID, Algorithm: string(jose.ES256), Use: "sig"}}}
	raw, err := json.Marshal(jwks)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(ti.jwksPath, raw, 0o600); err != nil {
		return nil, err
	}
	ti.listener, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	ti.server = &http.Server{Handler: http.HandlerFunc(ti.serve), ReadHeaderTimeout: 10 * time.Second}
	go ti.server.Serve(ti.listener) //nolint:errcheck // ends with Close
	return ti, nil
}

// Realm is the URL registries send clients to for a token.
func (ti *TokenIssuer) Realm() string { return "http://" + ti.listener.Addr().String() + "/token" }

// Auth is the Options.Auth of a registry that trusts this issuer.
func (ti *TokenIssuer) Auth() map[string]map[string]any {
	return map[string]map[string]any{"token": {
		"realm": ti.Realm(), "service": ti.Service, "issuer": ti.Issuer, "jwks": ti.jwksPath,
	}}
}

// Issued is how many tokens have been issued.
func (ti *TokenIssuer) Issued() int64 { return ti.issued.Load() }

// Scopes are the scopes granted, one string per token.
func (ti *TokenIssuer) Scopes() []string {
	ti.mu.Lock()
	defer ti.mu.Unlock()
	return slices.Clone(ti.scopes)
}

// Close stops the token server.
func (ti *TokenIssuer) Close() error { return ti.server.Close() }

func (ti *TokenIssuer) serve(w http.ResponseWriter, r *http.Request) {
	var (
		user   string
		scopes []string
		ok     bool
	)
	switch r.Method {
	case http.MethodGet:
		var pass string
		user, pass, ok = r.BasicAuth()
		ok = ok && ti.accounts[user].Password != "" && ti.accounts[user].Password == pass
		scopes = r.URL.Query()["scope"]
	case http.MethodPost:
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		if r.PostForm.Get("grant_type") != "refresh_token" {
			http.Error(w, `{"error":"unsupported_grant_type"}`, http.StatusBadRequest)
			return
		}
		rt := r.PostForm.Get("refresh_token")
		for name, a := range ti.accounts {
			if a.RefreshToken != "" && a.RefreshToken == rt {
				user, ok = name, true
			}
		}
		scopes = strings.Fields(r.PostForm.Get("scope"))
	}
	if !ok || r.URL.Query().Get("service") != ti.Service && r.PostForm.Get("service") != ti.Service {
		http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}`, http.StatusUnauthorized)
		return
	}
	token, granted, err := ti.sign(user, scopes)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	ti.issued.Add(1)
	ti.mu.Lock()
	ti.scopes = append(ti.scopes, strings.Join(granted, " "))
	ti.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"token": token, "access_token": token, "expires_in": 300}) //nolint:errcheck
}

// access is one entry of the registry token's "access" claim.
type access struct {
	Type    string   `json:"type"`
	Name    string   `json:"name"`
	Actions []string `json:"actions"`
}

func (ti *TokenIssuer) sign(user string, scopes []string) (string, []string, error) {
	allowed := ti.accounts[user].Actions
	var grants []access
	var granted []string
	for _, scope := range scopes {
		// type:name:actions; a name may hold a port-less host, never a ':'.
		parts := strings.Split(scope, ":")
		if len(parts) != 3 {
			continue
		}
		var acts []string
		for _, a := range strings.Split(parts[2], ",") {
			if slices.Contains(allowed, a) || parts[0] == "registry" && a == "*" && slices.Contains(allowed, "pull") {
				acts = append(acts, a)
			}
		}
		if len(acts) > 0 {
			grants = append(grants, access{Type: parts[0], Name: parts[1], Actions: acts})
			granted = append(granted, parts[0]+":"+parts[1]+":"+strings.Join(acts, ","))
		}
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: ti.key, KeyID: ti.keyID}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", nil, err
	}
	now := time.Now()
	claims := jwt.Claims{Issuer: ti.Issuer, Subject: user, Audience: jwt.Audience{ti.Service},
		Expiry: jwt.NewNumericDate(now.Add(5 * time.Minute)), NotBefore: jwt.NewNumericDate(now.Add(-time.Minute)),
		IssuedAt: jwt.NewNumericDate(now), ID: fmt.Sprint(ti.issued.Load())}
	raw, err := jwt.Signed(signer).Claims(claims).Claims(map[string]any{"access": grants}).Serialize()
	if err != nil {
		return "", nil, err
	}
	if raw == "" {
		return "", nil, errors.New("empty token")
	}
	return raw, granted, nil
}
