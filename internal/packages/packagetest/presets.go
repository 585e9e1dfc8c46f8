package packagetest

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"fmt"
	"hash/crc32"
	"io/fs"
	"strings"

	"github.com/oci-epr/package-registry/internal/packages"
)

func ptr[T any](v T) *T { return &v }

// Integration is a typical integration: two data streams (file logs, and an
// API collector with cel and httpjson streams so ingestion_method appears),
// a metrics data stream, two policy templates, icons and screenshots.
func Integration() Spec {
	return Spec{
		Name:          "acme_logs",
		Version:       "1.2.0",
		Title:         "Acme Logs",
		Description:   "Collect logs and metrics from Acme servers.",
		Type:          packages.TypeIntegration,
		Categories:    []string{"security", "monitoring"},
		KibanaVersion: "^8.13.0 || ^9.0.0",
		OwnerGithub:   "acme/integrations",
		OwnerType:     "partner",
		SourceLicense: "Elastic-2.0",
		Icons:         []Image{{Src: "/img/logo.svg", Title: "Acme logo", Size: "32x32", Type: "image/svg+xml"}},
		Screenshots:   []Image{{Src: "/img/dashboard.png", Title: "Dashboard", Size: "2x2", Type: "image/png"}},
		Vars:          []Var{{Name: "api_url", Type: "url", Title: "API URL", Required: true, ShowUser: true, Default: "https://acme.example.com"}},
		DataStreams: []DataStream{
			{Dir: "access", Type: "logs", Title: "Access logs", DefaultPipeline: true,
				Streams: []Stream{{Input: "filestream", Title: "Access log files",
					Vars: []Var{{Name: "paths", Type: "text", Multi: true, Required: true, ShowUser: true, Default: []string{"/var/log/acme/access.log"}}}}}},
			{Dir: "api", Type: "logs", Title: "API events",
				Streams: []Stream{
					{Input: "cel", Title: "Events via CEL", TemplatePath: "cel.yml.hbs"},
					{Input: "httpjson", Title: "Events via HTTP JSON", TemplatePath: "httpjson.yml.hbs", Enabled: ptr(false)},
				}},
			{Dir: "status", Type: "metrics", Title: "Server status",
				Streams: []Stream{{Input: "acme/metrics", Title: "Status metrics",
					Vars: []Var{{Name: "period", Type: "text", Default: "10s"}, {Name: "ssl", Type: "bool", Default: false}}}}},
		},
		PolicyTemplates: []PolicyTemplate{
			{Name: "logs", Title: "Acme logs", Description: "Collect Acme logs", DataStreams: []string{"access", "api"},
				Categories: []string{"security"}, Readme: true,
				Inputs: []Input{{Type: "filestream", Title: "Log files"}, {Type: "cel", Title: "API"}, {Type: "httpjson", Title: "HTTP JSON"}}},
			{Name: "metrics", Title: "Acme metrics", Description: "Collect Acme metrics", DataStreams: []string{"status"},
				Categories: []string{"observability"}, Multiple: ptr(false),
				Icons:  []Image{{Src: "/img/metrics.svg", Type: "image/svg+xml"}},
				Inputs: []Input{{Type: "acme/metrics", Title: "Metrics"}}},
		},
		ExtraFiles: map[string][]byte{
			"LICENSE.txt":                         []byte("Elastic License 2.0\n"),
			"kibana/dashboard/acme-overview.json": []byte(`{"attributes":{"title":"Acme"}}` + "\n"),
			"changelog.yml":                       []byte("- version: 1.2.0\n  changes: []\n"),
		},
	}
}

// InputPackage is an input package whose policy template uses the cel input.
func InputPackage() Spec {
	return Spec{
		Name:        "acme_input",
		Version:     "1.0.0",
		Title:       "Acme CEL input",
		Description: "Custom API collection.",
		Type:        packages.TypeInput,
		Categories:  []string{"custom"},
		Icons:       []Image{{Src: "/img/icon.svg", Type: "image/svg+xml"}},
		PolicyTemplates: []PolicyTemplate{{Name: "cel", Title: "CEL input", Description: "Collect with CEL",
			Input: "cel", Type: "logs", TemplatePath: "input.yml.hbs", Agentless: true, AgentlessRelease: "beta"}},
	}
}

// ContentPackage carries only Kibana assets.
func ContentPackage() Spec {
	return Spec{
		Name:        "acme_content",
		Version:     "0.1.0",
		Title:       "Acme dashboards",
		Description: "Dashboards only.",
		Type:        packages.TypeContent,
		Categories:  []string{"observability"},
		Release:     packages.ReleaseBeta,
		ExtraFiles:  map[string][]byte{"kibana/dashboard/acme-content.json": []byte("{}\n")},
	}
}

