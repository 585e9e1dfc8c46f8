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

	"gopkg.in/yaml.v3"
)

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
