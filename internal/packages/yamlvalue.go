package packages

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// parseManifestYAML turns a manifest into plain JSON-compatible values with
// dotted keys expanded, so that `owner.github: acme` and
// `owner: {github: acme}` decode alike, as the package format defines. The
// result's root is always a mapping.
func parseManifestYAML(data []byte, file string) (root map[string]any, err error) {
	if !utf8.Valid(data) {
		return nil, reject(RuleInvalidYAML, file+" is not valid UTF-8")
	}
	var doc yaml.Node
	if err := safeYAML(func() error { return yaml.Unmarshal(data, &doc) }); err != nil {
		return nil, reject(RuleInvalidYAML, fmt.Sprintf("%s is not valid YAML: %v", file, err))
	}
	keepTimestampsAsText(&doc)
	var raw any
	if err := safeYAML(func() error { return doc.Decode(&raw) }); err != nil {
		return nil, reject(RuleInvalidYAML, fmt.Sprintf("%s is not valid YAML: %v", file, err))
	}
	if raw == nil {
		return nil, reject(RuleInvalidManifest, file+" is empty")
	}
	v, err := normalizeYAML(raw, file, 0)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, reject(RuleInvalidManifest, file+" is not a YAML mapping")
	}
	return m, nil
}

// safeYAML turns a parser panic into an error: the parser is third party
// and the input is hostile, and a reader must never bring the process down.
func safeYAML(parse func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("parser failure: %v", r)
		}
	}()
	return parse()
}

// keepTimestampsAsText retags implicit timestamps as strings. Decoded into
// an interface they would become time.Time and be re-rendered in another
// format; a manifest value must reach the document as written. Alias nodes
// are not followed: their anchors are visited where they are defined.
func keepTimestampsAsText(n *yaml.Node) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!timestamp" && n.Style&yaml.TaggedStyle == 0 {
		n.Tag = "!!str"
	}
	for _, c := range n.Content {
		keepTimestampsAsText(c)
	}
}

// maxYAMLDepth is far beyond any real manifest; it keeps recursion bounded
// whatever the parser lets through.
const maxYAMLDepth = 200

// normalizeYAML converts decoded YAML into values encoding/json handles
// (string keys, finite numbers) and expands dotted keys at every level.
func normalizeYAML(v any, file string, depth int) (any, error) {
	if depth > maxYAMLDepth {
		return nil, reject(RuleInvalidManifest, fmt.Sprintf("%s nests deeper than %d levels", file, maxYAMLDepth))
	}
	switch t := v.(type) {
	case nil, string, bool, int, int64, uint64:
		return t, nil
	case float64:
		// JSON has no Inf or NaN; keep the YAML spelling as text.
		if math.IsInf(t, 0) || math.IsNaN(t) {
			return strconv.FormatFloat(t, 'g', -1, 64), nil
		}
		return t, nil
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			n, err := normalizeYAML(e, file, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	case map[string]any:
		entries := make([]keyValue, 0, len(t))
		for k, e := range t {
			entries = append(entries, keyValue{k, e})
		}
		return expandMap(entries, file, depth)
	case map[any]any:
		entries := make([]keyValue, 0, len(t))
		for k, e := range t {
			entries = append(entries, keyValue{fmt.Sprint(k), e})
		}
		return expandMap(entries, file, depth)
	default:
		return fmt.Sprint(t), nil
	}
}

type keyValue struct {
	key   string
	value any
}

// expandMap builds the nested map for one YAML mapping. Keys are applied in
// sorted order so the outcome never depends on map iteration; a dotted key
// that collides with a non-mapping value is an error rather than a silent
// override, since either choice would misread someone's manifest.
func expandMap(entries []keyValue, file string, depth int) (map[string]any, error) {
	sort.Slice(entries, func(i, j int) bool { return entries[i].key < entries[j].key })
	out := make(map[string]any, len(entries))
	for _, kv := range entries {
		val, err := normalizeYAML(kv.value, file, depth+1)
		if err != nil {
			return nil, err
		}
		parts := strings.Split(kv.key, ".")
		for _, p := range parts {
			if p == "" {
				// "a..b", ".a" or "a." have no sensible nesting; keep literal.
				parts = []string{kv.key}
				break
			}
		}
		if err := insertPath(out, parts, val, kv.key, file); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func insertPath(m map[string]any, parts []string, val any, fullKey, file string) error {
	for _, p := range parts[:len(parts)-1] {
		switch next := m[p].(type) {
		case nil:
			if _, present := m[p]; present {
				return conflictingKey(fullKey, file)
			}
			child := map[string]any{}
			m[p] = child
			m = child
		case map[string]any:
			m = next
		default:
			return conflictingKey(fullKey, file)
		}
	}
	last := parts[len(parts)-1]
	existing, present := m[last]
	if !present {
		m[last] = val
		return nil
	}
	em, ok1 := existing.(map[string]any)
	vm, ok2 := val.(map[string]any)
	if !ok1 || !ok2 {
		return conflictingKey(fullKey, file)
	}
	for k, v := range vm {
		if err := insertPath(em, []string{k}, v, fullKey+"."+k, file); err != nil {
			return err
		}
	}
	return nil
}

func conflictingKey(key, file string) error {
	return reject(RuleInvalidManifest, fmt.Sprintf("%s: key %q conflicts with another key for the same path", file, key))
}
