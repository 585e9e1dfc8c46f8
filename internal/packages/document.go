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
