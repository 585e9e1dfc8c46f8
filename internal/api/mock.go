package api

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"time"

	"github.com/oci-epr/package-registry/internal/index"
	"github.com/oci-epr/package-registry/internal/packages"
)

// mockRepository marks the synthetic records of mock packages; their blobs
// are served from memory, never from the Blobs store.
const mockRepository = "builtin-mock"

// mockTime is the mtime of every mock zip entry: fixed, so mock zips and
// their digests (the ETag) are the same on every replica and restart.
var mockTime = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

const mockIcon = `<svg xmlns="http://www.w3.org/2000/svg" width="32" height="32" viewBox="0 0 32 32">` +
	`<rect width="32" height="32" rx="6" fill="#8a8f98"/><text x="16" y="22" font-size="16" text-anchor="middle" fill="#fff">M</text></svg>` + "\n"

const mockReadmeNote = "This package is a **built-in mock**. The registry serves it only because no real package " +
	"has been indexed yet; it disappears as soon as the first package is pushed to the OCI registry.\n"

// mockSpecs are the files of each mock package, relative to its folder.
var mockSpecs = []struct {
	name, version string
	files         map[string]string
}{
	{
		name: "mock_logs", version: "1.0.0",
		files: map[string]string{
			"manifest.yml": `format_version: 3.3.0
name: mock_logs
title: Mock Logs (built-in mock)
version: 1.0.0
description: Mock integration served while the registry has no packages indexed.
type: integration
categories:
  - custom
conditions:
  kibana:
    version: "^8.0.0 || ^9.0.0"
owner:
  github: oci-epr/package-registry
  type: community
icons:
  - src: /img/icon.svg
    title: Mock icon
    size: 32x32
    type: image/svg+xml
policy_templates:
  - name: logs
    title: Mock log files
    description: Collect log files (mock).
    data_streams:
      - events
    inputs:
      - type: filestream
        title: Log files
        description: Read log files.
`,
			"docs/README.md": "# Mock Logs\n\n" + mockReadmeNote,
			"img/icon.svg":   mockIcon,
			"data_stream/events/manifest.yml": `title: Mock events
type: logs
streams:
  - input: filestream
    title: Log files
    vars:
      - name: paths
        type: text
        title: Paths
        multi: true
        required: true
        show_user: true
        default:
          - /var/log/mock/*.log
`,
			"data_stream/events/fields/base-fields.yml":      "- name: '@timestamp'\n  type: date\n- name: data_stream.type\n  type: constant_keyword\n- name: data_stream.dataset\n  type: constant_keyword\n- name: data_stream.namespace\n  type: constant_keyword\n",
			"data_stream/events/agent/stream/stream.yml.hbs": "paths:\n{{#each paths}}\n  - {{this}}\n{{/each}}\n",
		},
	},
	{
		name: "mock_input", version: "0.1.0",
		files: map[string]string{
			"manifest.yml": `format_version: 3.3.0
name: mock_input
title: Mock TCP input (built-in mock)
version: 0.1.0
description: Mock input package served while the registry has no packages indexed.
type: input
categories:
  - custom
owner:
  github: oci-epr/package-registry
  type: community
icons:
  - src: /img/icon.svg
    type: image/svg+xml
policy_templates:
  - name: tcp
    title: Mock TCP input
    description: Receive events over TCP (mock).
    input: tcp
    type: logs
    template_path: input.yml.hbs
`,
			"docs/README.md":            "# Mock TCP input\n\n" + mockReadmeNote,
			"img/icon.svg":              mockIcon,
			"agent/input/input.yml.hbs": "host: {{listen_address}}:{{listen_port}}\n",
		},
	},
}

// mockPackages builds the mock zips in memory and reads them with the
// package reader, so mock documents are exactly what indexing would make.
// It returns their records and the zips by digest.
func mockPackages(at time.Time) ([]*index.Record, map[string][]byte, error) {
	var recs []*index.Record
	zips := map[string][]byte{}
	for _, m := range mockSpecs {
		zb, err := buildZip(m.name+"-"+m.version, m.files)
		if err != nil {
			return nil, nil, err
		}
		doc, _, err := packages.ReadBytes(zb, packages.Options{Expect: packages.Expect{Name: m.name, Version: m.version}})
		if err != nil {
			return nil, nil, fmt.Errorf("mock package %s: %w", m.name, err)
		}
		raw, err := packages.Encode(doc)
		if err != nil {
			return nil, nil, err
		}
		sum := sha256.Sum256(zb)
		digest := "sha256:" + hex.EncodeToString(sum[:])
		zips[digest] = zb
		recs = append(recs, &index.Record{
			Name: m.name, Version: m.version, Document: raw,
			Repository: mockRepository, Tag: m.version,
			Zip:       index.Blob{Digest: digest, Size: int64(len(zb)), MediaType: "application/zip"},
			IndexedAt: at,
		})
	}
	return recs, zips, nil
}

func buildZip(root string, files map[string]string) ([]byte, error) {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, n := range names {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: root + "/" + n, Method: zip.Deflate, Modified: mockTime})
		if err != nil {
			return nil, err
		}
		if _, err := w.Write([]byte(files[n])); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
