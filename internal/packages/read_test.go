package packages_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/oci-epr/package-registry/internal/packages"
	"github.com/oci-epr/package-registry/internal/packages/packagetest"
)

func mustRead(t *testing.T, s packagetest.Spec, opts packages.Options) (*packages.Package, []string) {
	t.Helper()
	p, warnings, err := packages.ReadBytes(packagetest.Build(s), opts)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return p, warnings
}

func encode(t *testing.T, v any) []byte {
	t.Helper()
	b, err := packages.Encode(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Every preset reads without warnings and matches its golden document, so a
// change in derived fields or key order shows up as a diff.
func TestReadPresetsGolden(t *testing.T) {
	for _, c := range packagetest.Valid() {
		t.Run(c.Name, func(t *testing.T) {
			p, warnings := mustRead(t, c.Spec, packages.Options{HasSignature: true})
			if len(warnings) > 0 {
				t.Errorf("warnings: %v", warnings)
			}
			name := c.Name
			if name == "integration_without_dir_entries" {
				name = "integration" // the same document, by design
			}
			for kind, v := range map[string]any{"full": p, "search": p.SearchView()} {
				got := encode(t, v)
				file := filepath.Join("testdata", "golden", "read_"+name+"_"+kind+".json")
				if *packages.Update {
					if err := os.WriteFile(file, got, 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				want, err := os.ReadFile(file)
				if err != nil {
					t.Fatalf("%v (run go test -update)", err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%s differs from %s:\n%s", kind, file, got)
				}
			}
		})
	}
}

func TestReadDerivedFields(t *testing.T) {
	p, _ := mustRead(t, packagetest.Integration(), packages.Options{HasSignature: true})
	checks := []struct {
		what      string
		got, want any
	}{
		{"download", p.Download, "/epr/acme_logs/acme_logs-1.2.0.zip"},
		{"path", p.Path, "/package/acme_logs/1.2.0"},
		{"signature_path", p.SignaturePath, "/epr/acme_logs/acme_logs-1.2.0.zip.sig"},
		{"readme", p.Readme, "/package/acme_logs/1.2.0/docs/README.md"},
		{"release default", p.Release, "ga"},
		{"license default", p.License, "basic"},
		{"icon path", p.Icons[0].Path, "/package/acme_logs/1.2.0/img/logo.svg"},
		{"screenshot path", p.Screenshots[0].Path, "/package/acme_logs/1.2.0/img/dashboard.png"},
		{"template readme", p.PolicyTemplates[0].Readme, "/package/acme_logs/1.2.0/docs/logs.md"},
		{"no template readme", p.PolicyTemplates[1].Readme, ""},
		{"template icon path", p.PolicyTemplates[1].Icons[0].Path, "/package/acme_logs/1.2.0/img/metrics.svg"},
		{"multiple default", *p.PolicyTemplates[0].Multiple, true},
		{"multiple false kept", *p.PolicyTemplates[1].Multiple, false},
		{"ds dataset", p.DataStreams[0].Dataset, "acme_logs.access"},
		{"ds release", p.DataStreams[0].Release, "ga"},
		{"ds package", p.DataStreams[0].Package, "acme_logs"},
		{"ds path", p.DataStreams[1].Path, "api"},
		{"ds pipeline default", p.DataStreams[0].IngestPipeline, "default"},
		{"ds no pipeline", p.DataStreams[1].IngestPipeline, ""},
		{"stream enabled default", *p.DataStreams[0].Streams[0].Enabled, true},
		{"stream enabled false", *p.DataStreams[1].Streams[1].Enabled, false},
		{"stream template default", p.DataStreams[0].Streams[0].TemplatePath, "stream.yml.hbs"},
		{"stream template set", p.DataStreams[1].Streams[0].TemplatePath, "cel.yml.hbs"},
		{"ingestion cel", p.DataStreams[1].Streams[0].IngestionMethod, "API"},
		{"ingestion httpjson", p.DataStreams[1].Streams[1].IngestionMethod, "API"},
		{"ingestion filestream", p.DataStreams[0].Streams[0].IngestionMethod, "File"},
		{"ingestion unmapped", p.DataStreams[2].Streams[0].IngestionMethod, ""},
		{"var default list", string(p.DataStreams[0].Streams[0].Vars[0].Default), `["/var/log/acme/access.log"]`},
		{"var default false", string(p.DataStreams[2].Streams[0].Vars[1].Default), `false`},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.what, c.got, c.want)
		}
	}

	unsigned, _ := mustRead(t, packagetest.Integration(), packages.Options{})
	if unsigned.SignaturePath != "" {
		t.Errorf("signature_path without signature: %q", unsigned.SignaturePath)
	}

	in, _ := mustRead(t, packagetest.InputPackage(), packages.Options{})
	if got := in.PolicyTemplates[0].IngestionMethod; got != "API" {
		t.Errorf("input package template ingestion_method = %q", got)
	}
}

func TestReadDefaults(t *testing.T) {
	minimal := func(version string) packagetest.Spec {
		return packagetest.Spec{Name: "mini", Version: version, Title: "Mini", Description: "m"}
	}
	cases := []struct {
		name                  string
		spec                  packagetest.Spec
		release, typ, license string
	}{
		{"ga", minimal("1.0.0"), "ga", "integration", "basic"},
		{"prerelease is beta", minimal("1.0.0-rc1"), "beta", "integration", "basic"},
		{"0.x is beta", minimal("0.9.9"), "beta", "integration", "basic"},
		{"build metadata only", minimal("1.0.0+build.5"), "ga", "integration", "basic"},
		{"explicit release kept", func() packagetest.Spec { s := minimal("0.1.0"); s.Release = "ga"; return s }(), "ga", "integration", "basic"},
		{"license from subscription", func() packagetest.Spec { s := minimal("1.0.0"); s.Subscription = "platinum"; return s }(), "ga", "integration", "platinum"},
		{"license explicit wins", func() packagetest.Spec {
			s := minimal("1.0.0")
			s.Subscription, s.License = "platinum", "gold"
			return s
		}(), "ga", "integration", "gold"},
		{"type kept", func() packagetest.Spec { s := minimal("1.0.0"); s.Type = "content"; return s }(), "ga", "content", "basic"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, _ := mustRead(t, c.spec, packages.Options{})
			if p.Release != c.release || p.Type != c.typ || p.License != c.license {
				t.Errorf("release/type/license = %q/%q/%q, want %q/%q/%q", p.Release, p.Type, p.License, c.release, c.typ, c.license)
			}
		})
	}
}

func TestReadUnknownCategoryWarns(t *testing.T) {
	s := packagetest.ZeroX()
	s.Categories = []string{"network", "no_such_category", "security"}
	s.PolicyTemplates = []packagetest.PolicyTemplate{{Name: "t", Categories: []string{"template_only_cat"}}}
	p, warnings := mustRead(t, s, packages.Options{})
	if !reflect.DeepEqual(p.Categories, []string{"network", "security"}) {
		t.Errorf("categories = %v", p.Categories)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "no_such_category") {
		t.Errorf("warnings = %v", warnings)
	}
	// Template categories are reported as written: /categories titles
	// unknown ids itself.
	if !reflect.DeepEqual(p.PolicyTemplates[0].Categories, []string{"template_only_cat"}) {
		t.Errorf("template categories = %v", p.PolicyTemplates[0].Categories)
	}
}

func TestReadAssetsOrder(t *testing.T) {
	s := packagetest.ZeroX()
	s.OmitDirEntries = true
	s.ExtraFiles = map[string][]byte{
		".DS_Store": []byte("x"), "img/.DS_Store": []byte("x"),
		"Z.txt": nil, "a/b/c.txt": nil, "a/B.txt": nil, "b.txt": nil, "img/x.png": nil,
	}
	p, _ := mustRead(t, s, packages.Options{})
	want := []string{"Z.txt", "b.txt", "manifest.yml", "a/B.txt", "docs/README.md", "img/x.png", "a/b/c.txt"}
	for i := range want {
		want[i] = "/package/acme_zero/0.3.0/" + want[i]
	}
	if !reflect.DeepEqual(p.Assets, want) {
		t.Errorf("assets:\n got %v\nwant %v", p.Assets, want)
	}
}

// The §4 rendering rules EPR 1.40 applies, each on a package built to hit
// it, asserted on the exact JSON of the part the rule is about.
func TestReadRenderingRules(t *testing.T) {
	unsorted := packagetest.ZeroX()
	unsorted.ExtraFiles = map[string][]byte{"z.txt": nil, "a.txt": nil, "img/b.svg": nil, "img/a.svg": nil, "docs/a.md": nil}
	unsorted.EntryOrder = []string{"z.txt", "img/b.svg", "manifest.yml", "docs/README.md", "a.txt", "img/a.svg"}

	agentless := func(isDefault *bool) packagetest.Spec {
		s := packagetest.InputPackage()
		s.PolicyTemplates[0].AgentlessIsDefault = isDefault
		return s
	}
	input := packagetest.InputPackage()
	input.ExtraManifest = "elasticsearch:\n  index_template:\n    mappings:\n      dynamic: false\n"
	clusterOnly := packagetest.InputPackage()
	clusterOnly.ExtraManifest = "elasticsearch.privileges.cluster: [monitor]\n"
	indexMode := packagetest.ZeroX()
	indexMode.DataStreams = []packagetest.DataStream{{Dir: "events", Streams: []packagetest.Stream{{Input: "tcp"}},
		ExtraManifest: "elasticsearch:\n  index_mode: time_series\n"}}
	noES := packagetest.ZeroX()
	noES.DataStreams = []packagetest.DataStream{{Dir: "events", Streams: []packagetest.Stream{{Input: "tcp"}}}}

	f, tr := false, true
	cases := []struct {
		name string
		spec packagetest.Spec
		part func(*packages.Package) any
		want string
	}{
		{"assets keep zip order within a level", unsorted, func(p *packages.Package) any { return p.Assets },
			`["/package/acme_zero/0.3.0/z.txt","/package/acme_zero/0.3.0/manifest.yml","/package/acme_zero/0.3.0/a.txt",` +
				`"/package/acme_zero/0.3.0/img/b.svg","/package/acme_zero/0.3.0/docs/README.md","/package/acme_zero/0.3.0/img/a.svg",` +
				`"/package/acme_zero/0.3.0/docs/a.md"]`},
		{"is_default absent when the manifest leaves it out", agentless(nil), deploymentModes,
			`{"default":{"enabled":true},"agentless":{"enabled":true,"release":"beta"}}`},
		{"is_default false when the manifest says false", agentless(&f), deploymentModes,
			`{"default":{"enabled":true},"agentless":{"enabled":true,"is_default":false,"release":"beta"}}`},
		{"is_default true when the manifest says true", agentless(&tr), deploymentModes,
			`{"default":{"enabled":true},"agentless":{"enabled":true,"is_default":true,"release":"beta"}}`},
		{"package elasticsearch with only index_template", input, func(p *packages.Package) any { return p.Elasticsearch }, `{}`},
		{"package elasticsearch with cluster privileges", clusterOnly, func(p *packages.Package) any { return p.Elasticsearch },
			`{"privileges":{"cluster":["monitor"]}}`},
		{"package elasticsearch absent without the key", packagetest.InputPackage(), func(p *packages.Package) any { return p.Elasticsearch }, `null`},
		{"data stream elasticsearch with only index_mode", indexMode, func(p *packages.Package) any { return p.DataStreams[0].Elasticsearch }, `{}`},
		{"data stream elasticsearch absent without the key", noES, func(p *packages.Package) any { return p.DataStreams[0].Elasticsearch }, `null`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, _ := mustRead(t, c.spec, packages.Options{})
			got, err := packages.Marshal(c.part(p))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != c.want {
				t.Errorf("got  %s\nwant %s", got, c.want)
			}
		})
	}
	// The whole document carries the empty object, not only the struct.
	p, _ := mustRead(t, indexMode, packages.Options{})
	if doc := encode(t, p); !bytes.Contains(doc, []byte("\"elasticsearch\": {},\n      \"path\": \"events\"")) {
		t.Errorf("document lacks the empty data stream elasticsearch:\n%s", doc)
	}
}

func deploymentModes(p *packages.Package) any { return p.PolicyTemplates[0].DeploymentModes }

func TestReadDottedKeys(t *testing.T) {
	p, _ := mustRead(t, packagetest.DottedKeys(), packages.Options{})
	if p.Conditions == nil || p.Conditions.Kibana == nil || p.Conditions.Kibana.Version != "^8.0.0" {
		t.Fatalf("conditions = %+v", p.Conditions)
	}
	if p.Conditions.Elastic.Subscription != "gold" || p.License != "gold" {
		t.Errorf("subscription/license = %q/%q", p.Conditions.Elastic.Subscription, p.License)
	}
	if p.Owner == nil || p.Owner.Github != "acme/dots" {
		t.Errorf("owner = %+v", p.Owner)
	}
	es := p.DataStreams[0].Elasticsearch
	if es == nil || string(es.IndexTemplateSettings) != `{"index":{"lifecycle":{"name":"acme"},"number_of_shards":1}}` {
		t.Errorf("settings = %s", es.IndexTemplateSettings)
	}
}

// A hand-written manifest covering what the generator does not write:
// merged dotted and nested keys, null and falsy var defaults, HTML in
// free-form values, string spellings of booleans, a default pipeline with an
// elasticsearch block, and nested deprecations.
func TestReadHandWrittenManifest(t *testing.T) {
	manifest := `format_version: 3.3.0
name: hand
version: 2.1.0
title: "Hand <made>"
description: Made & written by hand.
owner:
  type: community
owner.github: someone
conditions.kibana.version: "^8.14.0"
conditions.agent:
  version: ">=8.14.0"
conditions.elastic.capabilities: [observability]
source.license: Apache-2.0
policy_templates_behavior: individual_policies
group: web_stuff
elasticsearch.privileges.cluster: [monitor]
agent.privileges.root: true
requires.input:
  - package: some_input
    version: "^1.0.0"
deprecated:
  since: 2.0.0
  description: Moving.
  replaced_by.package: hand2
vars:
  - {name: a, type: text, default: ""}
  - {name: b, type: integer, default: 0}
  - {name: c, type: bool, default: false}
  - {name: d, type: text, default: null}
  - {name: e, type: text}
  - {name: f, type: yaml, default: {z: 1, a: "<b>"}, show_user: "true"}
  - {name: g, type: text, default: 2024-01-01}
policy_templates:
  - name: web
    title: Web
    description: Web things
    multiple: false
    deployment_modes:
      default: {}
      agentless.enabled: true
    inputs:
      - type: winlog
        deployment_modes: [default]
        deprecated: {since: 2.0.0, description: old input}
`
	dsManifest := `type: logs
title: Web logs
dataset: hand.web
elasticsearch:
  index_template.mappings:
    properties.message.type: text
  privileges.indices: [auto_configure]
agent.privileges.root: false
streams:
  - input: winlog
    enabled: "false"
    vars:
      - name: x
        type: text
        default: "<x>"
`
	s := packagetest.Spec{Name: "hand", Version: "2.1.0", Manifest: []byte(manifest),
		ExtraFiles: map[string][]byte{
			"data_stream/web/manifest.yml": []byte(dsManifest),
			"data_stream/web/fields/base.yml": []byte("- name: data_stream\n  type: group\n  fields:\n" +
				"    - {name: type, type: constant_keyword}\n    - {name: dataset, type: constant_keyword}\n" +
				"    - {name: namespace, type: constant_keyword}\n- {name: '@timestamp', type: date}\n"),
			"data_stream/web/elasticsearch/ingest_pipeline/default.json": []byte("{}"),
			"data_stream/web/elasticsearch/ingest_pipeline/other.yml":    []byte("{}"),
		}}
	p, _ := mustRead(t, s, packages.Options{})
	got := encode(t, p)
	checkGoldenFile(t, "read_hand_written_full.json", got)
	for _, want := range []string{`"title": "Hand <made>"`, `"a": "<b>"`, `"default": "<x>"`, `"ingest_pipeline.name": "default"`} {
		if !bytes.Contains(got, []byte(want)) {
			t.Errorf("output lacks %s", want)
		}
	}
	defaults := map[string]string{}
	for _, v := range p.Vars {
		defaults[v.Name] = string(v.Default)
	}
	wantDefaults := map[string]string{"a": `""`, "b": "0", "c": "false", "d": "", "e": "", "f": `{"a":"<b>","z":1}`, "g": `"2024-01-01"`}
	if !reflect.DeepEqual(defaults, wantDefaults) {
		t.Errorf("var defaults = %v, want %v", defaults, wantDefaults)
	}
	if p.Agent == nil || !p.Agent.Privileges.Root || p.DataStreams[0].Agent != nil {
		t.Errorf("agent privileges: package %+v, data stream %+v", p.Agent, p.DataStreams[0].Agent)
	}
	dm := p.PolicyTemplates[0].DeploymentModes
	if dm == nil || !dm.Default.Enabled || !dm.Agentless.Enabled || dm.Agentless.IsDefault != nil {
		t.Errorf("deployment modes = %+v", dm)
	}
}

func checkGoldenFile(t *testing.T, name string, got []byte) {
	t.Helper()
	file := filepath.Join("testdata", "golden", name)
	if *packages.Update {
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("differs from %s:\n%s", file, got)
	}
}

func TestReadDeprecation(t *testing.T) {
	p, _ := mustRead(t, packagetest.DeprecatedPackage(), packages.Options{})
	if p.Deprecated == nil || p.Deprecated.Since != "1.5.0" || p.Deprecated.ReplacedBy == nil ||
		p.Deprecated.ReplacedBy.Package != "acme_logs" {
		t.Errorf("package deprecated = %+v", p.Deprecated)
	}
	if d := p.DataStreams[0].Deprecated; d == nil || d.Since != "1.4.0" || d.ReplacedBy != nil {
		t.Errorf("data stream deprecated = %+v", d)
	}
	item := p.SearchView()
	if item.PolicyTemplates[0].Deprecated == nil || item.DataStreams[0].Deprecated == nil {
		t.Error("search view lost nested deprecations")
	}
}

func TestReadExpectAgrees(t *testing.T) {
	_, _, err := packages.ReadBytes(packagetest.Build(packagetest.Prerelease()),
		packages.Options{Expect: packages.Expect{Name: "acme_logs", Version: "1.3.0-rc1"}})
	if err != nil {
		t.Fatal(err)
	}
}

func TestReadRejects(t *testing.T) {
	for _, c := range packagetest.Invalid() {
		t.Run(c.Name, func(t *testing.T) {
			p, _, err := packages.ReadBytes(c.Zip, c.Options)
			if err == nil {
				t.Fatalf("accepted: %+v", p)
			}
			if !errors.Is(err, packages.ErrRejected) {
				t.Fatalf("error is not a rejection: %v", err)
			}
			re, ok := packages.AsReject(err)
			if !ok || re.Rule != c.Rule {
				t.Fatalf("rule = %v, want %v (%v)", re.Rule, c.Rule, err)
			}
			if re.Reason == "" {
				t.Error("empty reason")
			}
		})
	}
}

// -disable-package-validation turns off exactly the content rules: those
// packages are then served, and every other rule still rejects.
func TestReadContentValidationSwitch(t *testing.T) {
	content := 0
	for _, c := range packagetest.Invalid() {
		t.Run(c.Name, func(t *testing.T) {
			opts := c.Options
			opts.DisableContentValidation = true
			p, _, err := packages.ReadBytes(c.Zip, opts)
			if c.Content {
				if err != nil {
					t.Fatalf("content rule %s still applied with validation disabled: %v", c.Rule, err)
				}
				if p.Name != "bad" {
					t.Errorf("name = %q", p.Name)
				}
				return
			}
			re, ok := packages.AsReject(err)
			if !ok || re.Rule != c.Rule {
				t.Fatalf("with validation disabled: err = %v, want rule %s", err, c.Rule)
			}
		})
		if c.Content {
			content++
		}
	}
	if content < 4 {
		t.Fatalf("only %d content cases; every §10 rule needs one", content)
	}
}

// Fields files count only with the type the rule names, nested groups
// included, and input packages need none of them.
func TestReadRequiredFields(t *testing.T) {
	nested := []byte("- name: data_stream\n  type: group\n  fields:\n    - name: type\n      type: constant_keyword\n" +
		"    - name: dataset\n      type: constant_keyword\n    - name: namespace\n      type: constant_keyword\n" +
		"- name: '@timestamp'\n  type: date\n")
	split := packagetest.ZeroX()
	split.DataStreams = []packagetest.DataStream{{Dir: "events", Streams: []packagetest.Stream{{Input: "tcp"}},
		Fields: []byte("- {name: '@timestamp', type: date}\n")}}
	split.ExtraFiles = map[string][]byte{"data_stream/events/fields/ecs.yml": []byte(
		"- {name: data_stream.type, type: constant_keyword}\n- {name: data_stream.dataset, type: constant_keyword}\n" +
			"- {name: data_stream.namespace, type: constant_keyword}\n")}
	withNested := packagetest.ZeroX()
	withNested.DataStreams = []packagetest.DataStream{{Dir: "events", Streams: []packagetest.Stream{{Input: "tcp"}}, Fields: nested}}
	input := packagetest.InputPackage()
	input.ExtraFiles = map[string][]byte{"fields/input.yml": []byte("- {name: message, type: text}\n")}
	for name, s := range map[string]packagetest.Spec{"nested groups": withNested, "split over files": split, "input package": input} {
		t.Run(name, func(t *testing.T) {
			if _, _, err := packages.ReadBytes(packagetest.Build(s), packages.Options{}); err != nil {
				t.Fatalf("rejected: %v", err)
			}
		})
	}
}

type failingReaderAt struct{ data []byte }

func (f failingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	return 0, errors.New("disk on fire")
}

// An I/O failure is not the artifact's fault and must stay retryable.
func TestReadIOErrorIsNotRejection(t *testing.T) {
	zip := packagetest.Build(packagetest.ZeroX())
	_, _, err := packages.Read(failingReaderAt{zip}, int64(len(zip)), packages.Options{})
	if err == nil || errors.Is(err, packages.ErrRejected) || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("err = %v", err)
	}
}

