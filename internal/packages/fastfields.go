package packages

import (
	"bytes"

	"gopkg.in/yaml.v3"
)

// Fields files are most of what indexing a package costs, and nearly all of them are written in
// one plain style: block sequences of block mappings, one scalar per line. fastFieldsTree reads
// that style directly into the yaml.Node shape collectFields walks, at a fraction of yaml.v3's
// cost. It declines (ok false) anything outside the style — flow collections, anchors, aliases,
// tags, block and multi-line scalars, escapes, document markers, tabs, CR, non-ASCII, deep
// nesting — and the caller then parses the file with yaml.v3. So the fast path never decides
// what is valid: it accepts only files yaml.v3 parses to the same tree
// (FuzzFastFieldsAgreesWithYAML checks exactly that).

// maxFastDepth is far beyond real fields files; deeper ones take yaml.v3's path and its limits.
const maxFastDepth = 64

type fastLine struct {
	indent  int
	content []byte // without the indentation and trailing spaces; never empty
}

type fastParser struct {
	lines []fastLine
	pos   int
}

// fastFieldsTree returns the root node of data (nil for a file of only blanks and comments),
// or ok false when data is outside the plain style.
func fastFieldsTree(data []byte) (root *yaml.Node, ok bool) {
	p := fastParser{lines: make([]fastLine, 0, bytes.Count(data, []byte{'\n'})+1)}
	for len(data) > 0 {
		var line []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			line, data = data, nil
		}
		for _, c := range line {
			if c < 0x20 || c >= 0x7f { // tabs, CR, controls and anything beyond ASCII
				return nil, false
			}
		}
		indent := 0
		for indent < len(line) && line[indent] == ' ' {
			indent++
		}
		content := bytes.TrimRight(line[indent:], " ")
		if len(content) == 0 || content[0] == '#' {
			continue
		}
		p.lines = append(p.lines, fastLine{indent: indent, content: content})
	}
	if len(p.lines) == 0 {
		return nil, true
	}
	root, ok = p.block(p.lines[0].indent, 0)
	if !ok || p.pos != len(p.lines) {
		return nil, false
	}
	return root, true
}

// block parses the sequence or mapping whose first line is the current one, at indent.
func (p *fastParser) block(indent, depth int) (*yaml.Node, bool) {
	if depth > maxFastDepth {
		return nil, false
	}
	if isSeqItem(p.lines[p.pos].content) {
		return p.sequence(indent, depth)
	}
	return p.mapping(indent, depth)
}

func isSeqItem(content []byte) bool {
	return content[0] == '-' && (len(content) == 1 || content[1] == ' ')
}

func (p *fastParser) sequence(indent, depth int) (*yaml.Node, bool) {
	seq := &yaml.Node{Kind: yaml.SequenceNode}
	for p.pos < len(p.lines) && p.lines[p.pos].indent == indent && isSeqItem(p.lines[p.pos].content) {
		line := &p.lines[p.pos]
		// Exactly "- " then content: a bare "-", wider gaps and nested "- -" are declined.
		if len(line.content) < 3 || line.content[2] == ' ' || line.content[2] == '-' {
			return nil, false
		}
		rest := line.content[2:]
		if _, _, isKey := splitKey(rest); isKey {
			// "- key: ..." opens a mapping at the column after "- "; the line is re-read as its
			// first entry.
			line.indent, line.content = indent+2, rest
			item, ok := p.mapping(indent+2, depth+1)
			if !ok {
				return nil, false
			}
			seq.Content = append(seq.Content, item)
		} else {
			value, ok := fastScalar(rest)
			if !ok {
				return nil, false
			}
			seq.Content = append(seq.Content, value)
			p.pos++
		}
		if p.pos < len(p.lines) && p.lines[p.pos].indent > indent {
			return nil, false // a continuation line or a stray deeper block
		}
	}
	return seq, true
}

func (p *fastParser) mapping(indent, depth int) (*yaml.Node, bool) {
	m := &yaml.Node{Kind: yaml.MappingNode}
	for p.pos < len(p.lines) && p.lines[p.pos].indent == indent {
		key, rest, isKey := splitKey(p.lines[p.pos].content)
		if !isKey {
			return nil, false // a sequence item or a scalar among the keys
		}
		p.pos++
		var value *yaml.Node
		var ok bool
		switch {
		case len(rest) > 0:
			value, ok = fastScalar(rest)
		case p.pos < len(p.lines) && p.lines[p.pos].indent > indent:
			value, ok = p.block(p.lines[p.pos].indent, depth+1)
		case p.pos < len(p.lines) && p.lines[p.pos].indent == indent && isSeqItem(p.lines[p.pos].content):
			// A sequence may sit at its key's own indentation.
			value, ok = p.sequence(indent, depth+1)
		default:
			value, ok = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null"}, true
		}
		if !ok {
			return nil, false
		}
		m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: string(key)}, value)
		if p.pos < len(p.lines) && p.lines[p.pos].indent > indent {
			return nil, false
		}
	}
	return m, true
}

// maxFastKey keeps keys far inside YAML's 1024-character bound on implicit keys.
const maxFastKey = 256

// splitKey splits "key: rest" or "key:" where key is a plain identifier (letters, digits, "_",
// then also "." and "-").
func splitKey(content []byte) (key, rest []byte, ok bool) {
	i := 0
	for i < len(content) && i <= maxFastKey && (isAlnum(content[i]) || content[i] == '_' || (i > 0 && (content[i] == '.' || content[i] == '-'))) {
		i++
	}
	if i == 0 || i > maxFastKey || i == len(content) || content[i] != ':' {
		return nil, nil, false
	}
	if i+1 == len(content) {
		return content[:i], nil, true
	}
	if content[i+1] != ' ' {
		return nil, nil, false
	}
	return content[:i], bytes.TrimLeft(content[i+1:], " "), true
}

// fastScalar reads a one-line value: quoted without quotes or escapes inside, or plain from a
// conservative alphabet (no "#", no flow indicators, no ": ").
func fastScalar(s []byte) (*yaml.Node, bool) {
	switch q := s[0]; q {
	case '\'', '"':
		if len(s) < 2 || s[len(s)-1] != q {
			return nil, false
		}
		inner := s[1 : len(s)-1]
		if bytes.IndexByte(inner, q) >= 0 || bytes.IndexByte(inner, '\\') >= 0 {
			return nil, false
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: string(inner)}, true
	}
	if !isAlnum(s[0]) && bytes.IndexByte([]byte("._/($+"), s[0]) < 0 {
		return nil, false
	}
	for i, c := range s {
		switch c {
		case '#', '[', ']', '{', '}':
			return nil, false
		case ':':
			if i+1 == len(s) || s[i+1] == ' ' {
				return nil, false
			}
		}
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Value: string(s)}, true
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
