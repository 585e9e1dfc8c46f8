package flagenv

import (
	"flag"
	"io"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		address string
		unknown bool
		wantErr string
	}{
		{name: "defaults", address: "localhost:8080", unknown: true},
		{name: "env", env: map[string]string{"EPR_ADDRESS": ":9000", "EPR_ALLOW_UNKNOWN_QUERY_PARAMETERS": "false"}, address: ":9000"},
		{name: "flag wins", env: map[string]string{"EPR_ADDRESS": ":9000"}, args: []string{"-address", ":7000"}, address: ":7000", unknown: true},
		{name: "bad env", env: map[string]string{"EPR_ALLOW_UNKNOWN_QUERY_PARAMETERS": "maybe"}, wantErr: "failed to set -allow-unknown-query-parameters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := flag.NewFlagSet("x", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			addr := fs.String("address", "localhost:8080", "")
			unknown := fs.Bool("allow-unknown-query-parameters", true, "")
			err := Parse(fs, tt.args, func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if *addr != tt.address || *unknown != tt.unknown {
				t.Fatalf("address=%q unknown=%v, want %q %v", *addr, *unknown, tt.address, tt.unknown)
			}
		})
	}
}

func TestEnvName(t *testing.T) {
	for in, want := range map[string]string{"oci-password": "EPR_OCI_PASSWORD", "cache-time.index": "EPR_CACHE_TIME_INDEX"} {
		if got := EnvName(in); got != want {
			t.Errorf("EnvName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestInArgs(t *testing.T) {
	tests := []struct {
		args []string
		want bool
	}{
		{[]string{"-oci-password", "x"}, true},
		{[]string{"--oci-password=x"}, true},
		{[]string{"-oci-username", "u"}, false},
		{[]string{"--", "-oci-password"}, false},
	}
	for _, tt := range tests {
		if got := InArgs(tt.args, "oci-password"); got != tt.want {
			t.Errorf("InArgs(%v) = %v", tt.args, got)
		}
	}
}