func TestArchiveLookup(t *testing.T) {
	zip := packagetest.Build(packagetest.Integration())
	a, err := packages.OpenArchiveBytes(zip, packages.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if a.Root != "acme_logs-1.2.0" {
		t.Errorf("root = %q", a.Root)
	}
	for _, rel := range []string{"docs/README.md", "/docs/README.md", "img/logo.svg", "data_stream/api/manifest.yml"} {
		e, ok := a.Lookup(rel)
		if !ok {
			t.Errorf("%s not found", rel)
			continue
		}
		if !e.Modified.Equal(packagetest.FixedTime) {
			t.Errorf("%s: mtime %v", rel, e.Modified)
		}
		data, e2, err := a.ReadFile(rel)
		if err != nil || int64(len(data)) != e.Size || e2 != e {
			t.Errorf("%s: ReadFile = %d bytes, %v (entry size %d)", rel, len(data), err, e.Size)
		}
	}
	readme, _, _ := a.ReadFile("docs/README.md")
	if string(readme) != "# Acme Logs\n" {
		t.Errorf("README = %q", readme)
	}
	for _, rel := range []string{"", "docs", "docs/", "docs/absent.md", "../acme_logs-1.2.0/manifest.yml",
		"docs/../manifest.yml", "./manifest.yml", "acme_logs-1.2.0/manifest.yml"} {
		if _, ok := a.Lookup(rel); ok {
			t.Errorf("%q found", rel)
		}
		if _, _, err := a.Open(rel); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Open(%q) err = %v", rel, err)
		}
	}
	rc, e, err := a.Open("img/dashboard.png")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil || int64(len(data)) != e.Size || !bytes.HasPrefix(data, []byte("\x89PNG")) {
		t.Errorf("png: %d bytes, %v", len(data), err)
	}
	files := a.Files()
	if len(files) == 0 || files[0].Rel != "LICENSE.txt" {
		t.Errorf("Files()[0] = %+v", files[0])
	}
}