// Prerelease is a semver-prerelease version of Integration.
func Prerelease() Spec {
	s := Integration()
	s.Version = "1.3.0-rc1"
	return s
}

// ZeroX is a 0.x version: beta by default, yet not prerelease for /search.
func ZeroX() Spec {
	return Spec{Name: "acme_zero", Version: "0.3.0", Title: "Acme zero", Description: "Early package.",
		Categories: []string{"network"}}
}

// WithConditions sets every condition the query layer filters on.
func WithConditions() Spec {
	return Spec{Name: "acme_gold", Version: "2.0.0", Title: "Acme gold", Description: "Needs a subscription.",
		Categories: []string{"security"}, KibanaVersion: "^8.15.0", AgentVersion: "^8.15.0",
		Subscription: "platinum", Capabilities: []string{"security", "observability"}}
}

// DeprecatedPackage is deprecated at package level and in nested objects.
func DeprecatedPackage() Spec {
	s := Spec{Name: "acme_old", Version: "1.5.0", Title: "Acme old", Description: "Superseded.",
		Categories: []string{"web"},
		Deprecated: &Deprecation{Since: "1.5.0", Description: "Use acme_logs instead.", ReplacedBy: "acme_logs"},
		DataStreams: []DataStream{{Dir: "log", Title: "Old logs", Streams: []Stream{{Input: "logfile"}},
			Deprecated: &Deprecation{Since: "1.4.0", Description: "Use acme_logs.access."}}},
		PolicyTemplates: []PolicyTemplate{{Name: "old", DataStreams: []string{"log"}, Inputs: []Input{{Type: "logfile"}},
			Deprecated: &Deprecation{Since: "1.5.0", Description: "Gone."}}},
	}
	return s
}

// Experimental is a package released as experimental.
func Experimental() Spec {
	return Spec{Name: "acme_lab", Version: "1.0.0", Title: "Acme lab", Description: "Try it.",
		Release: packages.ReleaseExperimental, Categories: []string{"custom"}}
}

// WithDiscovery declares discovery fields and datasets.
func WithDiscovery() Spec {
	return Spec{Name: "acme_disco", Version: "1.1.0", Title: "Acme discovery", Description: "Discoverable.",
		Categories: []string{"observability"}, DiscoveryFields: []string{"host.ip", "acme.id"},
		DiscoveryDatasets: []string{"acme.events"}}
}

// DottedKeys writes its conditions, owner and an index template with dotted
// YAML keys, as many real manifests do.
func DottedKeys() Spec {
	return Spec{Name: "acme_dotted", Version: "1.0.0", Title: "Acme dotted", Description: "Dotted keys.",
		ExtraManifest: "conditions:\n  kibana.version: \"^8.0.0\"\n  elastic.subscription: gold\nowner.github: acme/dots\n",
		DataStreams: []DataStream{{Dir: "events", Title: "Events", Streams: []Stream{{Input: "tcp"}},
			ExtraManifest: "elasticsearch:\n  index_template.settings:\n    index.lifecycle.name: acme\n    index.number_of_shards: 1\n" +
				"  index_template.mappings:\n    dynamic: false\n"}}}
}

// Case is a named valid spec.
type Case struct {
	Name string
	Spec Spec
}

// Valid lists every preset.
func Valid() []Case {
	noDirs := Integration()
	noDirs.OmitDirEntries = true
	return []Case{
		{"integration", Integration()},
		{"integration_without_dir_entries", noDirs},
		{"input", InputPackage()},
		{"content", ContentPackage()},
		{"prerelease", Prerelease()},
		{"zero_x", ZeroX()},
		{"conditions", WithConditions()},
		{"deprecated", DeprecatedPackage()},
		{"experimental", Experimental()},
		{"discovery", WithDiscovery()},
		{"dotted_keys", DottedKeys()},
	}
}

// InvalidCase is an artifact Read must reject with Rule when called with
// Options (zero Options: the defaults). Content marks the content rules that
// Options.DisableContentValidation turns off; every other case is rejected
// whatever that option says.
type InvalidCase struct {
	Name    string
	Zip     []byte
	Options packages.Options
	Rule    packages.Rule
	Content bool
}

