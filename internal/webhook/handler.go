package webhook

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/oci-epr/package-registry/internal/events"
)

// DefaultMaxBodyBytes bounds a notification body when Config.MaxBodyBytes is 0. Registry
// notifications are a few KiB.
const DefaultMaxBodyBytes = 1 << 20

// DefaultMaxRepositories bounds the repositories one request may name when
// Config.MaxRepositories is 0. Each repository costs the indexer a tag listing (and up to three
// more while a named tag is missing), so a body naming thousands would be a lever for load; a
// registry's notification names one repository, a batch a few.
const DefaultMaxRepositories = 100

// DefaultBodyTimeout bounds reading a notification body when Config.BodyTimeout is 0: a few KiB
// take milliseconds, so only a client trickling its body on purpose comes near it.
const DefaultBodyTimeout = 10 * time.Second

// Paths of the webhook endpoints, relative to where they are registered.
const (
	DistributionPath = "/webhooks/distribution"
	ZotPath          = "/webhooks/zot"
	HarborPath       = "/webhooks/harbor"
	GitHubPath       = "/webhooks/github"
	ArtifactoryPath  = "/webhooks/artifactory"
)

// Paths of the vendor webhook endpoints. Those whose sender cannot set a header take the token
// as the query parameter TokenParameter.
const (
	QuayPath      = "/webhooks/quay"
	DockerHubPath = "/webhooks/dockerhub"
	ACRPath       = "/webhooks/acr"
	EventGridPath = "/webhooks/eventgrid"
	GARPath       = "/webhooks/gar"
)

// Publisher stores events durably; *events.Publisher is the real one. Publish returns nil only
// once every event is acknowledged.
type Publisher interface {
	Publish(ctx context.Context, evs ...events.Event) error
}

var _ Publisher = (*events.Publisher)(nil)

// Config configures the webhook handlers.
type Config struct {
	Publisher Publisher
	// Token, when set, must arrive as "Authorization: Bearer <token>" or, for registries that
	// cannot send a header (Docker Hub, Quay, Pub/Sub push), as the URL query parameter
	// TokenParameter.
	Token string
	// GitHubSecret, when set, is the secret GitHub signs deliveries with (X-Hub-Signature-256);
	// the GitHub route then checks that signature instead of Token, since GitHub cannot send
	// an Authorization header.
	GitHubSecret string
	// MaxBodyBytes bounds a request body; 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// MaxRepositories bounds the distinct repositories one request's events may name; events
	// of the others are dropped, logged and counted (result "dropped"). 0 means
	// DefaultMaxRepositories. The periodic resync repairs what a dropped event would have told.
	MaxRepositories int
	// BodyTimeout bounds reading the body, from the moment the handler starts; 0 means
	// DefaultBodyTimeout. The handler sets it itself, so it holds on whichever server the
	// routes are mounted.
	BodyTimeout time.Duration
	// Logger receives one line per request outcome; nil discards.
	Logger *slog.Logger
	// Metrics, from NewMetrics; nil counts nothing.
	Metrics *Metrics
}

// TokenParameter is the URL query parameter that may carry the webhook token instead of the
// Authorization header, on every route.
const TokenParameter = "token"