func TestArchiveConcurrentReads(t *testing.T) {
	a, err := packages.OpenArchiveBytes(packagetest.Build(packagetest.Integration()), packages.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for _, f := range a.Files() {
				if _, _, err := a.ReadFile(f.Rel); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
}

func TestBuildDeterministic(t *testing.T) {
	for _, c := range packagetest.Valid() {
		if !bytes.Equal(packagetest.Build(c.Spec), packagetest.Build(c.Spec)) {
			t.Errorf("%s: two builds differ", c.Name)
		}
	}
}

func TestMany(t *testing.T) {
	arts := packagetest.Many(40)
	seen := map[string]bool{}
	names := map[string]bool{}
	for _, a := range arts {
		key := a.Name + "@" + a.Version
		if seen[key] {
			t.Errorf("duplicate %s", key)
		}
		seen[key] = true
		names[a.Name] = true
		p, _, err := packages.ReadBytes(a.Zip, packages.Options{Expect: packages.Expect{Name: a.Name, Version: a.Version}})
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		if len(p.Categories) == 0 {
			t.Errorf("%s: no categories", key)
		}
	}
	if len(arts) != 40 || len(names) < 10 {
		t.Errorf("%d artifacts, %d names", len(arts), len(names))
	}
}

// The document the reader produces must survive the store's JSON round trip.
func TestReadDocumentRoundTrip(t *testing.T) {
	for _, c := range packagetest.Valid() {
		p, _ := mustRead(t, c.Spec, packages.Options{HasSignature: true})
		first := encode(t, p)
		var back packages.Package
		if err := json.Unmarshal(first, &back); err != nil {
			t.Fatal(err)
		}
		if second := encode(t, &back); !bytes.Equal(first, second) {
			t.Errorf("%s: round trip changed the document", c.Name)
		}
	}
}

func BenchmarkRead(b *testing.B) {
	zip := packagetest.Build(packagetest.Integration())
	b.SetBytes(int64(len(zip)))
	for b.Loop() {
		if _, _, err := packages.ReadBytes(zip, packages.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMany(b *testing.B) {
	for b.Loop() {
		packagetest.Many(100)
	}
}
