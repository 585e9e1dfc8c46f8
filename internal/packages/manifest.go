package packages

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
)

// The types below mirror the manifest files as written by package authors.
// They are decoded from the dotted-key-expanded YAML via JSON, and are kept
// apart from the document types because defaults and derivations happen
// between the two.

// text accepts any YAML scalar where the format wants a string: `title: 2048`
// or `version: 1.0` are common slips that should reach validation as text
// rather than fail decoding with a type error.
type text string

func (t *text) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		return nil
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*t = text(s)
	case b[0] == '{' || b[0] == '[':
		// A type error (not a plain error) lets encoding/json add the field path.
		return &json.UnmarshalTypeError{Value: jsonKind(b[0]), Type: reflect.TypeFor[string]()}
	default:
		*t = text(b) // number or boolean, as written
	}
	return nil
}

// boolish accepts YAML booleans and their common string spellings.
type boolish bool

func (f *boolish) UnmarshalJSON(b []byte) error {
	s := string(bytes.TrimSpace(b))
	if s == "null" {
		return nil
	}
	if uq, err := strconv.Unquote(s); err == nil {
		s = uq
	}
	v, err := strconv.ParseBool(s)
	if err != nil {
		kind := "string"
		if tb := bytes.TrimSpace(b); len(tb) > 0 {
			kind = jsonKind(tb[0])
		}
		return &json.UnmarshalTypeError{Value: kind, Type: reflect.TypeFor[bool]()}
	}
	*f = boolish(v)
	return nil
}

func jsonKind(c byte) string {
	switch {
	case c == '{':
		return "object"
	case c == '[':
		return "array"
	case c == '"':
		return "string"
	}
	return "number"
}

func texts(in []text) []string {
	if len(in) == 0 {
		return nil
	}
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = string(s)
	}
	return out
}

type packageManifest struct {
	FormatVersion           text                         `json:"format_version"`
	Name                    text                         `json:"name"`
	Title                   text                         `json:"title"`
	Version                 text                         `json:"version"`
	Release                 text                         `json:"release"`
	Description             text                         `json:"description"`
	Type                    text                         `json:"type"`
	License                 text                         `json:"license"`
	Source                  *struct{ License text }      `json:"source"`
	Conditions              *conditionsManifest          `json:"conditions"`
	Owner                   *struct{ Type, Github text } `json:"owner"`
	Categories              []text                       `json:"categories"`
	Icons                   []imageManifest              `json:"icons"`
	Screenshots             []imageManifest              `json:"screenshots"`
	PolicyTemplates         []policyTemplateManifest     `json:"policy_templates"`
	PolicyTemplatesBehavior text                         `json:"policy_templates_behavior"`
	Vars                    []variableManifest           `json:"vars"`
	Discovery               *discoveryManifest           `json:"discovery"`
	Requires                *requiresManifest            `json:"requires"`
	Deprecated              *deprecatedManifest          `json:"deprecated"`
	Elasticsearch           *struct {
		Privileges *struct {
			Cluster []text `json:"cluster"`
		} `json:"privileges"`
	} `json:"elasticsearch"`
	Agent *agentManifest `json:"agent"`
	Group text           `json:"group"`
}

type conditionsManifest struct {
	Kibana *struct {
		Version text `json:"version"`
	} `json:"kibana"`
	Elastic *struct {
		Subscription text   `json:"subscription"`
		Capabilities []text `json:"capabilities"`
	} `json:"elastic"`
	Agent *struct {
		Version text `json:"version"`
	} `json:"agent"`
}

type imageManifest struct {
	Src   text `json:"src"`
	Title text `json:"title"`
	Size  text `json:"size"`
	Type  text `json:"type"`
}

type discoveryManifest struct {
	Fields   []struct{ Name text } `json:"fields"`
	Datasets []struct{ Name text } `json:"datasets"`
}

type requiresManifest struct {
	Input   []struct{ Package, Version text } `json:"input"`
	Content []struct{ Package, Version text } `json:"content"`
}

type deprecatedManifest struct {
	Since       text `json:"since"`
	Description text `json:"description"`
	ReplacedBy  *struct {
		Package        text `json:"package"`
		PolicyTemplate text `json:"policy_template"`
		Input          text `json:"input"`
		DataStream     text `json:"data_stream"`
		Variable       text `json:"variable"`
	} `json:"replaced_by"`
}

type agentManifest struct {
	Privileges *struct {
		Root boolish `json:"root"`
	} `json:"privileges"`
}