// Router is where the handlers are registered: *echo.Echo and *echo.Group both are one.
type Router interface {
	POST(path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route
	OPTIONS(path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route
}

// Register adds the webhook routes to r: POST on every path above, and OPTIONS on
// EventGridPath for the CloudEvents delivery handshake.
func Register(r Router, cfg Config) error {
	if cfg.Publisher == nil {
		return errors.New("webhook: a publisher is required")
	}
	h := &handler{
		pub:     cfg.Publisher,
		max:     cfg.MaxBodyBytes,
		timeout: cfg.BodyTimeout,
		log:     cfg.Logger,
		metrics: cfg.Metrics,
	}
	if h.max <= 0 {
		h.max = DefaultMaxBodyBytes
	}
	if h.maxRepos = cfg.MaxRepositories; h.maxRepos <= 0 {
		h.maxRepos = DefaultMaxRepositories
	}
	if h.timeout <= 0 {
		h.timeout = DefaultBodyTimeout
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if cfg.Token != "" {
		h.auth = true
		h.tokenSum = sha256.Sum256([]byte(cfg.Token))
	}
	// GitLab's registry sends its notification secret as the bare Authorization value.
	r.POST(DistributionPath, h.serve(events.FormatDistribution, ParseDistribution, routeAuth{bareToken: true}))
	r.POST(ZotPath, h.serve(events.FormatZot, ParseZot, routeAuth{}))
	r.POST(HarborPath, h.serve(events.FormatHarbor, ParseHarbor, routeAuth{}))
	githubAuth := routeAuth{}
	if cfg.GitHubSecret != "" {
		secret := []byte(cfg.GitHubSecret)
		githubAuth.signed = func(header http.Header, body []byte) bool { return GitHubSignatureValid(secret, header, body) }
	}
	r.POST(GitHubPath, h.serve(events.FormatGitHub, ParseGitHub, githubAuth))
	r.POST(ArtifactoryPath, h.serve(events.FormatArtifactory, ParseArtifactory, routeAuth{}))
	r.POST(QuayPath, h.serve(events.FormatQuay, ParseQuay, routeAuth{}))
	r.POST(DockerHubPath, h.serve(events.FormatDockerHub, ParseDockerHub, routeAuth{}))
	r.POST(ACRPath, h.serve(events.FormatACR, ParseACR, routeAuth{}))
	r.POST(EventGridPath, h.serve(events.FormatEventGrid, ParseEventGrid, routeAuth{}))
	r.OPTIONS(EventGridPath, h.allowDelivery(events.FormatEventGrid))
	r.POST(GARPath, h.serve(events.FormatGAR, ParseGAR, routeAuth{}))
	return nil
}

type parser func(http.Header, []byte) (Result, error)

// routeAuth is how one route authenticates a request, when its sender cannot use the bearer
// token as it is.
type routeAuth struct {
	// bareToken also accepts the token as the whole Authorization value, without a scheme.
	bareToken bool
	// signed, when set, replaces the token check: it verifies a signature over the raw body,
	// so it runs once the body is read.
	signed func(header http.Header, body []byte) bool
}

type handler struct {
	pub      Publisher
	auth     bool
	tokenSum [sha256.Size]byte
	max      int64
	maxRepos int
	timeout  time.Duration
	log      *slog.Logger
	metrics  *Metrics
}

// authorized checks the bearer token, or else the token query parameter. Either way the query
// parameter is taken out of the request first, so that nothing after this (handlers, error
// messages, an access log middleware reading the URL when the handler returns) can see it.
func (h *handler) authorized(req *http.Request, bareToken bool) bool {
	queryToken, hadQuery := takeQueryToken(req)
	if !h.auth {
		return true
	}
	// Either one is enough: a sender may bring a bearer token of its own (Event Grid's Entra ID
	// token) next to ours in the query.
	header := req.Header.Get("Authorization")
	if bareToken && header != "" && h.matches(header) {
		return true // GitLab's bare secret
	}
	if scheme, cred, ok := strings.Cut(header, " "); ok && strings.EqualFold(scheme, "Bearer") &&
		h.matches(strings.TrimLeft(cred, " ")) {
		return true
	}
	return hadQuery && h.matches(queryToken)
}

// matches compares digests, which keeps the comparison constant-time in the token's length too.
func (h *handler) matches(token string) bool {
	sum := sha256.Sum256([]byte(token))
	return subtle.ConstantTimeCompare(sum[:], h.tokenSum[:]) == 1
}

// takeQueryToken removes TokenParameter from the request's URL and RequestURI and returns its
// first value. A query that does not parse keeps no token either: it is dropped whole, as it
// might hold one.
func takeQueryToken(req *http.Request) (string, bool) {
	if req.URL.RawQuery == "" {
		return "", false
	}
	values, err := url.ParseQuery(req.URL.RawQuery)
	token, had := "", false
	if err == nil {
		if vs, ok := values[TokenParameter]; ok && len(vs) > 0 {
			token, had = vs[0], true
		}
		values.Del(TokenParameter)
		req.URL.RawQuery = values.Encode()
	} else {
		req.URL.RawQuery = ""
	}
	req.RequestURI = req.URL.RequestURI()
	return token, had
}

// serve answers 2xx only when nothing needs storing or JetStream stored all of it, so that the
// registry's retry is what keeps an unstored event. Nothing is published for any other answer.
func (h *handler) serve(format string, parse parser, auth routeAuth) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		// Only the remote address and outcome are logged: the Authorization header holds the
		// secret, and other headers may too.
		log := h.log.With("format", format, "remote", req.RemoteAddr)
		reply := func(code int, outcome, msg string) error {
			h.metrics.request(format, outcome)
			return c.String(code, msg)
		}

		unauthorized := func(why string) error {
			log.Warn("webhook request rejected: " + why)
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="webhook"`)
			return reply(http.StatusUnauthorized, OutcomeUnauthorized, "unauthorized")
		}
		if auth.signed != nil {
			takeQueryToken(req) // not used here, but never to be seen further on
		} else if !h.authorized(req, auth.bareToken) {
			return unauthorized("missing or wrong token")
		}

		tooLarge := func() error {
			log.Warn("webhook request rejected: body too large", "limit", h.max)
			return reply(http.StatusRequestEntityTooLarge, OutcomeTooLarge, "request body too large")
		}
		if req.ContentLength > h.max {
			return tooLarge()
		}
		// A server without a read deadline of its own (http.ErrNotSupported) is still bounded
		// by its listener's read timeout.
		_ = http.NewResponseController(c.Response()).SetReadDeadline(time.Now().Add(h.timeout))
		body, err := io.ReadAll(http.MaxBytesReader(c.Response(), req.Body, h.max))
		if err != nil {
			if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
				return tooLarge()
			}
			log.Warn("webhook request rejected: reading body", "err", err)
			return reply(http.StatusBadRequest, OutcomeBadRequest, "could not read request body")
		}

		if auth.signed != nil && !auth.signed(req.Header, body) {
			return unauthorized("missing or wrong body signature")
		}

		res, err := parse(req.Header, body)
		if err != nil {
			h.metrics.event(format, ResultRejected, 1)
			log.Warn("webhook request rejected", "err", err)
			return reply(http.StatusBadRequest, OutcomeBadRequest, err.Error())
		}
		for _, ig := range res.Ignored {
			log.Debug("notification ignored", "id", ig.ID, "reason", ig.Reason)
		}
		h.metrics.event(format, ResultIgnored, len(res.Ignored))
		if len(res.Events) == 0 {
			if res.Reply != nil {
				log.Info("webhook handshake answered")
				h.metrics.request(format, OutcomeHandshake)
				return c.JSON(http.StatusOK, res.Reply)
			}
			return reply(http.StatusOK, OutcomeIgnored, "ignored")
		}

		if kept, dropped := boundRepositories(res.Events, h.maxRepos); len(dropped) > 0 {
			h.metrics.event(format, ResultDropped, len(dropped))
			log.Warn("webhook request names more repositories than allowed; dropping the events of the others (the resync covers them)",
				"limit", "max_repositories", "bound", h.maxRepos, "kept", len(kept), "dropped", len(dropped),
				"first_dropped_repository", dropped[0].Repository)
			res.Events = kept
		}
		if err := h.pub.Publish(req.Context(), res.Events...); err != nil {
			h.metrics.event(format, ResultFailed, len(res.Events))
			log.Error("publish failed; the sender will retry", "events", len(res.Events), "err", err)
			c.Response().Header().Set("Retry-After", "1")
			return reply(http.StatusServiceUnavailable, OutcomeUnavailable, "event stream unavailable, retry later")
		}
		h.metrics.event(format, ResultPublished, len(res.Events))
		for _, ev := range res.Events {
			log.Info("event published", "id", ev.ID, "repository", ev.Repository,
				"action", ev.Action, "tag", ev.Tag, "digest", ev.Digest)
		}
		return reply(http.StatusOK, OutcomePublished, "ok")
	}
}

// boundRepositories keeps the events of the first max distinct repositories, in order, and
// returns the others.
func boundRepositories(evs []events.Event, max int) (kept, dropped []events.Event) {
	seen := map[string]bool{}
	for _, ev := range evs {
		if !seen[ev.Repository] && len(seen) >= max {
			dropped = append(dropped, ev)
			continue
		}
		seen[ev.Repository] = true
		kept = append(kept, ev)
	}
	return kept, dropped
}