// Invalid lists one artifact per rejection rule (some rules several ways).
func Invalid() []InvalidCase {
	base := func() Spec {
		return Spec{Name: "bad", Version: "1.0.0", Title: "Bad", Description: "Broken on purpose.",
			DataStreams: []DataStream{{Dir: "events", Streams: []Stream{{Input: "tcp"}}}}}
	}
	with := func(f func(*Spec)) []byte {
		s := base()
		f(&s)
		return Build(s)
	}
	valid := Build(base())
	root := "bad-1.0.0/"
	manifest := []byte("format_version: 3.3.0\nname: bad\nversion: 1.0.0\ntitle: Bad\n")
	readme := []byte("# Bad\n")

	return []InvalidCase{
		{Name: "not_a_zip", Zip: []byte("this is not a zip"), Rule: packages.RuleInvalidZip},
		{Name: "empty_zip", Zip: rawZip(nil), Rule: packages.RuleLayout},
		{Name: "missing_readme", Zip: with(func(s *Spec) { s.NoReadme = true }), Rule: packages.RuleMissingReadme},
		{Name: "missing_manifest", Zip: rawZip([]rawEntry{{name: root + "docs/README.md", data: readme}}), Rule: packages.RuleMissingManifest},
		{Name: "version_not_semver", Zip: with(func(s *Spec) { s.Version = "1.0" }), Rule: packages.RuleInvalidVersion},
		{Name: "version_with_v", Zip: with(func(s *Spec) { s.Version = "v1.0.0" }), Rule: packages.RuleInvalidVersion},
		{Name: "version_leading_zero", Zip: with(func(s *Spec) { s.Version = "1.02.0" }), Rule: packages.RuleInvalidVersion},
		{Name: "format_version_not_semver", Zip: with(func(s *Spec) { s.FormatVersion = "3.0" }), Rule: packages.RuleInvalidFormatVersion},
		{Name: "kibana_constraint", Zip: with(func(s *Spec) { s.KibanaVersion = ">>8" }), Rule: packages.RuleInvalidConstraint},
		{Name: "agent_constraint", Zip: with(func(s *Spec) { s.AgentVersion = "not a constraint" }), Rule: packages.RuleInvalidConstraint},
		{Name: "release_invalid", Zip: with(func(s *Spec) { s.Release = "alpha" }), Rule: packages.RuleInvalidRelease},
		{Name: "data_stream_release_invalid", Zip: with(func(s *Spec) { s.DataStreams[0].Release = "stable" }), Rule: packages.RuleInvalidRelease},
		{Name: "agentless_release_invalid", Zip: with(func(s *Spec) {
			s.PolicyTemplates = []PolicyTemplate{{Name: "t", Agentless: true, AgentlessRelease: "experimental"}}
		}), Rule: packages.RuleInvalidRelease},
		{Name: "data_stream_dir_dash", Zip: with(func(s *Spec) { s.DataStreams[0].Dir = "access-logs" }), Rule: packages.RuleInvalidDataStream},
		{Name: "dataset_dash", Zip: with(func(s *Spec) { s.DataStreams[0].Dataset = "bad-events" }), Rule: packages.RuleInvalidDataStream},
		{Name: "data_stream_type", Zip: with(func(s *Spec) { s.DataStreams[0].Type = "events" }), Rule: packages.RuleInvalidDataStream},
		{Name: "data_stream_without_manifest", Zip: with(func(s *Spec) {
			s.ExtraFiles = map[string][]byte{"data_stream/orphan/fields/f.yml": []byte("[]\n")}
		}), Rule: packages.RuleInvalidDataStream},
		{Name: "name_uppercase", Zip: with(func(s *Spec) { s.Name = "Bad" }), Rule: packages.RuleInvalidName},
		{Name: "name_dash", Zip: with(func(s *Spec) { s.Name = "bad-name" }), Rule: packages.RuleInvalidName},
		{Name: "folder_mismatch", Zip: with(func(s *Spec) { s.Root = "bad-2.0.0" }), Rule: packages.RuleFolderMismatch},
		{Name: "two_top_level_folders", Zip: rawZip([]rawEntry{
			{name: root + "manifest.yml", data: manifest}, {name: root + "docs/README.md", data: readme},
			{name: "__MACOSX/._manifest.yml", data: []byte("x")}}), Rule: packages.RuleLayout},
		{Name: "top_level_file", Zip: rawZip([]rawEntry{
			{name: root + "manifest.yml", data: manifest}, {name: "manifest.yml", data: manifest}}), Rule: packages.RuleLayout},
		{Name: "expect_name_mismatch", Zip: valid, Options: packages.Options{Expect: packages.Expect{Name: "other"}}, Rule: packages.RuleExpectMismatch},
		{Name: "expect_version_mismatch", Zip: valid, Options: packages.Options{Expect: packages.Expect{Name: "bad", Version: "2.0.0"}}, Rule: packages.RuleExpectMismatch},
		{Name: "zip_too_large", Zip: valid, Options: packages.Options{Limits: packages.Limits{MaxZipSize: 100}}, Rule: packages.RuleZipTooLarge},
		{Name: "too_many_entries", Zip: valid, Options: packages.Options{Limits: packages.Limits{MaxEntries: 3}}, Rule: packages.RuleTooManyEntries},
		{Name: "declared_uncompressed_too_large", Zip: valid, Options: packages.Options{Limits: packages.Limits{MaxUncompressed: 100}}, Rule: packages.RuleTooLargeUncompressed},
		{Name: "entry_lies_about_size", Zip: rawZip([]rawEntry{
			{name: root + "manifest.yml", data: append(append([]byte{}, manifest...), bytes.Repeat([]byte("# padding\n"), 1000)...), declare: 40},
			{name: root + "docs/README.md", data: readme}}), Rule: packages.RuleInvalidZip},
		{Name: "manifest_too_large", Zip: with(func(s *Spec) { s.ExtraManifest = "# " + strings.Repeat("x", 2000) + "\n" }),
			Options: packages.Options{Limits: packages.Limits{MaxManifestSize: 1000}}, Rule: packages.RuleManifestTooLarge},
		{Name: "absolute_path", Zip: rawZip([]rawEntry{{name: "/" + root + "manifest.yml", data: manifest}}), Rule: packages.RuleUnsafePath},
		{Name: "dot_dot_path", Zip: rawZip([]rawEntry{
			{name: root + "manifest.yml", data: manifest}, {name: root + "../evil.txt", data: readme}}), Rule: packages.RuleUnsafePath},
		{Name: "backslash_path", Zip: rawZip([]rawEntry{
			{name: root + "manifest.yml", data: manifest}, {name: root + "docs\\README.md", data: readme}}), Rule: packages.RuleUnsafePath},
		{Name: "duplicate_entry", Zip: rawZip([]rawEntry{
			{name: root + "manifest.yml", data: manifest}, {name: root + "manifest.yml", data: manifest}}), Rule: packages.RuleUnsafePath},
		{Name: "symlink", Zip: rawZip([]rawEntry{
			{name: root + "manifest.yml", data: manifest}, {name: root + "docs/README.md", data: []byte("/etc/passwd"), mode: fs.ModeSymlink | 0o777}}), Rule: packages.RuleSymlink},
		{Name: "yaml_not_utf8", Zip: with(func(s *Spec) { s.ExtraManifest = "description: \"caf\xe9\"\n" }), Rule: packages.RuleInvalidYAML},
		{Name: "yaml_syntax", Zip: with(func(s *Spec) { s.ExtraManifest = "owner: [unclosed\n" }), Rule: packages.RuleInvalidYAML},
		{Name: "yaml_not_mapping", Zip: with(func(s *Spec) { s.Manifest = []byte("- a\n- b\n") }), Rule: packages.RuleInvalidManifest},
		{Name: "manifest_wrong_type", Zip: with(func(s *Spec) { s.ExtraManifest = "categories: {a: b}\n" }), Rule: packages.RuleInvalidManifest},
		{Name: "dotted_key_conflict", Zip: with(func(s *Spec) { s.ExtraManifest = "owner: acme\nowner.github: acme\n" }), Rule: packages.RuleInvalidManifest},
		{Name: "unused_pipeline", Zip: with(func(s *Spec) { s.DataStreams[0].PipelineFiles = []string{"other.yml"} }), Rule: packages.RuleUnusedPipeline},

		{Name: "no_fields", Zip: with(func(s *Spec) { s.DataStreams[0].NoFields = true }), Rule: packages.RuleMissingRequiredFields, Content: true},
		{Name: "fields_lack_namespace", Zip: with(func(s *Spec) {
			s.DataStreams[0].Fields = []byte("- {name: data_stream.type, type: constant_keyword}\n- {name: data_stream.dataset, type: constant_keyword}\n- {name: '@timestamp', type: date}\n")
		}), Rule: packages.RuleMissingRequiredFields, Content: true},
		{Name: "fields_wrong_type", Zip: with(func(s *Spec) {
			s.DataStreams[0].Fields = []byte(strings.Replace(baseFields, "type: date", "type: keyword", 1))
		}), Rule: packages.RuleMissingRequiredFields, Content: true},
		{Name: "fields_external_only", Zip: with(func(s *Spec) {
			s.DataStreams[0].Fields = []byte(strings.Replace(baseFields, "- name: '@timestamp'\n  type: date\n", "- name: '@timestamp'\n  external: ecs\n", 1))
		}), Rule: packages.RuleMissingRequiredFields, Content: true},
		{Name: "fields_not_yaml", Zip: with(func(s *Spec) {
			s.ExtraFiles = map[string][]byte{"data_stream/events/fields/broken.yml": []byte("- name: [unclosed\n")}
		}), Rule: packages.RuleInvalidFieldsFile, Content: true},
		{Name: "dashed_directory", Zip: with(func(s *Spec) {
			s.ExtraFiles = map[string][]byte{"kibana/saved-search/a.json": []byte("{}\n")}
		}), Rule: packages.RuleDashedDirectory, Content: true},
		{Name: "dashed_empty_directory", Zip: rawZip([]rawEntry{
			{name: root + "manifest.yml", data: manifest}, {name: root + "docs/README.md", data: readme},
			{name: root + "docs/old-notes/", mode: fs.ModeDir | 0o755}}), Rule: packages.RuleDashedDirectory, Content: true},
		{Name: "missing_icon", Zip: with(func(s *Spec) { s.ExtraManifest = "icons:\n  - src: /img/gone.svg\n" }), Rule: packages.RuleMissingImage, Content: true},
		{Name: "missing_screenshot", Zip: with(func(s *Spec) { s.ExtraManifest = "screenshots:\n  - src: /img/gone.png\n" }), Rule: packages.RuleMissingImage, Content: true},
	}
}

