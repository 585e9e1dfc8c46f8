package status

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"flag"
	"net/http"
	"strings"
)

// Exposure is where a process serves the status routes besides its metrics listener: on its
// public address too, only when asked, and then only behind a token.
type Exposure struct {
	Public bool
	// Token is required of every request on the public address. A secret: never logged.
	Token string
}

// RegisterFlags adds -status-public and -status-token.
func (e *Exposure) RegisterFlags(fs *flag.FlagSet) {
	fs.BoolVar(&e.Public, "status-public", false, "also serve /status on the public address, behind -status-token (the metrics listener serves it always)")
	fs.StringVar(&e.Token, "status-token", "", "token /status requires on the public address: Authorization: Bearer <token>, or Basic with the token as password (prefer EPR_STATUS_TOKEN)")
}

// Validate refuses a public status without a token.
func (e Exposure) Validate() error {
	if e.Public && e.Token == "" {
		return errors.New("-status-public needs -status-token (or EPR_STATUS_TOKEN): the status is not served on the public address without one")
	}
	return nil
}

// token checks a request's credentials against the token. Digests are compared, so the
// comparison takes the same time whatever the length of what was sent.
type token struct{ sum [sha256.Size]byte }

func newToken(s string) *token { return &token{sum: sha256.Sum256([]byte(s))} }

// allows accepts `Authorization: Bearer <token>` or Basic authentication whose password is the
// token (any user name: a browser asks for one).
func (t *token) allows(r *http.Request) bool {
	got, ok := "", false
	if scheme, cred, found := strings.Cut(r.Header.Get("Authorization"), " "); found && strings.EqualFold(scheme, "Bearer") {
		got, ok = strings.TrimSpace(cred), true
	} else if _, password, basic := r.BasicAuth(); basic {
		got, ok = password, true
	}
	sum := sha256.Sum256([]byte(got))
	return subtle.ConstantTimeCompare(sum[:], t.sum[:]) == 1 && ok
}