type policyTemplateManifest struct {
	Name            text                     `json:"name"`
	Title           text                     `json:"title"`
	Description     text                     `json:"description"`
	DataStreams     []text                   `json:"data_streams"`
	Inputs          []inputManifest          `json:"inputs"`
	Multiple        *boolish                 `json:"multiple"`
	Icons           []imageManifest          `json:"icons"`
	Categories      []text                   `json:"categories"`
	Screenshots     []imageManifest          `json:"screenshots"`
	DeploymentModes *deploymentModesManifest `json:"deployment_modes"`
	Type            text                     `json:"type"`
	Input           text                     `json:"input"`
	TemplatePath    text                     `json:"template_path"`
	Deprecated      *deprecatedManifest      `json:"deprecated"`
}

type deploymentModesManifest struct {
	Default *struct {
		Enabled *boolish `json:"enabled"`
	} `json:"default"`
	Agentless *struct {
		Enabled   boolish  `json:"enabled"`
		IsDefault *boolish `json:"is_default"`
		Release   text     `json:"release"`
	} `json:"agentless"`
}

type inputManifest struct {
	Type            text                `json:"type"`
	Package         text                `json:"package"`
	Vars            []variableManifest  `json:"vars"`
	Title           text                `json:"title"`
	Description     text                `json:"description"`
	Streams         []streamManifest    `json:"streams"`
	TemplatePath    text                `json:"template_path"`
	InputGroup      text                `json:"input_group"`
	DeploymentModes []text              `json:"deployment_modes"`
	Deprecated      *deprecatedManifest `json:"deprecated"`
}

type streamManifest struct {
	Input        text                `json:"input"`
	Package      text                `json:"package"`
	Vars         []variableManifest  `json:"vars"`
	DataStream   json.RawMessage     `json:"data_stream"`
	TemplatePath text                `json:"template_path"`
	Title        text                `json:"title"`
	Description  text                `json:"description"`
	Enabled      *boolish            `json:"enabled"`
	Deprecated   *deprecatedManifest `json:"deprecated"`
}

type variableManifest struct {
	Name        text                `json:"name"`
	Type        text                `json:"type"`
	Title       text                `json:"title"`
	Description text                `json:"description"`
	Multi       boolish             `json:"multi"`
	Required    boolish             `json:"required"`
	ShowUser    boolish             `json:"show_user"`
	Default     json.RawMessage     `json:"default"`
	Deprecated  *deprecatedManifest `json:"deprecated"`
}

type dataStreamManifest struct {
	Type            text             `json:"type"`
	Dataset         text             `json:"dataset"`
	Hidden          boolish          `json:"hidden"`
	ILMPolicy       text             `json:"ilm_policy"`
	DatasetIsPrefix boolish          `json:"dataset_is_prefix"`
	Title           text             `json:"title"`
	Release         text             `json:"release"`
	IngestPipeline  text             `json:"ingest_pipeline"`
	Streams         []streamManifest `json:"streams"`
	Elasticsearch   *struct {
		IndexTemplate *struct {
			Settings json.RawMessage `json:"settings"`
			Mappings json.RawMessage `json:"mappings"`
		} `json:"index_template"`
		IngestPipeline *struct {
			Name text `json:"name"`
		} `json:"ingest_pipeline"`
		Privileges *struct {
			Indices []text `json:"indices"`
		} `json:"privileges"`
	} `json:"elasticsearch"`
	Agent      *agentManifest      `json:"agent"`
	Deprecated *deprecatedManifest `json:"deprecated"`
}

// decodeManifest decodes the expanded YAML tree into one of the manifest
// types. The tree is encoded without HTML escaping so that free-form values
// captured as json.RawMessage keep "<" and "&" literal in the document.
func decodeManifest(tree map[string]any, file string, out any) error {
	raw, err := compactJSON(tree)
	if err != nil {
		return reject(RuleInvalidManifest, fmt.Sprintf("%s: %v", file, err))
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return reject(RuleInvalidManifest, fmt.Sprintf("%s: %v", file, describeJSONError(err)))
	}
	return nil
}

// describeJSONError rewrites decoding errors in manifest terms; the Go type
// names encoding/json mentions mean nothing to a package author.
func describeJSONError(err error) string {
	if te, ok := err.(*json.UnmarshalTypeError); ok {
		field := te.Field
		if field == "" {
			field = "(root)"
		}
		return fmt.Sprintf("field %s has the wrong type (got %s)", field, yamlKind(te.Value))
	}
	return err.Error()
}

func yamlKind(jsonKind string) string {
	switch jsonKind {
	case "object":
		return "a mapping"
	case "array":
		return "a list"
	}
	return "a " + jsonKind
}
