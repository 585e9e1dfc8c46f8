package packages

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// Options tune Read for one artifact.
type Options struct {
	Limits Limits
	// Expect, when set, is what the repository and tag say the artifact is;
	// the manifest must agree.
	Expect Expect
	// HasSignature tells Read that a detached signature was found next to the
	// zip, so that signature_path is reported.
	HasSignature bool
	// DisableContentValidation skips the content rules EPR 1.40 applies
	// (required fields, fields files, dashed directories, missing images).
	// The structural rules (paths, sizes, zip bombs, identity) and those the
	// document is derived from always apply.
	DisableContentValidation bool
}

// Expect is the identity an artifact claims from where it is stored. Empty
// fields are not checked.
type Expect struct {
	Name    string
	Version string
}

var (
	packageNamePattern = regexp.MustCompile(`^[a-z0-9_]+$`)

	dataStreamTypes   = map[string]bool{"logs": true, "metrics": true, "synthetics": true, "traces": true}
	packageReleases   = map[string]bool{ReleaseExperimental: true, ReleaseBeta: true, ReleaseGA: true}
	agentlessReleases = map[string]bool{ReleaseBeta: true, ReleaseGA: true}
)

// IsValidName reports whether name is a package name: ^[a-z0-9_]+$ (the one rule; ref and the
// API use it too).
func IsValidName(name string) bool { return packageNamePattern.MatchString(name) }

// ReadBytes is Read over an in-memory zip.
func ReadBytes(zipBytes []byte, opts Options) (*Package, []string, error) {
	return Read(bytes.NewReader(zipBytes), int64(len(zipBytes)), opts)
}

// Read validates a package zip and builds its document, with every derived
// field filled in. Warnings report what was dropped without rejecting the
// package (unknown categories). A broken rule gives a *RejectError
// (errors.Is(err, ErrRejected)); any other error comes from r and may be
// worth retrying. Read never panics, whatever the bytes.
func Read(r io.ReaderAt, size int64, opts Options) (pkg *Package, warnings []string, err error) {
	defer func() {
		// Last line of defence for "never crash on bad input": a bug here
		// must reject one artifact, not take the indexer down.
		if p := recover(); p != nil {
			pkg, warnings, err = nil, nil, reject(RuleInvalidManifest, fmt.Sprintf("internal error while reading package: %v", p))
		}
	}()
	lim := opts.Limits.withDefaults()
	a, err := OpenArchive(r, size, lim)
	if err != nil {
		return nil, nil, err
	}
	rd := &reader{a: a, lim: lim, opts: opts}
	pkg, err = rd.read()
	if err != nil {
		if ioErr := a.ioErr.failure(); ioErr != nil {
			return nil, nil, ioErr
		}
		return nil, nil, err
	}
	return pkg, rd.warnings, nil
}

// reader carries the state of one Read.
type reader struct {
	a         *Archive
	lim       Limits
	opts      Options
	readSoFar int64
	warnings  []string
	base      string // "/package/<n>/<v>"
}

