package packages

// The parts of the package document below its top level. As in document.go, struct field
// order IS the JSON key order of the EPR contract (epr-api.md §4): do not reorder fields.

import "encoding/json"

// Source carries the license of the package's source code, distinct from the
// Elastic subscription license reported in Package.License.
type Source struct {
	License string `json:"license,omitempty"`
}

// Image is an icon or screenshot. Path is the URL path the API serves it at.
type Image struct {
	Src   string `json:"src"`
	Path  string `json:"path"`
	Title string `json:"title,omitempty"`
	Size  string `json:"size,omitempty"`
	Type  string `json:"type,omitempty"`
}

// Conditions restrict where a package applies; the query layer filters on
// them. A nil sub-condition means "no restriction".
type Conditions struct {
	Kibana  *KibanaConditions  `json:"kibana,omitempty"`
	Elastic *ElasticConditions `json:"elastic,omitempty"`
	Agent   *AgentConditions   `json:"agent,omitempty"`
}

// KibanaConditions holds a Masterminds semver constraint, already validated.
type KibanaConditions struct {
	Version string `json:"version"`
}

// ElasticConditions: Subscription stays present even when "" because EPR
// reports it that way once the elastic block exists.
type ElasticConditions struct {
	Subscription string   `json:"subscription"`
	Capabilities []string `json:"capabilities,omitempty"`
}

// AgentConditions holds a Masterminds semver constraint, already validated.
type AgentConditions struct {
	Version string `json:"version"`
}

type Owner struct {
	Type   string `json:"type,omitempty"`
	Github string `json:"github,omitempty"`
}

// Discovery lets clients find packages by the fields or datasets they know.
type Discovery struct {
	Fields   []DiscoveryName `json:"fields,omitempty"`
	Datasets []DiscoveryName `json:"datasets,omitempty"`
}

type DiscoveryName struct {
	Name string `json:"name"`
}

type Deprecated struct {
	Since       string      `json:"since"`
	Description string      `json:"description"`
	ReplacedBy  *ReplacedBy `json:"replaced_by,omitempty"`
}

type ReplacedBy struct {
	Package        string `json:"package,omitempty"`
	PolicyTemplate string `json:"policy_template,omitempty"`
	Input          string `json:"input,omitempty"`
	DataStream     string `json:"data_stream,omitempty"`
	Variable       string `json:"variable,omitempty"`
}

// Requires lists the packages a composable package builds on.
type Requires struct {
	Input   []RequiredPackage `json:"input,omitempty"`
	Content []RequiredPackage `json:"content,omitempty"`
}

type RequiredPackage struct {
	Package string `json:"package,omitempty"`
	Version string `json:"version,omitempty"`
}

// ShortPolicyTemplate is the policy template as /search reports it.
type ShortPolicyTemplate struct {
	Name            string           `json:"name"`
	Title           string           `json:"title"`
	Description     string           `json:"description"`
	Icons           []Image          `json:"icons,omitempty"`
	Categories      []string         `json:"categories,omitempty"`
	DeploymentModes *DeploymentModes `json:"deployment_modes,omitempty"`
	DataStreams     []string         `json:"data_streams,omitempty"`
	Deprecated      *Deprecated      `json:"deprecated,omitempty"`
}

type DeploymentModes struct {
	Default   *DefaultDeployment   `json:"default,omitempty"`
	Agentless *AgentlessDeployment `json:"agentless,omitempty"`
}

type DefaultDeployment struct {
	Enabled bool `json:"enabled"`
}

// AgentlessDeployment: IsDefault is a pointer because EPR reports it only
// when the manifest sets it, and then also when false (Fleet tells "agentless
// available" from "agentless preselected"); modes the manifest leaves it out
// of never carry it.
type AgentlessDeployment struct {
	Enabled   bool   `json:"enabled"`
	IsDefault *bool  `json:"is_default,omitempty"`
	Release   string `json:"release,omitempty"`
}

// ShortDataStream is the data stream as /search reports it.
type ShortDataStream struct {
	Type       string      `json:"type,omitempty"`
	Dataset    string      `json:"dataset"`
	Title      string      `json:"title"`
	Deprecated *Deprecated `json:"deprecated,omitempty"`
}

// PolicyTemplate is the full policy template of /package/<n>/<v>/.
// Multiple is a pointer because its default is true: a false must be
// reported, or clients would read the absence as the default.
type PolicyTemplate struct {
	Name            string           `json:"name"`
	Title           string           `json:"title"`
	Description     string           `json:"description"`
	DataStreams     []string         `json:"data_streams,omitempty"`
	Inputs          []Input          `json:"inputs,omitempty"`
	Multiple        *bool            `json:"multiple,omitempty"`
	Icons           []Image          `json:"icons,omitempty"`
	Categories      []string         `json:"categories,omitempty"`
	Screenshots     []Image          `json:"screenshots,omitempty"`
	Readme          string           `json:"readme,omitempty"`
	DeploymentModes *DeploymentModes `json:"deployment_modes,omitempty"`
	Type            string           `json:"type,omitempty"`
	Input           string           `json:"input,omitempty"`
	IngestionMethod string           `json:"ingestion_method,omitempty"`
	TemplatePath    string           `json:"template_path,omitempty"`
	Deprecated      *Deprecated      `json:"deprecated,omitempty"`
}

