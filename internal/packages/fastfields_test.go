package packages

import (
	"fmt"
	"maps"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// yamlFieldsTree is what the fast path stands in for: yaml.v3's root node of data.
func yamlFieldsTree(data []byte) (root *yaml.Node, err error) {
	var doc yaml.Node
	if err := safeYAML(func() error { return yaml.Unmarshal(data, &doc) }); err != nil {
		return nil, err
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	return doc.Content[0], nil
}

// sameTree compares what collectFields reads of a node: kinds, values and children.
func sameTree(a, b *yaml.Node) error {
	if a == nil || b == nil {
		if a != b {
			return fmt.Errorf("one tree is empty: fast %v, yaml %v", a, b)
		}
		return nil
	}
	if a.Kind != b.Kind || a.Value != b.Value || len(a.Content) != len(b.Content) {
		return fmt.Errorf("line %d: fast kind %d value %q with %d children, yaml kind %d value %q with %d children",
			b.Line, a.Kind, a.Value, len(a.Content), b.Kind, b.Value, len(b.Content))
	}
	for i := range a.Content {
		if err := sameTree(a.Content[i], b.Content[i]); err != nil {
			return err
		}
	}
	return nil
}

// checkFastAgrees fails when the fast path accepts data and yaml.v3 rejects it or reads
// another tree, or when the declarations differ.
func checkFastAgrees(t *testing.T, data []byte) (fast bool) {
	t.Helper()
	root, ok := fastFieldsTree(data)
	if !ok {
		return false
	}
	want, err := yamlFieldsTree(data)
	if err != nil {
		t.Fatalf("fast path accepted %q, which yaml.v3 rejects: %v", data, err)
	}
	if err := sameTree(root, want); err != nil {
		t.Fatalf("fast path read %q otherwise than yaml.v3: %v", data, err)
	}
	got, exp := map[string]string{}, map[string]string{}
	if root != nil {
		collectFields(root, "", got, 0)
	}
	if want != nil {
		collectFields(want, "", exp, 0)
	}
	if !maps.Equal(got, exp) {
		t.Fatalf("declared %v, yaml.v3 %v", got, exp)
	}
	return true
}

// The plain style must take the fast path (otherwise the speed-up is silently gone), and
// everything else must not.
func TestFastFieldsTakesOnlyThePlainStyle(t *testing.T) {
	cases := []struct {
		name, data string
		fast       bool
	}{
		{"flat", "- name: data_stream.type\n  type: constant_keyword\n  description: Data stream type.\n", true},
		{"quoted names", "- name: '@timestamp'\n  type: date\n- name: \"event.kind\"\n  type: keyword\n", true},
		{"nested deeper", "- name: event\n  type: group\n  fields:\n    - name: dataset\n      type: keyword\n", true},
		{"nested at the key's indent", "- name: event\n  type: group\n  fields:\n  - name: dataset\n    type: keyword\n  description: after the list\n", true},
		{"comments and blanks", "# fields\n\n- name: a   \n  # about b\n  type: long\n\n", true},
		{"indented root", "  - name: a\n    type: long\n", true},
		{"scalar list", "- name: a\n  type: keyword\n  normalize:\n    - array\n", true},
		{"empty value", "- name: a\n  type:\n  fields:\n", true},
		{"colons and punctuation", "- name: url\n  type: keyword\n  description: See https://example.com/a?b=c, (RFC 3986); it's \"the\" URL.\n", true},
		{"nested mapping", "- name: a\n  type: object\n  object_type_params:\n    path: x\n", true},
		{"only comments", "# nothing\n\n", true},
		{"empty", "", true},
		{"duplicate keys", "- name: a\n  name: b\n  type: long\n", true},

		{"flow mapping", "- {name: a, type: long}\n", false},
		{"flow sequence", "- name: a\n  normalize: [array]\n", false},
		{"block scalar", "- name: a\n  description: |\n    text\n", false},
		{"folded scalar", "- name: a\n  description: >-\n    text\n", false},
		{"multi-line plain", "- name: a\n  description: one\n    two\n", false},
		{"anchor", "- name: &n a\n", false},
		{"alias", "- name: a\n  type: *t\n", false},
		{"tag", "- name: !!str a\n", false},
		{"escape", "- name: \"a\\tb\"\n", false},
		{"doubled quote", "- name: 'it''s'\n", false},
		{"document marker", "---\n- name: a\n", false},
		{"tab", "- name: a\n\ttype: long\n", false},
		{"crlf", "- name: a\r\n", false},
		{"non-ascii", "- name: café\n", false},
		{"comment after value", "- name: a # the name\n", false},
		{"mapping value in a scalar", "- name: a: b\n", false},
		{"bad indentation", "- name: a\n type: long\n", false},
		{"wider gap", "-  name: a\n   type: long\n", false},
		{"bare dash", "-\n  name: a\n", false},
		{"quoted key", "- \"name\": a\n", false},
		{"scalar root", "just text\n", false},
		{"unclosed", "- name: [unclosed\n", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := checkFastAgrees(t, []byte(c.data)); got != c.fast {
				t.Errorf("fast path taken: %v, want %v", got, c.fast)
			}
			// Whichever path reads it, parseFields declares what yaml.v3's walk declares.
			want := map[string]string{}
			root, err := yamlFieldsTree([]byte(c.data))
			if err == nil && root != nil {
				collectFields(root, "", want, 0)
			}
			got := map[string]string{}
			perr := parseFields([]byte(c.data), "f.yml", got)
			if (perr != nil) != (err != nil) || !maps.Equal(got, want) {
				t.Errorf("parseFields: %v, %v; yaml.v3: %v, %v", got, perr, want, err)
			}
		})
	}
}

// FuzzFastFieldsAgreesWithYAML: whatever the fast path accepts, yaml.v3 parses to the same tree.
func FuzzFastFieldsAgreesWithYAML(f *testing.F) {
	for _, seed := range []string{
		"- name: data_stream.type\n  type: constant_keyword\n  description: Data stream type.\n",
		"- name: event\n  type: group\n  fields:\n  - name: dataset\n    type: keyword\n  description: x\n- name: b\n",
		"- name: a\n  fields:\n    - name: b\n      fields:\n        - name: c\n          type: long\n",
		"- name: '@timestamp'\n  type: date\n  example: \"2024-01-01\"\n",
		"a:\n  b:\n  - c\n  - d: e\n    f: g\nh: i\n",
		"- a\n- b: c\n  d:\n- e\n",
		"- name: x:y\n  type: a,b (c) $d +e /f .g _h\n",
		strings.Repeat("- name: f\n  type: keyword\n", 20),
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkFastAgrees(t, data)
	})
}