func (rd *reader) read() (*Package, error) {
	m, err := rd.manifest("manifest.yml", RuleMissingManifest)
	if err != nil {
		return nil, err
	}
	var man packageManifest
	if err := decodeManifest(m, "manifest.yml", &man); err != nil {
		return nil, err
	}
	name, version := string(man.Name), string(man.Version)
	if err := rd.checkIdentity(name, version, string(man.FormatVersion)); err != nil {
		return nil, err
	}
	rd.base = "/package/" + name + "/" + version

	if _, ok := rd.a.Lookup("docs/README.md"); !ok {
		return nil, reject(RuleMissingReadme, "docs/README.md is missing; every package must have one")
	}

	p := &Package{
		Name:                    name,
		Title:                   string(man.Title),
		Version:                 version,
		Release:                 string(man.Release),
		Description:             string(man.Description),
		Type:                    string(man.Type),
		Download:                "/epr/" + name + "/" + name + "-" + version + ".zip",
		Path:                    rd.base,
		Icons:                   rd.images(man.Icons),
		PolicyTemplatesBehavior: string(man.PolicyTemplatesBehavior),
		Group:                   string(man.Group),
		FormatVersion:           string(man.FormatVersion),
		Readme:                  rd.base + "/docs/README.md",
		License:                 string(man.License),
		Screenshots:             rd.images(man.Screenshots),
		Vars:                    variables(man.Vars),
		Deprecated:              deprecation(man.Deprecated),
	}
	if rd.opts.HasSignature {
		p.SignaturePath = p.Download + ".sig"
	}
	if p.Type == "" {
		p.Type = TypeIntegration
	}
	if p.Release == "" {
		p.Release = defaultRelease(version)
	} else if !packageReleases[p.Release] {
		return nil, reject(RuleInvalidRelease, fmt.Sprintf("release %q is not one of experimental, beta, ga", p.Release))
	}
	if man.Source != nil && man.Source.License != "" {
		p.Source = &Source{License: string(man.Source.License)}
	}
	if man.Owner != nil && (man.Owner.Type != "" || man.Owner.Github != "") {
		p.Owner = &Owner{Type: string(man.Owner.Type), Github: string(man.Owner.Github)}
	}
	if p.Conditions, err = conditions(man.Conditions); err != nil {
		return nil, err
	}
	if p.License == "" && p.Conditions != nil && p.Conditions.Elastic != nil {
		p.License = p.Conditions.Elastic.Subscription
	}
	if p.License == "" {
		p.License = "basic"
	}
	for _, c := range man.Categories {
		if _, ok := LookupCategory(string(c)); !ok {
			rd.warnings = append(rd.warnings, fmt.Sprintf("category %q is not in the category table; dropped", c))
			continue
		}
		p.Categories = append(p.Categories, string(c))
	}
	p.Discovery = discovery(man.Discovery)
	p.Requires = requires(man.Requires)
	if es := man.Elasticsearch; es != nil {
		p.Elasticsearch = &Elasticsearch{}
		if es.Privileges != nil && len(es.Privileges.Cluster) > 0 {
			p.Elasticsearch.Privileges = &ClusterPrivileges{Cluster: texts(es.Privileges.Cluster)}
		}
	}
	p.Agent = agent(man.Agent)
	for _, e := range rd.a.assets {
		p.Assets = append(p.Assets, rd.base+"/"+e.Rel)
	}
	for _, tm := range man.PolicyTemplates {
		t, err := rd.policyTemplate(tm)
		if err != nil {
			return nil, err
		}
		p.PolicyTemplates = append(p.PolicyTemplates, t)
	}
	if p.DataStreams, err = rd.dataStreams(p); err != nil {
		return nil, err
	}
	if !rd.opts.DisableContentValidation {
		if err := rd.validateContent(p, man); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// checkIdentity enforces that the manifest, the zip folder and the storage
// location all name the same package version, since each of them is used as
// the key somewhere (the index, Kibana's unpacking, the registry tag).
func (rd *reader) checkIdentity(name, version, formatVersion string) error {
	if !IsValidName(name) {
		return reject(RuleInvalidName, fmt.Sprintf("name %q does not match ^[a-z0-9_]+$", name))
	}
	if !IsStrictSemver(version) {
		return reject(RuleInvalidVersion, fmt.Sprintf("version %q is not a strict semantic version", version))
	}
	if !IsStrictSemver(formatVersion) {
		return reject(RuleInvalidFormatVersion, fmt.Sprintf("format_version %q is not a strict semantic version", formatVersion))
	}
	if want := name + "-" + version; rd.a.Root != want {
		return reject(RuleFolderMismatch, fmt.Sprintf("top-level folder is %q but the manifest says %q", rd.a.Root+"/", want+"/"))
	}
	exp := rd.opts.Expect
	if exp.Name != "" && exp.Name != name {
		return reject(RuleExpectMismatch, fmt.Sprintf("manifest name %q does not match the repository's %q", name, exp.Name))
	}
	if exp.Version != "" && exp.Version != version {
		return reject(RuleExpectMismatch, fmt.Sprintf("manifest version %q does not match the tag's %q", version, exp.Version))
	}
	return nil
}

// manifest reads and parses a YAML file of the archive. missingRule is the
// rule reported when the file does not exist.
func (rd *reader) manifest(rel string, missingRule Rule) (map[string]any, error) {
	e, ok := rd.a.Lookup(rel)
	if !ok {
		return nil, reject(missingRule, rel+" is missing")
	}
	if e.Size > rd.lim.MaxManifestSize {
		return nil, reject(RuleManifestTooLarge, fmt.Sprintf("%s is %d bytes, more than the limit of %d", rel, e.Size, rd.lim.MaxManifestSize))
	}
	data, err := rd.readFile(e)
	if err != nil {
		return nil, err
	}
	return parseManifestYAML(data, rel)
}

// readFile inflates one entry, counting what is actually produced against
// the limits: the declared sizes already passed, but they may be lies.
func (rd *reader) readFile(e FileEntry) ([]byte, error) {
	rc, err := e.zf.Open()
	if err != nil {
		return nil, reject(RuleInvalidZip, fmt.Sprintf("cannot open %s: %v", e.Rel, err))
	}
	defer rc.Close()
	budget := min(rd.lim.MaxUncompressed-rd.readSoFar, e.Size)
	data, err := io.ReadAll(io.LimitReader(rc, budget+1))
	rd.readSoFar += int64(len(data))
	if errors.Is(err, zip.ErrFormat) || errors.Is(err, zip.ErrChecksum) {
		// archive/zip reports an entry inflating past its declared size as a
		// format error; say so, since that is the zip-bomb case.
		return nil, reject(RuleInvalidZip, fmt.Sprintf("cannot read %s: corrupt entry or more data than its declared %d bytes (%v)", e.Rel, e.Size, err))
	}
	if err != nil {
		return nil, reject(RuleInvalidZip, fmt.Sprintf("cannot read %s: %v", e.Rel, err))
	}
	if int64(len(data)) > budget {
		if rd.readSoFar > rd.lim.MaxUncompressed {
			return nil, reject(RuleTooLargeUncompressed, fmt.Sprintf("inflating %s exceeds %d uncompressed bytes", e.Rel, rd.lim.MaxUncompressed))
		}
		return nil, reject(RuleInvalidZip, fmt.Sprintf("%s inflates to more than its declared %d bytes", e.Rel, e.Size))
	}
	return data, nil
}

func (rd *reader) images(in []imageManifest) []Image {
	var out []Image
	for _, im := range in {
		out = append(out, Image{
			Src:   string(im.Src),
			Path:  path.Join(rd.base, string(im.Src)),
			Title: string(im.Title),
			Size:  string(im.Size),
			Type:  string(im.Type),
		})
	}
	return out
}

func conditions(cm *conditionsManifest) (*Conditions, error) {
	if cm == nil || (cm.Kibana == nil && cm.Elastic == nil && cm.Agent == nil) {
		return nil, nil
	}
	c := &Conditions{}
	if cm.Kibana != nil {
		if _, err := semver.NewConstraint(string(cm.Kibana.Version)); err != nil {
			return nil, reject(RuleInvalidConstraint, fmt.Sprintf("conditions.kibana.version %q is not a valid constraint: %v", cm.Kibana.Version, err))
		}
		c.Kibana = &KibanaConditions{Version: string(cm.Kibana.Version)}
	}
	if cm.Elastic != nil {
		c.Elastic = &ElasticConditions{
			Subscription: string(cm.Elastic.Subscription),
			Capabilities: texts(cm.Elastic.Capabilities),
		}
	}
	if cm.Agent != nil {
		if _, err := semver.NewConstraint(string(cm.Agent.Version)); err != nil {
			return nil, reject(RuleInvalidConstraint, fmt.Sprintf("conditions.agent.version %q is not a valid constraint: %v", cm.Agent.Version, err))
		}
		c.Agent = &AgentConditions{Version: string(cm.Agent.Version)}
	}
	return c, nil
}

func discovery(dm *discoveryManifest) *Discovery {
	if dm == nil || (len(dm.Fields) == 0 && len(dm.Datasets) == 0) {
		return nil
	}
	d := &Discovery{}
	for _, f := range dm.Fields {
		d.Fields = append(d.Fields, DiscoveryName{Name: string(f.Name)})
	}
	for _, f := range dm.Datasets {
		d.Datasets = append(d.Datasets, DiscoveryName{Name: string(f.Name)})
	}
	return d
}

func requires(rm *requiresManifest) *Requires {
	if rm == nil || (len(rm.Input) == 0 && len(rm.Content) == 0) {
		return nil
	}
	r := &Requires{}
	for _, q := range rm.Input {
		r.Input = append(r.Input, RequiredPackage{Package: string(q.Package), Version: string(q.Version)})
	}
	for _, q := range rm.Content {
		r.Content = append(r.Content, RequiredPackage{Package: string(q.Package), Version: string(q.Version)})
	}
	return r
}

func deprecation(dm *deprecatedManifest) *Deprecated {
	if dm == nil {
		return nil
	}
	d := &Deprecated{Since: string(dm.Since), Description: string(dm.Description)}
	if rb := dm.ReplacedBy; rb != nil {
		r := ReplacedBy{Package: string(rb.Package), PolicyTemplate: string(rb.PolicyTemplate),
			Input: string(rb.Input), DataStream: string(rb.DataStream), Variable: string(rb.Variable)}
		if r != (ReplacedBy{}) {
			d.ReplacedBy = &r
		}
	}
	return d
}

func agent(am *agentManifest) *Agent {
	if am == nil || am.Privileges == nil || !am.Privileges.Root {
		return nil
	}
	return &Agent{Privileges: &AgentPrivileges{Root: true}}
}

func variables(in []variableManifest) []Variable {
	var out []Variable
	for _, vm := range in {
		v := Variable{
			Name:        string(vm.Name),
			Type:        string(vm.Type),
			Title:       string(vm.Title),
			Description: string(vm.Description),
			Multi:       bool(vm.Multi),
			Required:    bool(vm.Required),
			ShowUser:    bool(vm.ShowUser),
			Deprecated:  deprecation(vm.Deprecated),
		}
		if !isNullJSON(vm.Default) {
			v.Default = vm.Default
		}
		out = append(out, v)
	}
	return out
}

func isNullJSON(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || string(raw) == "null"
}

// freeForm keeps a free-form mapping unless it has nothing to say.
func freeForm(raw json.RawMessage) json.RawMessage {
	raw = bytes.TrimSpace(raw)
	if isNullJSON(raw) || string(raw) == "{}" {
		return nil
	}
	return raw
}

func streams(in []streamManifest) []Stream {
	var out []Stream
	for _, sm := range in {
		s := Stream{
			Input:        string(sm.Input),
			Package:      string(sm.Package),
			Vars:         variables(sm.Vars),
			DataStream:   freeForm(sm.DataStream),
			TemplatePath: string(sm.TemplatePath),
			Title:        string(sm.Title),
			Description:  string(sm.Description),
		}
		if s.TemplatePath == "" {
			s.TemplatePath = "stream.yml.hbs"
		}
		enabled := sm.Enabled == nil || bool(*sm.Enabled)
		s.Enabled = &enabled
		s.IngestionMethod, _ = IngestionMethod(s.Input)
		out = append(out, s)
	}
	return out
}

func (rd *reader) policyTemplate(tm policyTemplateManifest) (PolicyTemplate, error) {
	t := PolicyTemplate{
		Name:         string(tm.Name),
		Title:        string(tm.Title),
		Description:  string(tm.Description),
		DataStreams:  texts(tm.DataStreams),
		Icons:        rd.images(tm.Icons),
		Categories:   texts(tm.Categories),
		Screenshots:  rd.images(tm.Screenshots),
		Type:         string(tm.Type),
		Input:        string(tm.Input),
		TemplatePath: string(tm.TemplatePath),
		Deprecated:   deprecation(tm.Deprecated),
	}
	multiple := tm.Multiple == nil || bool(*tm.Multiple)
	t.Multiple = &multiple
	if t.Name != "" {
		if _, ok := rd.a.Lookup("docs/" + t.Name + ".md"); ok {
			t.Readme = rd.base + "/docs/" + t.Name + ".md"
		}
	}
	t.IngestionMethod, _ = IngestionMethod(t.Input)
	for _, im := range tm.Inputs {
		t.Inputs = append(t.Inputs, Input{
			Type:            string(im.Type),
			Package:         string(im.Package),
			Vars:            variables(im.Vars),
			Title:           string(im.Title),
			Description:     string(im.Description),
			Streams:         streams(im.Streams),
			TemplatePath:    string(im.TemplatePath),
			InputGroup:      string(im.InputGroup),
			DeploymentModes: texts(im.DeploymentModes),
			Deprecated:      deprecation(im.Deprecated),
		})
	}
	if dm := tm.DeploymentModes; dm != nil && (dm.Default != nil || dm.Agentless != nil) {
		t.DeploymentModes = &DeploymentModes{}
		if dm.Default != nil {
			// The package format documents default.enabled as true when left out.
			t.DeploymentModes.Default = &DefaultDeployment{Enabled: dm.Default.Enabled == nil || bool(*dm.Default.Enabled)}
		}
		if al := dm.Agentless; al != nil {
			if al.Release != "" && !agentlessReleases[string(al.Release)] {
				return t, reject(RuleInvalidRelease, fmt.Sprintf("policy template %q: agentless release %q is not one of beta, ga", t.Name, al.Release))
			}
			a := &AgentlessDeployment{Enabled: bool(al.Enabled), Release: string(al.Release)}
			if al.IsDefault != nil {
				isDefault := bool(*al.IsDefault)
				a.IsDefault = &isDefault
			}
			t.DeploymentModes.Agentless = a
		}
	}
	return t, nil
}

// dataStreams reads data_stream/<dir>/manifest.yml for every directory, in
// byte order of the directory names.
func (rd *reader) dataStreams(p *Package) ([]DataStream, error) {
	dirs := map[string]bool{}
	pipelines := map[string][]string{} // dir -> pipeline file names
	for rel := range rd.a.files {
		rest, ok := strings.CutPrefix(rel, "data_stream/")
		if !ok {
			continue
		}
		dir, inner, ok := strings.Cut(rest, "/")
		if !ok {
			return nil, reject(RuleInvalidDataStream, fmt.Sprintf("%s: files under data_stream/ belong in a data stream directory", rel))
		}
		dirs[dir] = true
		if file, ok := strings.CutPrefix(inner, "elasticsearch/ingest_pipeline/"); ok {
			pipelines[dir] = append(pipelines[dir], file)
		}
	}
	names := make([]string, 0, len(dirs))
	for d := range dirs {
		names = append(names, d)
	}
	sort.Strings(names)

	var out []DataStream
	for _, dir := range names {
		if strings.Contains(dir, "-") {
			return nil, reject(RuleInvalidDataStream, fmt.Sprintf("data stream directory %q contains '-'", dir))
		}
		file := "data_stream/" + dir + "/manifest.yml"
		tree, err := rd.manifest(file, RuleInvalidDataStream)
		if err != nil {
			return nil, err
		}
		var dm dataStreamManifest
		if err := decodeManifest(tree, file, &dm); err != nil {
			return nil, err
		}
		ds := DataStream{
			Type:            string(dm.Type),
			Dataset:         string(dm.Dataset),
			Hidden:          bool(dm.Hidden),
			ILMPolicy:       string(dm.ILMPolicy),
			DatasetIsPrefix: bool(dm.DatasetIsPrefix),
			Title:           string(dm.Title),
			Release:         string(dm.Release),
			IngestPipeline:  string(dm.IngestPipeline),
			Streams:         streams(dm.Streams),
			Package:         p.Name,
			Agent:           agent(dm.Agent),
			Path:            dir,
			Deprecated:      deprecation(dm.Deprecated),
		}
		if !dataStreamTypes[ds.Type] {
			return nil, reject(RuleInvalidDataStream, fmt.Sprintf("%s: type %q is not one of logs, metrics, synthetics, traces", file, ds.Type))
		}
		if ds.Dataset == "" {
			ds.Dataset = p.Name + "." + dir
		}
		if strings.Contains(ds.Dataset, "-") {
			return nil, reject(RuleInvalidDataStream, fmt.Sprintf("%s: dataset %q contains '-'", file, ds.Dataset))
		}
		if ds.Release == "" {
			ds.Release = p.Release
		} else if !packageReleases[ds.Release] {
			return nil, reject(RuleInvalidRelease, fmt.Sprintf("%s: release %q is not one of experimental, beta, ga", file, ds.Release))
		}
		if es := dm.Elasticsearch; es != nil {
			e := &DataStreamElasticsearch{}
			if it := es.IndexTemplate; it != nil {
				e.IndexTemplateSettings = freeForm(it.Settings)
				e.IndexTemplateMappings = freeForm(it.Mappings)
			}
			if es.IngestPipeline != nil {
				e.IngestPipelineName = string(es.IngestPipeline.Name)
			}
			if es.Privileges != nil && len(es.Privileges.Indices) > 0 {
				e.Privileges = &IndicesPrivileges{Indices: texts(es.Privileges.Indices)}
			}
			ds.Elasticsearch = e
		}
		if err := applyPipelineDefault(&ds, file, pipelines[dir]); err != nil {
			return nil, err
		}
		out = append(out, ds)
	}
	return out, nil
}

// applyPipelineDefault names the "default" pipeline when the data stream
// ships one without naming any, and rejects pipeline files nothing would
// ever install: they are almost always a packaging mistake that would
// otherwise surface as missing parsing in production.
func applyPipelineDefault(ds *DataStream, file string, pipelineFiles []string) error {
	named := ds.IngestPipeline != "" || (ds.Elasticsearch != nil && ds.Elasticsearch.IngestPipelineName != "")
	if named || len(pipelineFiles) == 0 {
		return nil
	}
	for _, f := range pipelineFiles {
		if f == "default.json" || f == "default.yml" {
			ds.IngestPipeline = "default"
			if ds.Elasticsearch != nil {
				ds.Elasticsearch.IngestPipelineName = "default"
			}
			return nil
		}
	}
	sort.Strings(pipelineFiles)
	return reject(RuleUnusedPipeline, fmt.Sprintf("%s names no ingest pipeline and there is no default.json or default.yml, so these pipeline files are unused: %s",
		file, strings.Join(pipelineFiles, ", ")))
}

// AsReject returns the rejection inside err, if err is one; the indexer
// labels its rejection metric with the Rule.
func AsReject(err error) (*RejectError, bool) {
	var re *RejectError
	ok := errors.As(err, &re)
	return re, ok
}