type rawEntry struct {
	name    string
	data    []byte
	mode    fs.FileMode
	declare int // declared uncompressed size when > 0 (a lie)
}

// rawZip writes entries exactly as given, bypassing the checks Build's
// layout implies, so that malformed archives can be produced.
func rawZip(entries []rawEntry) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate, Modified: FixedTime}
		h.SetMode(0o644)
		if e.mode != 0 {
			h.SetMode(e.mode)
		}
		if e.declare > 0 {
			writeLyingEntry(zw, h, e.data, e.declare)
			continue
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			panic(err)
		}
		w.Write(e.data)
	}
	zw.Close()
	return buf.Bytes()
}

// writeLyingEntry stores data deflated but declares a smaller uncompressed
// size, the shape of a zip bomb that fools size checks done up front.
func writeLyingEntry(zw *zip.Writer, h *zip.FileHeader, data []byte, declared int) {
	var comp bytes.Buffer
	fw, _ := flate.NewWriter(&comp, flate.BestCompression)
	fw.Write(data)
	fw.Close()
	h.CompressedSize64 = uint64(comp.Len())
	h.UncompressedSize64 = uint64(declared)
	h.CRC32 = crc32.ChecksumIEEE(data[:declared])
	w, err := zw.CreateRaw(h)
	if err != nil {
		panic(err)
	}
	w.Write(comp.Bytes())
}

