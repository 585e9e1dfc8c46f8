package main

import (
	"strings"
	"testing"
)

func TestParseFlags(t *testing.T) {
	env := func(m map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	for _, tc := range []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
		check   func(t *testing.T, o options)
	}{
		{name: "defaults", args: []string{"-oci-registry", "localhost:5000"}, check: func(t *testing.T, o options) {
			if o.versions != 1000 || o.parallelism != 8 || o.repository != "packages" || o.gen.SizeScale != 1 || o.gen.Seed != 1 {
				t.Errorf("%+v", o)
			}
		}},
		{name: "environment", env: map[string]string{"EPR_OCI_REGISTRY": "r:5000", "EPR_VERSIONS": "10000", "EPR_SIZE_SCALE": "0.1", "EPR_SEED": "7"},
			check: func(t *testing.T, o options) {
				if o.registry.Registry != "r:5000" || o.versions != 10000 || o.gen.SizeScale != 0.1 || o.gen.Seed != 7 {
					t.Errorf("%+v", o)
				}
			}},
		{name: "command line wins", args: []string{"-versions", "5"}, env: map[string]string{"EPR_OCI_REGISTRY": "r", "EPR_VERSIONS": "10000"},
			check: func(t *testing.T, o options) {
				if o.versions != 5 {
					t.Errorf("versions %d", o.versions)
				}
			}},
		{name: "registry required", wantErr: "-oci-registry is required"},
		{name: "no versions", args: []string{"-oci-registry", "r", "-versions", "0"}, wantErr: "-versions"},
		{name: "no workers", args: []string{"-oci-registry", "r", "-parallelism", "0"}, wantErr: "-parallelism"},
		{name: "negative scale", args: []string{"-oci-registry", "r", "-size-scale", "-1"}, wantErr: "-size-scale"},
		{name: "bad number", args: []string{"-oci-registry", "r", "-versions", "many"}, wantErr: "versions"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := parseFlags(tc.args, env(tc.env))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, o)
		})
	}
}
