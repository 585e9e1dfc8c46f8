package events

import (
	"fmt"
	"net"
	"strconv"
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
		NoLog:      true,
		NoSigs:     true,
		MaxPayload: opts.MaxPayload,
	}
	srv, err := server.NewServer(sopts)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(15 * time.Second) {
		srv.Shutdown()
		return nil, fmt.Errorf("embedded nats did not become ready")
	}
	return &Embedded{srv: srv}, nil
}

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
