package packages_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/oci-epr/package-registry/internal/packages"
	"github.com/oci-epr/package-registry/internal/packages/packagetest"
)

// FuzzRead feeds arbitrary bytes to the reader. Seeds include uncompressed
// builds so that mutations reach the YAML, not just deflate streams.
func FuzzRead(f *testing.F) {
	for _, c := range packagetest.Valid() {
		f.Add(packagetest.Build(c.Spec))
		c.Spec.Uncompressed = true
		f.Add(packagetest.Build(c.Spec))
	}
	for _, c := range packagetest.Invalid() {
		f.Add(c.Zip)
	}
	// Small limits keep each run cheap; they are part of what is exercised.
	lim := packages.Limits{MaxZipSize: 1 << 20, MaxEntries: 200, MaxUncompressed: 4 << 20, MaxManifestSize: 64 << 10}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, _, err := packages.ReadBytes(data, packages.Options{Limits: lim, HasSignature: true})
		if err != nil {
			if !errors.Is(err, packages.ErrRejected) {
				t.Fatalf("in-memory input gave a non-rejection error: %v", err)
			}
		} else {
			if !packages.IsStrictSemver(p.Version) || p.Readme == "" || p.Download == "" {
				t.Fatalf("accepted document lacks required fields: %+v", p)
			}
			first, err := packages.Encode(p)
			if err != nil {
				t.Fatalf("accepted document does not encode: %v", err)
			}
			var back packages.Package
			if err := json.Unmarshal(first, &back); err != nil {
				t.Fatalf("document does not decode: %v", err)
			}
			if second, _ := packages.Encode(&back); !bytes.Equal(first, second) {
				t.Fatalf("round trip changed the document")
			}
			p.SearchView()
		}
		a, err := packages.OpenArchiveBytes(data, lim)
		if err != nil {
			return
		}
		for _, e := range a.Files() {
			if _, ok := a.Lookup(e.Rel); !ok {
				t.Fatalf("listed file %q not found", e.Rel)
			}
			a.ReadFile(e.Rel) // errors are fine; panics are not
		}
	})
}

// FuzzManifest aims the fuzzer at the YAML path: the input becomes
// manifest.yml of an otherwise valid package.
func FuzzManifest(f *testing.F) {
	f.Add([]byte("format_version: 3.3.0\nname: fz\nversion: 1.0.0\nconditions.kibana.version: ^8\nowner.github: a\n"))
	f.Add([]byte("format_version: 3.3.0\nname: fz\nversion: 1.0.0\nvars:\n  - {name: a, type: text, default: {x.y: 1, z: [.inf, ~]}}\n"))
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("x: &x {y: *x}\n"))
	f.Add([]byte("policy_templates:\n  - name: t\n    multiple: 'no'\n    deployment_modes: {agentless: {enabled: yes, release: ga}}\n"))
	f.Fuzz(func(t *testing.T, manifest []byte) {
		zip := packagetest.Build(packagetest.Spec{Name: "fz", Version: "1.0.0", Manifest: manifest, Uncompressed: true,
			DataStreams: []packagetest.DataStream{{Dir: "ds", Streams: []packagetest.Stream{{Input: "cel"}}}}})
		p, _, err := packages.ReadBytes(zip, packages.Options{})
		if err != nil {
			if !errors.Is(err, packages.ErrRejected) {
				t.Fatalf("non-rejection error: %v", err)
			}
			return
		}
		if _, err := packages.Encode(p); err != nil {
			t.Fatalf("accepted document does not encode: %v", err)
		}
	})
}

// FuzzParseFields: any bytes either parse (declaring fields or not) or are a
// RuleInvalidFieldsFile rejection; nothing else.
func FuzzParseFields(f *testing.F) {
	f.Add([]byte("- name: data_stream.type\n  type: constant_keyword\n- name: '@timestamp'\n  type: date\n"))
	f.Add([]byte("- name: data_stream\n  type: group\n  fields:\n    - {name: namespace, type: constant_keyword}\n"))
	f.Add([]byte("- name: '@timestamp'\n  external: ecs\n"))
	f.Add([]byte("a: &a [*a, *a]\nb: [*a, *a]\n"))
	f.Add([]byte("- name: [unclosed\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		declared := map[string]string{}
		err := packages.ParseFields(data, "fields/f.yml", declared)
		if err == nil {
			return
		}
		if re, ok := packages.AsReject(err); !ok || re.Rule != packages.RuleInvalidFieldsFile {
			t.Fatalf("error is not an invalid_fields_file rejection: %v", err)
		}
	})
}
