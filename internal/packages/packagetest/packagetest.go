// Package packagetest builds Elastic package zips in memory for tests and
// benchmarks of the indexer, the API and the end-to-end suite. Output is
// deterministic: equal specs give equal bytes (fixed mtimes, entries sorted
// unless Spec.EntryOrder says otherwise, sorted YAML keys), so digests are
// stable across runs. Every valid preset passes EPR's content validation.
package packagetest

import (
	"archive/zip"
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"path"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// FixedTime is the mtime of every generated entry.
var FixedTime = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// Spec describes a package. Zero fields are left out of the manifest (so the
// reader's defaults apply) unless documented otherwise.
type Spec struct {
	Name    string
	Version string
	// FormatVersion defaults to "3.3.0".
	FormatVersion string
	Type          string
	Title         string
	Description   string
	Release       string
	License       string
	SourceLicense string
	Categories    []string
	KibanaVersion string
	AgentVersion  string
	Subscription  string
	Capabilities  []string
	OwnerGithub   string
	OwnerType     string
	Deprecated    *Deprecation
	Icons         []Image
	Screenshots   []Image
	DataStreams   []DataStream
	// PolicyTemplates; each gets docs/<name>.md when Readme is set.
	PolicyTemplates   []PolicyTemplate
	Vars              []Var
	DiscoveryFields   []string
	DiscoveryDatasets []string
	RequiresInput     []Requirement
	// ExtraManifest is raw YAML appended to the generated manifest.yml, for
	// shapes the fields above do not cover (dotted keys, odd types).
	ExtraManifest string
	// Manifest replaces manifest.yml entirely when not nil.
	Manifest []byte
	// Readme is docs/README.md; defaults to a title line. NoReadme leaves it out.
	Readme   string
	NoReadme bool
	// ExtraFiles adds files by path relative to the package folder.
	ExtraFiles map[string][]byte
	// Root overrides the top-level folder "<name>-<version>".
	Root string
	// OmitDirEntries writes files only, as some zip tools do.
	OmitDirEntries bool
	// EntryOrder lists files (paths relative to the package folder) to write
	// first, in this order; the rest follow in byte order. Zips made by other
	// tools are not written from a sorted walk, and EPR keeps their order.
	EntryOrder []string
	// Uncompressed stores entries without deflate, so that a fuzzer mutating
	// the zip reaches the YAML text directly.
	Uncompressed bool
}

type Deprecation struct {
	Since       string
	Description string
	ReplacedBy  string // a package name
}

// Image is an icon or screenshot; its file is generated from Src's extension
// (.svg or .png) unless Content is set.
type Image struct {
	Src     string
	Title   string
	Size    string
	Type    string
	Content []byte
}

type DataStream struct {
	// Dir is the directory under data_stream/.
	Dir     string
	Type    string // defaults to "logs"
	Title   string // defaults to Dir
	Dataset string
	Release string
	Hidden  bool
	Streams []Stream
	// DefaultPipeline adds elasticsearch/ingest_pipeline/default.yml.
	DefaultPipeline bool
	// PipelineFiles adds more files under elasticsearch/ingest_pipeline/.
	PipelineFiles []string
	Deprecated    *Deprecation
	// Fields replaces fields/base-fields.yml (which declares the fields EPR
	// requires) when not nil; NoFields leaves fields/ out.
	Fields   []byte
	NoFields bool
	// ExtraManifest is raw YAML appended to the data stream manifest.
	ExtraManifest string
	// Manifest replaces the data stream manifest entirely when not nil.
	Manifest []byte
}

type Stream struct {
	Input        string
	Title        string
	Description  string
	TemplatePath string
	Enabled      *bool
	Vars         []Var
}

type PolicyTemplate struct {
	Name        string
	Title       string
	Description string
	DataStreams []string
	Inputs      []Input
	Categories  []string
	// Input, Type and TemplatePath are for input packages.
	Input        string
	Type         string
	TemplatePath string
	Multiple     *bool
	Icons        []Image
	Readme       bool
	// Agentless adds deployment_modes with default and agentless enabled.
	Agentless        bool
	AgentlessRelease string
	// AgentlessIsDefault sets deployment_modes.agentless.is_default when not nil.
	AgentlessIsDefault *bool
	Deprecated         *Deprecation
}

type Input struct {
	Type        string
	Title       string
	Description string
	Vars        []Var
}

// Var is a policy variable; Default nil means "no default".
type Var struct {
	Name     string
	Type     string
	Title    string
	Multi    bool
	Required bool
	ShowUser bool
	Default  any
}

type Requirement struct {
	Package string
	Version string
}

// Build renders the zip. It panics only on a spec that cannot be encoded at
// all (a Default value YAML rejects), which is a bug in the test.
func Build(s Spec) []byte {
	files := map[string][]byte{}
	files["manifest.yml"] = s.Manifest
	if s.Manifest == nil {
		files["manifest.yml"] = append(mustYAML(s.manifest()), s.ExtraManifest...)
	}
	if !s.NoReadme {
		readme := s.Readme
		if readme == "" {
			readme = "# " + firstNonEmpty(s.Title, s.Name) + "\n"
		}
		files["docs/README.md"] = []byte(readme)
	}
	addImages := func(imgs []Image) {
		for _, im := range imgs {
			files[strings.TrimPrefix(path.Clean("/"+im.Src), "/")] = imageContent(im)
		}
	}
	addImages(s.Icons)
	addImages(s.Screenshots)
	for _, t := range s.PolicyTemplates {
		addImages(t.Icons)
		if t.Readme {
			files["docs/"+t.Name+".md"] = []byte("# " + firstNonEmpty(t.Title, t.Name) + "\n")
		}
		if t.TemplatePath != "" {
			files["agent/input/"+t.TemplatePath] = []byte("# input template\n")
		}
	}
	for _, ds := range s.DataStreams {
		dir := "data_stream/" + ds.Dir + "/"
		files[dir+"manifest.yml"] = ds.Manifest
		if ds.Manifest == nil {
			files[dir+"manifest.yml"] = append(mustYAML(ds.manifest()), ds.ExtraManifest...)
		}
		switch {
		case ds.Fields != nil:
			files[dir+"fields/base-fields.yml"] = ds.Fields
		case !ds.NoFields:
			files[dir+"fields/base-fields.yml"] = []byte(baseFields)
		}
		for _, st := range ds.Streams {
			files[dir+"agent/stream/"+firstNonEmpty(st.TemplatePath, "stream.yml.hbs")] = []byte("# " + st.Input + "\n")
		}
		if ds.DefaultPipeline {
			files[dir+"elasticsearch/ingest_pipeline/default.yml"] = []byte(pipeline)
		}
		for _, p := range ds.PipelineFiles {
			files[dir+"elasticsearch/ingest_pipeline/"+p] = []byte(pipeline)
		}
	}
	for rel, content := range s.ExtraFiles {
		files[rel] = content
	}
	root := s.Root
	if root == "" {
		root = s.Name + "-" + s.Version
	}
	return zipFiles(root, files, s.EntryOrder, !s.OmitDirEntries, s.Uncompressed)
}

// baseFields declares the fields EPR requires of every data stream of an
// integration, so that generated packages pass its validation.
const baseFields = `- name: data_stream.type
  type: constant_keyword
- name: data_stream.dataset
  type: constant_keyword
- name: data_stream.namespace
  type: constant_keyword
- name: '@timestamp'
  type: date
`

const pipeline = `description: Pipeline for parsing events.
processors:
  - set:
      field: event.kind
      value: event
`

// zipFiles writes the entries named by first (relative paths) in that
// order, then the others in byte order of their paths, with directory
// entries for every parent when withDirs is set.
func zipFiles(root string, files map[string][]byte, first []string, withDirs, store bool) []byte {
	entries := map[string][]byte{}
	for rel, content := range files {
		name := root + "/" + rel
		entries[name] = content
		if withDirs {
			for d := path.Dir(name); d != "." && d != "/"; d = path.Dir(d) {
				entries[d+"/"] = nil
			}
		}
	}
	names := make([]string, 0, len(entries))
	for n := range entries {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(first) > 0 {
		var ordered []string
		placed := map[string]bool{}
		for _, rel := range first {
			if n := root + "/" + rel; !placed[n] {
				if _, ok := entries[n]; ok {
					ordered = append(ordered, n)
					placed[n] = true
				}
			}
		}
		for _, n := range names {
			if !placed[n] {
				ordered = append(ordered, n)
			}
		}
		names = ordered
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, n := range names {
		h := &zip.FileHeader{Name: n, Method: zip.Deflate, Modified: FixedTime}
		if store {
			h.Method = zip.Store
		}
		if strings.HasSuffix(n, "/") {
			h.Method = zip.Store
			h.SetMode(0o755 | 1<<31) // fs.ModeDir
		} else {
			h.SetMode(0o644)
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			panic(err)
		}
		if _, err := w.Write(entries[n]); err != nil {
			panic(err)
		}
	}
	if err := zw.Close(); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

func imageContent(im Image) []byte {
	if im.Content != nil {
		return im.Content
	}
	if strings.HasSuffix(im.Src, ".png") {
		return tinyPNG()
	}
	return []byte(`<svg xmlns="http://www.w3.org/2000/svg" width="32" height="32"><rect width="32" height="32" fill="#07c"/></svg>` + "\n")
}

// tinyPNG is a 2x2 image; png.Encode is deterministic for equal input.
func tinyPNG() []byte {
	img := image.NewNRGBA(image.Rect(0, 0, 2, 2))
	img.Set(0, 0, color.NRGBA{0, 119, 204, 255})
	img.Set(1, 1, color.NRGBA{255, 255, 255, 255})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

func mustYAML(v any) []byte {
	out, err := yaml.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("packagetest: cannot encode manifest: %v", err))
	}
	return out
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// obj is a YAML mapping that leaves out empty values, so the manifest only
// says what the spec sets.
type obj map[string]any

func (o obj) set(key string, v any) {
	switch t := v.(type) {
	case string:
		if t == "" {
			return
		}
	case []string:
		if len(t) == 0 {
			return
		}
	case []any:
		if len(t) == 0 {
			return
		}
	case obj:
		if len(t) == 0 {
			return
		}
	case bool:
		if !t {
			return
		}
	case *bool:
		if t == nil {
			return
		}
		v = *t
	case nil:
		return
	}
	o[key] = v
}

func (s Spec) manifest() obj {
	m := obj{}
	m.set("format_version", firstNonEmpty(s.FormatVersion, "3.3.0"))
	m.set("name", s.Name)
	m.set("title", s.Title)
	m.set("version", s.Version)
	m.set("release", s.Release)
	m.set("description", s.Description)
	m.set("type", s.Type)
	m.set("license", s.License)
	m.set("categories", s.Categories)
	if s.SourceLicense != "" {
		m.set("source", obj{"license": s.SourceLicense})
	}
	cond := obj{}
	if s.KibanaVersion != "" {
		cond.set("kibana", obj{"version": s.KibanaVersion})
	}
	if s.AgentVersion != "" {
		cond.set("agent", obj{"version": s.AgentVersion})
	}
	el := obj{}
	el.set("subscription", s.Subscription)
	el.set("capabilities", s.Capabilities)
	cond.set("elastic", el)
	m.set("conditions", cond)
	owner := obj{}
	owner.set("github", s.OwnerGithub)
	owner.set("type", s.OwnerType)
	m.set("owner", owner)
	m.set("icons", images(s.Icons))
	m.set("screenshots", images(s.Screenshots))
	m.set("deprecated", deprecation(s.Deprecated))
	m.set("vars", vars(s.Vars))
	disc := obj{}
	disc.set("fields", names(s.DiscoveryFields))
	disc.set("datasets", names(s.DiscoveryDatasets))
	m.set("discovery", disc)
	var req []any
	for _, r := range s.RequiresInput {
		req = append(req, obj{"package": r.Package, "version": r.Version})
	}
	if len(req) > 0 {
		m.set("requires", obj{"input": req})
	}
	var templates []any
	for _, t := range s.PolicyTemplates {
		templates = append(templates, t.manifest())
	}
	m.set("policy_templates", templates)
	return m
}

func (t PolicyTemplate) manifest() obj {
	m := obj{}
	m.set("name", t.Name)
	m.set("title", firstNonEmpty(t.Title, t.Name))
	m.set("description", firstNonEmpty(t.Description, "Collect "+t.Name))
	m.set("data_streams", t.DataStreams)
	m.set("categories", t.Categories)
	m.set("input", t.Input)
	m.set("type", t.Type)
	m.set("template_path", t.TemplatePath)
	m.set("multiple", t.Multiple)
	m.set("icons", images(t.Icons))
	m.set("deprecated", deprecation(t.Deprecated))
	if t.Agentless {
		agentless := obj{"enabled": true}
		agentless.set("release", t.AgentlessRelease)
		if t.AgentlessIsDefault != nil {
			agentless["is_default"] = *t.AgentlessIsDefault
		}
		m.set("deployment_modes", obj{"default": obj{"enabled": true}, "agentless": agentless})
	}
	var inputs []any
	for _, in := range t.Inputs {
		o := obj{}
		o.set("type", in.Type)
		o.set("title", firstNonEmpty(in.Title, in.Type))
		o.set("description", in.Description)
		o.set("vars", vars(in.Vars))
		inputs = append(inputs, o)
	}
	m.set("inputs", inputs)
	return m
}

func (ds DataStream) manifest() obj {
	m := obj{}
	m.set("type", firstNonEmpty(ds.Type, "logs"))
	m.set("title", firstNonEmpty(ds.Title, ds.Dir))
	m.set("dataset", ds.Dataset)
	m.set("release", ds.Release)
	m.set("hidden", ds.Hidden)
	m.set("deprecated", deprecation(ds.Deprecated))
	var streams []any
	for _, st := range ds.Streams {
		o := obj{}
		o.set("input", st.Input)
		o.set("title", firstNonEmpty(st.Title, st.Input))
		o.set("description", st.Description)
		o.set("template_path", st.TemplatePath)
		o.set("enabled", st.Enabled)
		o.set("vars", vars(st.Vars))
		streams = append(streams, o)
	}
	m.set("streams", streams)
	return m
}

func images(in []Image) []any {
	var out []any
	for _, im := range in {
		o := obj{}
		o.set("src", im.Src)
		o.set("title", im.Title)
		o.set("size", im.Size)
		o.set("type", im.Type)
		out = append(out, o)
	}
	return out
}

func vars(in []Var) []any {
	var out []any
	for _, v := range in {
		o := obj{"name": v.Name, "type": firstNonEmpty(v.Type, "text")}
		o.set("title", v.Title)
		o.set("multi", v.Multi)
		o.set("required", v.Required)
		o.set("show_user", v.ShowUser)
		if v.Default != nil {
			o["default"] = v.Default
		}
		out = append(out, o)
	}
	return out
}

func names(in []string) []any {
	var out []any
	for _, n := range in {
		out = append(out, obj{"name": n})
	}
	return out
}

func deprecation(d *Deprecation) any {
	if d == nil {
		return nil
	}
	o := obj{"since": d.Since, "description": d.Description}
	if d.ReplacedBy != "" {
		o["replaced_by"] = obj{"package": d.ReplacedBy}
	}
	return o
}