// Artifact is one generated package of Many.
type Artifact struct {
	Name    string
	Version string
	Zip     []byte
}

// Many returns n distinct valid packages: names shared by up to four
// versions (some prerelease, some 0.x), types and categories varied, so that
// latest-version and category logic have work to do.
func Many(n int) []Artifact {
	cats := packages.Categories()
	types := []string{packages.TypeIntegration, packages.TypeIntegration, packages.TypeInput, packages.TypeContent}
	out := make([]Artifact, 0, n)
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("bench_%04d", i/4)
		var version string
		switch i % 4 {
		case 0:
			version = "0.9.0"
		case 1:
			version = fmt.Sprintf("1.%d.0", i%7)
		case 2:
			version = fmt.Sprintf("1.%d.1", i%7)
		default:
			version = "2.0.0-beta1"
		}
		s := Spec{
			Name: name, Version: version, Title: fmt.Sprintf("Bench %d", i/4),
			Description: "Benchmark package.", Type: types[(i/4)%len(types)],
			Categories: []string{cats[i%len(cats)].ID, cats[(i*7+3)%len(cats)].ID},
		}
		if i%5 == 0 {
			s.KibanaVersion = "^8.0.0"
		}
		if s.Type == packages.TypeIntegration {
			s.DataStreams = []DataStream{{Dir: "events", Streams: []Stream{{Input: "cel"}}}}
			s.PolicyTemplates = []PolicyTemplate{{Name: "events", DataStreams: []string{"events"}, Inputs: []Input{{Type: "cel"}},
				Categories: []string{cats[(i*3+1)%len(cats)].ID}}}
		}
		out = append(out, Artifact{Name: name, Version: version, Zip: Build(s)})
	}
	return out
}
