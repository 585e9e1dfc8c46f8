package service

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/oci-epr/package-registry/internal/api"
	"github.com/oci-epr/package-registry/internal/events"
	"github.com/oci-epr/package-registry/internal/testkit"
)

// A replica that cannot reach NATS says which NATS, without its credentials.
func TestReplicaNamesTheNATSItCannotReach(t *testing.T) {
	addr := testkit.FreeAddr(t) // nothing listens there
	logs := &testkit.SyncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	nc, err := events.Connect("nats://epr:s3cret@"+addr, "epr-api", log)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	rep, err := StartAPI(t.Context(), nc, APIOptions{Config: api.DefaultConfig(), DataDir: t.TempDir(), Log: log})
	if err != nil {
		t.Fatal(err)
	}
	defer rep.Close()
	want := "not connected to NATS at nats://epr:xxxxx@" + addr
	testkit.Eventually(t, 30*time.Second, "a warning naming the NATS URL", func() bool {
		return strings.Contains(logs.String(), want) || strings.Contains(logs.String(), "retrying")
	})
	if !strings.Contains(logs.String(), want) {
		t.Fatalf("the warning does not name %q:\n%s", want, logs)
	}
	if strings.Contains(logs.String(), "s3cret") {
		t.Fatalf("the password reached the log:\n%s", logs)
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"nats://localhost:4222":                    "nats://localhost:4222",
		"nats://u:p@a:4222, nats://b:4222":         "nats://u:xxxxx@a:4222,nats://b:4222",
		"nats://token@a:4222":                      "nats://xxxxx@a:4222",
		"tls://user:pa%40ss@nats.example.com:4222": "tls://user:xxxxx@nats.example.com:4222",
	} {
		if got := events.Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}