// Input is an input of a policy template. DeploymentModes is a plain list of
// mode names here, unlike the object form on templates.
type Input struct {
	Type            string      `json:"type,omitempty"`
	Package         string      `json:"package,omitempty"`
	Vars            []Variable  `json:"vars,omitempty"`
	Title           string      `json:"title,omitempty"`
	Description     string      `json:"description,omitempty"`
	Streams         []Stream    `json:"streams,omitempty"`
	TemplatePath    string      `json:"template_path,omitempty"`
	InputGroup      string      `json:"input_group,omitempty"`
	DeploymentModes []string    `json:"deployment_modes,omitempty"`
	Deprecated      *Deprecated `json:"deprecated,omitempty"`
}

// DataStream is the full data stream of /package/<n>/<v>/.
type DataStream struct {
	Type            string                   `json:"type"`
	Dataset         string                   `json:"dataset,omitempty"`
	Hidden          bool                     `json:"hidden,omitempty"`
	ILMPolicy       string                   `json:"ilm_policy,omitempty"`
	DatasetIsPrefix bool                     `json:"dataset_is_prefix,omitempty"`
	Title           string                   `json:"title"`
	Release         string                   `json:"release,omitempty"`
	IngestPipeline  string                   `json:"ingest_pipeline,omitempty"`
	Streams         []Stream                 `json:"streams,omitempty"`
	Package         string                   `json:"package,omitempty"`
	Elasticsearch   *DataStreamElasticsearch `json:"elasticsearch,omitempty"`
	Agent           *Agent                   `json:"agent,omitempty"`
	Path            string                   `json:"path,omitempty"`
	Deprecated      *Deprecated              `json:"deprecated,omitempty"`
}

// Stream is one input of a data stream. Enabled is a pointer for the same
// reason as PolicyTemplate.Multiple: it defaults to true. DataStream is
// free-form because the contract does not fix its shape.
type Stream struct {
	Input           string          `json:"input,omitempty"`
	Package         string          `json:"package,omitempty"`
	Vars            []Variable      `json:"vars,omitempty"`
	DataStream      json.RawMessage `json:"data_stream,omitempty"`
	TemplatePath    string          `json:"template_path,omitempty"`
	Title           string          `json:"title,omitempty"`
	Description     string          `json:"description,omitempty"`
	Enabled         *bool           `json:"enabled,omitempty"`
	IngestionMethod string          `json:"ingestion_method,omitempty"`
}

// DataStreamElasticsearch reports its first three keys flat (dotted), as EPR
// does, while their values are nested maps with sorted keys. Like the
// package-level block it is present, possibly empty, whenever the manifest
// has an elasticsearch key (e.g. only index_mode, which is not rendered).
type DataStreamElasticsearch struct {
	IndexTemplateSettings json.RawMessage    `json:"index_template.settings,omitempty"`
	IndexTemplateMappings json.RawMessage    `json:"index_template.mappings,omitempty"`
	IngestPipelineName    string             `json:"ingest_pipeline.name,omitempty"`
	Privileges            *IndicesPrivileges `json:"privileges,omitempty"`
}

type IndicesPrivileges struct {
	Indices []string `json:"indices,omitempty"`
}

// Variable is a policy variable. Default holds the JSON of the manifest value
// and is nil only when the manifest has none (or null), so "", false and 0
// are reported.
type Variable struct {
	Name        string          `json:"name"`
	Type        string          `json:"type"`
	Title       string          `json:"title,omitempty"`
	Description string          `json:"description,omitempty"`
	Multi       bool            `json:"multi"`
	Required    bool            `json:"required"`
	ShowUser    bool            `json:"show_user"`
	Default     json.RawMessage `json:"default,omitempty"`
	Deprecated  *Deprecated     `json:"deprecated,omitempty"`
}

// Elasticsearch is the package-level elasticsearch block. It is present,
// possibly empty, whenever the manifest has an elasticsearch key, as in EPR.
type Elasticsearch struct {
	Privileges *ClusterPrivileges `json:"privileges,omitempty"`
}

type ClusterPrivileges struct {
	Cluster []string `json:"cluster,omitempty"`
}

// Agent is present only when it grants something, i.e. root privileges.
type Agent struct {
	Privileges *AgentPrivileges `json:"privileges,omitempty"`
}

type AgentPrivileges struct {
	Root bool `json:"root,omitempty"`
}
