package events

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// When the embedded server cannot start, its own reason reaches the caller, with the store
// and address it was given, instead of a bare "did not become ready" after a timeout.
func TestEmbeddedStartFailureSaysWhy(t *testing.T) {
	file := filepath.Join(t.TempDir(), "not-a-dir")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for name, tt := range map[string]struct {
		opts EmbeddedOptions
		want []string
	}{
		"store is a file":   {EmbeddedOptions{StoreDir: filepath.Join(file, "nats")}, []string{filepath.Join(file, "nats"), "not a directory"}},
		"address is in use": {EmbeddedOptions{StoreDir: t.TempDir(), Address: busy.Addr().String()}, []string{busy.Addr().String(), "address already in use"}},
	} {
		t.Run(name, func(t *testing.T) {
			e, err := StartEmbedded(tt.opts)
			if err == nil {
				e.Shutdown()
				t.Fatal("started")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}
