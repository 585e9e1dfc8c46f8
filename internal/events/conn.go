package events

import (
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// Connect dials NATS and keeps reconnecting forever: every process here must survive a NATS
// restart without being restarted itself. It returns even while NATS is still down, so health
// endpoints can report "not ready" instead of the process exiting.
func Connect(url, name string, log *slog.Logger) (*nats.Conn, error) {
	nc, err := nats.Connect(url,
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(500*time.Millisecond),
		nats.RetryOnFailedConnect(true),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			log.Warn("nats disconnected", "err", err)
		}),
		nats.ReconnectHandler(func(c *nats.Conn) {
			log.Info("nats reconnected", "url", c.ConnectedUrlRedacted())
		}),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			log.Warn("nats error", "err", err)
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("connect to nats at %s: %w", Redact(url), err)
	}
	return nc, nil
}

// Target is where nc is, or is trying to be, connected, without credentials: for messages that
// must say which NATS a process cannot reach.
func Target(nc *nats.Conn) string {
	if u := nc.ConnectedUrlRedacted(); u != "" {
		return u
	}
	if nc.Opts.Url != "" {
		return Redact(nc.Opts.Url)
	}
	return Redact(strings.Join(nc.Opts.Servers, ","))
}

// Redact replaces the password of each comma-separated NATS URL, as NATS's own redaction does.
func Redact(urls string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if u, err := url.Parse(p); err == nil && u.User != nil {
			if _, has := u.User.Password(); has {
				u.User = url.UserPassword(u.User.Username(), "xxxxx")
			} else {
				u.User = url.User("xxxxx") // a token
			}
			p = u.String()
		}
		parts[i] = p
	}
	return strings.Join(parts, ",")
}
