// Package docs embeds openapi.yaml, the OpenAPI description of the EPR API. The file in this
// directory is the only copy: the API serves these bytes at /openapi.yaml and its tests validate
// real responses against them.
package docs

import _ "embed"

// OpenAPI is docs/openapi.yaml.
//
//go:embed openapi.yaml
var OpenAPI []byte
