package packagetest

// What a generated package is made of.

import "time"

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
