package main

import (
	"testing"

	"github.com/oci-epr/package-registry/internal/testkit"
)

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		env   map[string]string
		check func(t *testing.T, o options)
		err   string
	}{
		{name: "defaults", args: []string{"-oci-registry=r:5000"}, check: func(t *testing.T, o options) {
			if o.repository != "packages" || o.catalog.Versions != 1000 || o.catalog.VersionsPerName != 10 || o.parallelism != 8 || o.from != 0 {
				t.Errorf("%+v", o)
			}
		}},
		{name: "environment, flags win", args: []string{"-versions=50"},
			env: map[string]string{"EPR_OCI_REGISTRY": "r:5000", "EPR_VERSIONS": "7", "EPR_FROM": "100", "EPR_SEED": "3"},
			check: func(t *testing.T, o options) {
				if o.registry.Registry != "r:5000" || o.catalog.Versions != 50 || o.from != 100 || o.catalog.Seed != 3 {
					t.Errorf("%+v", o)
				}
			}},
		{name: "no registry", err: "-oci-registry is required"},
		{name: "no versions", args: []string{"-oci-registry=r", "-versions=0"}, err: "-versions must be positive"},
		{name: "stray argument", args: []string{"-oci-registry=r", "x"}, err: "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parseFlags(tt.args, testkit.Env(tt.env))
			if testkit.WantErr(t, err, tt.err) {
				return
			}
			tt.check(t, o)
		})
	}
}
