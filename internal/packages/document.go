// Package packages owns the Elastic package model: it reads a package zip
// defensively, validates it, derives the fields the EPR API reports, and
// defines the package document (full and search views) whose JSON encoding is
// the wire format of /package/<n>/<v>/ and /search. It also holds the static
// reference tables (categories, ingestion methods) the API needs.
//
// It is pure: no network, no storage. The indexer turns zips into documents
// with Read, the store keeps them as JSON, and the API encodes them with
// Encode.
package packages

import (
	"bytes"
	"encoding/json"
)

// Struct field order in this file IS the JSON key order of the EPR contract
// (epr-api.md §4); do not reorder fields. Keys the contract marks "always
// present" have no omitempty. Free-form values are json.RawMessage so that a
// document survives store round trips byte for byte (float64 would lose
// large integers) and keeps the sorted keys it was built with.

// Package is the full document served at /package/<n>/<v>/.
type Package struct {
	Name                    string           `json:"name"`
	Title                   string           `json:"title,omitempty"`
	Version                 string           `json:"version"`
	Release                 string           `json:"release,omitempty"`
	Source                  *Source          `json:"source,omitempty"`
	Description             string           `json:"description"`
	Type                    string           `json:"type"`
	Download                string           `json:"download"`
	Path                    string           `json:"path"`
	Icons                   []Image          `json:"icons,omitempty"`
	PolicyTemplatesBehavior string           `json:"policy_templates_behavior,omitempty"`
	Conditions              *Conditions      `json:"conditions,omitempty"`
	Owner                   *Owner           `json:"owner,omitempty"`
	Categories              []string         `json:"categories,omitempty"`
	SignaturePath           string           `json:"signature_path,omitempty"`
	Discovery               *Discovery       `json:"discovery,omitempty"`
	Deprecated              *Deprecated      `json:"deprecated,omitempty"`
	Requires                *Requires        `json:"requires,omitempty"`
	Group                   string           `json:"group,omitempty"`
	FormatVersion           string           `json:"format_version"`
	Readme                  string           `json:"readme,omitempty"`
	License                 string           `json:"license,omitempty"`
	Screenshots             []Image          `json:"screenshots,omitempty"`
	Assets                  []string         `json:"assets,omitempty"`
	PolicyTemplates         []PolicyTemplate `json:"policy_templates,omitempty"`
	DataStreams             []DataStream     `json:"data_streams,omitempty"`
	Vars                    []Variable       `json:"vars,omitempty"`
	Elasticsearch           *Elasticsearch   `json:"elasticsearch,omitempty"`
	Agent                   *Agent           `json:"agent,omitempty"`
}

// SearchItem is one element of the /search array.
type SearchItem struct {
	Name                    string                `json:"name"`
	Title                   string                `json:"title,omitempty"`
	Version                 string                `json:"version"`
	Release                 string                `json:"release,omitempty"`
	Source                  *Source               `json:"source,omitempty"`
	Description             string                `json:"description"`
	Type                    string                `json:"type"`
	Download                string                `json:"download"`
	Path                    string                `json:"path"`
	Icons                   []Image               `json:"icons,omitempty"`
	PolicyTemplatesBehavior string                `json:"policy_templates_behavior,omitempty"`
	PolicyTemplates         []ShortPolicyTemplate `json:"policy_templates,omitempty"`
	Conditions              *Conditions           `json:"conditions,omitempty"`
	Owner                   *Owner                `json:"owner,omitempty"`
	Categories              []string              `json:"categories,omitempty"`
	SignaturePath           string                `json:"signature_path,omitempty"`
	Discovery               *Discovery            `json:"discovery,omitempty"`
	DataStreams             []ShortDataStream     `json:"data_streams,omitempty"`
	Deprecated              *Deprecated           `json:"deprecated,omitempty"`
	Requires                *Requires             `json:"requires,omitempty"`
	Group                   string                `json:"group,omitempty"`
}

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

// SearchView derives the /search item. Slices are shared with p, so callers
// that filter templates should build new slices rather than edit them.
func (p *Package) SearchView() SearchItem {
	item := SearchItem{
		Name:                    p.Name,
		Title:                   p.Title,
		Version:                 p.Version,
		Release:                 p.Release,
		Source:                  p.Source,
		Description:             p.Description,
		Type:                    p.Type,
		Download:                p.Download,
		Path:                    p.Path,
		Icons:                   p.Icons,
		PolicyTemplatesBehavior: p.PolicyTemplatesBehavior,
		Conditions:              p.Conditions,
		Owner:                   p.Owner,
		Categories:              p.Categories,
		SignaturePath:           p.SignaturePath,
		Discovery:               p.Discovery,
		Deprecated:              p.Deprecated,
		Requires:                p.Requires,
		Group:                   p.Group,
	}
	for _, t := range p.PolicyTemplates {
		item.PolicyTemplates = append(item.PolicyTemplates, t.Short())
	}
	for _, ds := range p.DataStreams {
		item.DataStreams = append(item.DataStreams, ds.Short())
	}
	return item
}

// Short is the policy template as /search reports it.
func (t PolicyTemplate) Short() ShortPolicyTemplate {
	return ShortPolicyTemplate{
		Name:            t.Name,
		Title:           t.Title,
		Description:     t.Description,
		Icons:           t.Icons,
		Categories:      t.Categories,
		DeploymentModes: t.DeploymentModes,
		DataStreams:     t.DataStreams,
		Deprecated:      t.Deprecated,
	}
}

// Short is the data stream as /search reports it.
func (ds DataStream) Short() ShortDataStream {
	return ShortDataStream{
		Type:       ds.Type,
		Dataset:    ds.Dataset,
		Title:      ds.Title,
		Deprecated: ds.Deprecated,
	}
}

// Encode renders v the way every JSON body of the API is rendered: 2-space
// indent, no HTML escaping (EPR emits "<" and "&" literally), trailing
// newline. Note that a nil slice encodes as null and an empty /search body
// is "[]" without newline: both are the caller's business.
func Encode(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Marshal renders v as compact JSON without HTML escaping: the form a
// document is stored in, so that free-form values (kept as json.RawMessage)
// still carry "<" and "&" literally when the API encodes them again.
func Marshal(v any) ([]byte, error) { return compactJSON(v) }

// compactJSON renders a free-form value without HTML escaping, so that the
// raw message later embedded by Encode carries "<" literally too.
func compactJSON(v any) (json.RawMessage, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return json.RawMessage(bytes.TrimRight(buf.Bytes(), "\n")), nil
}
