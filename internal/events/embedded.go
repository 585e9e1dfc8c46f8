package events

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// EmbeddedOptions configures an in-process NATS server.
type EmbeddedOptions struct {
	// StoreDir holds JetStream's files; required, so restarts keep what was acknowledged.
	StoreDir string
	// Address to listen on, host:port; "127.0.0.1:-1" (a random port) when empty.
	Address string
	// MaxPayload raises the largest message accepted; 0 keeps the server's default (1 MiB).
	MaxPayload int32
}

// Embedded is a running in-process NATS server with JetStream.
type Embedded struct {
	srv *server.Server
}

// StartEmbedded starts a NATS server with JetStream in this process and waits until it accepts
// connections.
func StartEmbedded(opts EmbeddedOptions) (*Embedded, error) {
	if opts.StoreDir == "" {
		return nil, fmt.Errorf("embedded nats: a store directory is required")
	}
	host, port := "127.0.0.1", -1
	if opts.Address != "" {
		h, p, err := net.SplitHostPort(opts.Address)
		if err != nil {
			return nil, fmt.Errorf("embedded nats address: %w", err)
		}
		if port, err = strconv.Atoi(p); err != nil {
			return nil, fmt.Errorf("embedded nats port: %w", err)
		}
		if h != "" {
			host = h
		}
	}
	sopts := &server.Options{
		ServerName: "embedded",
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   opts.StoreDir,
		NoSigs:     true,
		MaxPayload: opts.MaxPayload,
	}
	srv, err := server.NewServer(sopts)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	// The server's own log stays quiet but its errors are kept: when it fails to start (a store
	// directory it cannot write, an address in use) they are what the operator needs to read.
	errs := &serverErrors{}
	srv.SetLoggerV2(errs, false, false, false)
	go srv.Start()
	deadline := time.Now().Add(15 * time.Second)
	for !srv.ReadyForConnections(100 * time.Millisecond) {
		failed, fatal := errs.report()
		if !fatal && time.Now().Before(deadline) {
			continue
		}
		srv.Shutdown()
		if failed == "" {
			failed = "no error reported within 15s"
		}
		return nil, fmt.Errorf("embedded nats did not start (store %s, address %s:%d): %s", opts.StoreDir, host, port, failed)
	}
	return &Embedded{srv: srv}, nil
}

// serverErrors is the embedded server's logger: it drops everything but errors, and keeps the
// first few of those.
type serverErrors struct {
	mu    sync.Mutex
	msgs  []string
	fatal bool // the server gave up starting
}

func (e *serverErrors) add(fatal bool, format string, v ...any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.fatal = e.fatal || fatal
	if len(e.msgs) < 8 {
		e.msgs = append(e.msgs, fmt.Sprintf(format, v...))
	}
}

func (e *serverErrors) report() (string, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return strings.Join(e.msgs, "; "), e.fatal
}

func (e *serverErrors) Noticef(string, ...any)         {}
func (e *serverErrors) Warnf(string, ...any)           {}
func (e *serverErrors) Debugf(string, ...any)          {}
func (e *serverErrors) Tracef(string, ...any)          {}
func (e *serverErrors) Errorf(format string, v ...any) { e.add(false, format, v...) }
func (e *serverErrors) Fatalf(format string, v ...any) { e.add(true, format, v...) }

// ClientURL is the nats:// URL clients connect to.
func (e *Embedded) ClientURL() string { return e.srv.ClientURL() }

// Address is the host:port the server listens on, for restarting it at the same place.
func (e *Embedded) Address() string {
	return e.srv.Addr().String()
}

// Shutdown stops the server and waits until it has stopped.
func (e *Embedded) Shutdown() {
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
}
