package status

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Client asks a process's status routes (GET /status, /status/repositories/…,
// /status/packages/…) for their JSON answers: what `package-registry-ctl` and `mirror -wait`
// read. Errors name the URL asked, never the token.
type Client struct {
	// BaseURL is where the status routes are served, e.g. http://localhost:8090 (the metrics
	// listener, their default home).
	BaseURL string
	// Token, when set, is sent as "Authorization: Bearer <token>" (the public address wants
	// one).
	Token string
	// HTTP is the client used; nil is a plain one.
	HTTP *http.Client
	// Timeout bounds each call, answer included (0: DefaultCallTimeout).
	Timeout time.Duration
	// MaxBytes bounds an answer read (0: MaxAnswerBytes).
	MaxBytes int64
}

// DefaultAddress is where the clients look for the status routes unless told: the metrics
// listener of the dev stack (cmd/devstack -metrics-address), their default home.
const DefaultAddress = "http://localhost:8090"

// DefaultCallTimeout bounds one status call.
const DefaultCallTimeout = 10 * time.Second

// MaxAnswerBytes bounds an answer read: the largest answer (Overall with DefaultLimit problems,
// each with MaxText of message and error, and its repositories) is well under it.
const MaxAnswerBytes = 32 << 20

// ErrNotFound is the answer 404: no status is held for the repository asked.
var ErrNotFound = errors.New("no status held")

// AnswerError is an answer other than 200: Code is its HTTP status and Message what the
// server said (its JSON "message", else the start of its body).
type AnswerError struct {
	URL     string
	Code    int
	Message string
}

func (e *AnswerError) Error() string {
	msg := fmt.Sprintf("status: GET %s: %d %s", e.URL, e.Code, http.StatusText(e.Code))
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

// Is makes a 404 answer ErrNotFound.
func (e *AnswerError) Is(target error) bool {
	return target == ErrNotFound && e.Code == http.StatusNotFound
}

// Temporary reports whether err may go away if asked again: no answer at all (unreachable,
// timed out, cut off) or an answer of 429 or 5xx. A 4xx (a bad filter, a refused token, a wrong
// path) and an answer that is not the JSON asked for will not.
func Temporary(err error) bool {
	var ae *AnswerError
	if errors.As(err, &ae) {
		return ae.Code == http.StatusTooManyRequests || ae.Code >= 500
	}
	var pe *permanentError
	return !errors.As(err, &pe)
}

// permanentError is a failure asking again cannot change: an address that is not one, an
// answer of 200 that is not the JSON of the route.
type permanentError struct {
	url string
	err error
}

func (e *permanentError) Error() string { return "status: GET " + e.url + ": " + e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Overall answers GET /status: f's State, Query and Limit apply.
func (c *Client) Overall(ctx context.Context, f Filter) (Overall, error) {
	var out Overall
	return out, c.get(ctx, "/status", f, &out)
}

// Repository answers GET /status/repositories/<repository>; an unknown repository is
// ErrNotFound.
func (c *Client) Repository(ctx context.Context, repository string, f Filter) (RepositoryStatus, error) {
	var out RepositoryStatus
	segs := strings.Split(repository, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return out, c.get(ctx, "/status/repositories/"+strings.Join(segs, "/"), f, &out)
}

// Package answers GET /status/packages/<name>: every tag claiming name, f's Version, State,
// Query and Limit apply.
func (c *Client) Package(ctx context.Context, name string, f Filter) (PackageStatus, error) {
	var out PackageStatus
	return out, c.get(ctx, "/status/packages/"+url.PathEscape(name), f, &out)
}

func (c *Client) get(ctx context.Context, path string, f Filter, out any) error {
	u, err := c.url(path, f)
	if err != nil {
		return err
	}
	shown := redacted(u)
	ctx, cancel := context.WithTimeout(ctx, cmp.Or(c.Timeout, DefaultCallTimeout))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("status: GET %s: %w", shown, err)
	}
	req.Header.Set("Accept", "application/json")
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		// Not err itself: a *url.Error repeats the URL, with whatever it holds.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("status: GET %s: %w", shown, err)
	}
	defer resp.Body.Close()
	limit := cmp.Or(c.MaxBytes, MaxAnswerBytes)
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return fmt.Errorf("status: GET %s: reading the answer: %w", shown, err)
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if resp.StatusCode != http.StatusOK {
		e := &AnswerError{URL: shown, Code: resp.StatusCode, Message: serverMessage(body)}
		if e.Code == http.StatusNotFound && mt != "application/json" {
			// The routes answer 404 in JSON (an unknown repository); anything else is a server
			// without them.
			e.Message += " (no status routes at this address: give the metrics listener of an API, indexer or all-in-one)"
		}
		return e
	}
	if int64(len(body)) > limit {
		return &permanentError{shown, fmt.Errorf("answer over %d bytes", limit)}
	}
	if mt != "application/json" {
		return &permanentError{shown, fmt.Errorf("answer of type %q, not JSON: is this the status address?", mt)}
	}
	if err := json.Unmarshal(body, out); err != nil {
		return &permanentError{shown, err}
	}
	return nil
}

// url is BaseURL with path appended and f as the query.
func (c *Client) url(path string, f Filter) (*url.URL, error) {
	base := c.BaseURL
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	u, err := url.Parse(base)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, &permanentError{redactedString(c.BaseURL) + path, errors.New("the status address is not an http(s) URL")}
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	u.RawPath = strings.TrimSuffix(u.RawPath, "/")
	if u.RawPath != "" {
		u.RawPath += path
	}
	q := url.Values{}
	if f.State != "" {
		q.Set("state", string(f.State))
	}
	if f.Version != "" {
		q.Set("version", f.Version)
	}
	if f.Query != "" {
		q.Set("q", f.Query)
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	u.RawQuery = q.Encode()
	return u, nil
}

// redacted is u without a password, for errors.
func redacted(u *url.URL) string { return u.Redacted() }

func redactedString(s string) string {
	if u, err := url.Parse(s); err == nil {
		return u.Redacted()
	}
	return "(unparsable)"
}

// maxMessage bounds what an error repeats of a server's answer.
const maxMessage = 512

// serverMessage is what an error answer says: its JSON "message" (or "error"), else its
// text, cut to maxMessage and stripped of control characters.
func serverMessage(body []byte) string {
	var m struct {
		Message string `json:"message"`
		Error   string `json:"error"`
	}
	s := string(body)
	if json.Unmarshal(body, &m) == nil && cmp.Or(m.Message, m.Error) != "" {
		s = cmp.Or(m.Message, m.Error)
	}
	s = strings.TrimSpace(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s))
	if len(s) > maxMessage {
		cut := maxMessage
		for cut > 0 && s[cut]&0xC0 == 0x80 {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}
