package main

import (
	"strings"
	"testing"
	"time"

	"github.com/oci-epr/package-registry/internal/oci"
	"github.com/oci-epr/package-registry/internal/status"
)

func TestParseFlags(t *testing.T) {
	env := func(m map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	defaults := func(f func(*options)) options {
		o := options{from: "https://epr.elastic.co", to: oci.Config{Registry: "reg:5000", DockerConfig: oci.DefaultDockerConfig()},
			repository: "packages", parallelism: 4, maxZipBytes: 512 << 20, logLevel: "info", logType: "dev",
			waitTimeout: 5 * time.Minute, statusAddress: status.DefaultAddress}
		f(&o)
		return o
	}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want options
		err  string
	}{
		{name: "defaults", args: []string{"-to-registry", "reg:5000"}, want: defaults(func(*options) {})},
		{name: "environment, flags win",
			args: []string{"-to-registry", "reg:5000", "-packages", "nginx,apache", "-all-versions", "-parallelism", "8"},
			env: map[string]string{"EPR_TO_REGISTRY": "other:1", "EPR_TO_PASSWORD": "s3cret", "EPR_TO_USERNAME": "u",
				"EPR_KIBANA_VERSION": "8.15.0", "EPR_PRERELEASE": "true", "EPR_PACKAGES": "x", "EPR_VERIFY_KEY": "k.asc"},
			want: defaults(func(o *options) {
				o.to.Username, o.to.Password = "u", "s3cret"
				o.packages, o.allVersions, o.parallelism = "nginx,apache", true, 8
				o.kibanaVersion, o.prerelease, o.verifyKey = "8.15.0", true, "k.asc"
			})},
		{name: "destination required", err: "-to-registry"},
		{name: "layout", args: []string{"-to-oci-layout", "/mnt/disk/epr"}, want: func() options {
			o := defaults(func(o *options) { o.toLayout = "/mnt/disk/epr" })
			o.to.Registry = ""
			return o
		}()},
		{name: "directory source", args: []string{"-to-registry", "reg:5000", "-from-dir", "build/packages"},
			want: defaults(func(o *options) { o.fromDir = "build/packages" })},
		{name: "wait, the token from the environment",
			args: []string{"-to-registry", "reg:5000", "-from-dir", "build", "-wait", "-wait-timeout", "30s", "-status-address", "http://api:9090"},
			env:  map[string]string{"EPR_STATUS_TOKEN": "t0ken"},
			want: defaults(func(o *options) {
				o.fromDir, o.wait, o.waitTimeout, o.statusAddress, o.statusToken = "build", true, 30*time.Second, "http://api:9090", "t0ken"
			})},
		{name: "wait for a layout", args: []string{"-to-oci-layout", "d", "-wait"}, err: "-wait needs versions pushed to -to-registry"},
		{name: "wait for a dry run", args: []string{"-to-registry", "r", "-wait", "-dry-run"}, err: "-wait needs"},
		{name: "wait for no time", args: []string{"-to-registry", "r", "-wait", "-wait-timeout", "0s"}, err: "-wait-timeout"},
		{name: "two destinations", args: []string{"-to-oci-layout", "d", "-to-registry", "r"}, err: "one of"},
		{name: "parallelism", args: []string{"-to-registry", "r", "-parallelism", "0"}, err: "-parallelism"},
		{name: "bad env value", args: []string{"-to-registry", "r"}, env: map[string]string{"EPR_DRY_RUN": "maybe"}, err: "-dry-run"},
		{name: "stray argument", args: []string{"-to-registry", "r", "go"}, err: "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseFlags(tt.args, env(tt.env))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want it to mention %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}
