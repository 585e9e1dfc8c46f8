package api

// How /search bodies are assembled from per-entry encodings.

import (
	"bytes"
	"encoding/json"
)

// encodeArrayElement renders v as packages.Encode renders it inside a
// top-level array (one level of indentation, no trailing newline), so that
// /search bodies can be assembled from per-entry encodings.
func encodeArrayElement(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("  ", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// searchBody renders results exactly as packages.Encode would render the
// []SearchItem, except that no results give "[]" without a newline.
func searchBody(results []Result) ([]byte, error) {
	parts := make([][]byte, len(results))
	for i, r := range results {
		var err error
		if parts[i], err = resultElement(r); err != nil {
			return nil, err
		}
	}
	return arrayBody(parts), nil
}

// resultElement is one result as an array element (see encodeArrayElement).
func resultElement(r Result) ([]byte, error) {
	if r.Narrowed {
		item := r.SearchItem()
		return encodeArrayElement(&item)
	}
	return r.Entry.searchItemJSON()
}

// arrayBody assembles array elements into the body packages.Encode would write; none give "[]".
func arrayBody(parts [][]byte) []byte {
	if len(parts) == 0 {
		return []byte("[]")
	}
	size := 4
	for _, p := range parts {
		size += len(p) + 4
	}
	buf := make([]byte, 0, size)
	buf = append(buf, "[\n"...)
	for i, p := range parts {
		if i > 0 {
			buf = append(buf, ",\n"...)
		}
		buf = append(buf, "  "...)
		buf = append(buf, p...)
	}
	return append(buf, "\n]\n"...)
}
