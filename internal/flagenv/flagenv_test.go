package flagenv

import (
	"errors"
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
		{name: "bad env", env: map[string]string{"EPR_ALLOW_UNKNOWN_QUERY_PARAMETERS": "maybe"}, wantErr: "failed to set -allow-unknown-query-parameters from EPR_ALLOW_UNKNOWN_QUERY_PARAMETERS"},
		{name: "version", args: []string{"-version"}, wantErr: ErrVersion.Error()},
		// Only the command line asks for the version: a container's environment must not.
		{name: "EPR_VERSION ignored", env: map[string]string{"EPR_VERSION": "true"}, address: "localhost:8080", unknown: true},
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

func TestAttribute(t *testing.T) {
	tests := []struct {
		name    string
		err     error
		args    []string
		environ []string
		want    string
	}{
		{"from the environment", errors.New("failed to set -tls-min-version: bad"), nil, []string{"EPR_TLS_MIN_VERSION=1.0", "HOME=/x"},
			"failed to set -tls-min-version: bad (-tls-min-version is set by EPR_TLS_MIN_VERSION)"},
		{"flag given", errors.New("failed to set -tls-min-version: bad"), []string{"-tls-min-version=1.0"}, []string{"EPR_TLS_MIN_VERSION=1.3"},
			"failed to set -tls-min-version: bad"},
		{"two flags", errors.New("-oci-registry and -oci-layout exclude each other"), nil, []string{"EPR_OCI_REGISTRY=r", "EPR_OCI_LAYOUT=d"},
			"-oci-registry and -oci-layout exclude each other (-oci-registry is set by EPR_OCI_REGISTRY, -oci-layout is set by EPR_OCI_LAYOUT)"},
		{"a longer flag is another flag", errors.New("bad -oci-registry-x"), nil, []string{"EPR_OCI_REGISTRY=r"}, "bad -oci-registry-x"},
		{"already named", errors.New("failed to set -address from EPR_ADDRESS: x"), nil, []string{"EPR_ADDRESS=x"}, "failed to set -address from EPR_ADDRESS: x"},
		{"unrelated variable", errors.New("failed to set -address: x"), nil, []string{"EPR_LOG_LEVEL=debug"}, "failed to set -address: x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Attribute(tt.err, tt.args, tt.environ)
			if got.Error() != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			if !errors.Is(got, tt.err) {
				t.Fatal("the original error is not wrapped")
			}
		})
	}
	if Attribute(nil, nil, []string{"EPR_X=1"}) != nil || Attribute(ErrVersion, nil, []string{"EPR_VERSION=1"}) != ErrVersion {
		t.Fatal("nil and ErrVersion must pass through unchanged")
	}
}
