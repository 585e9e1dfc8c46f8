package packages

import (
	"fmt"
	"path"
	"sort"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// requiredFields are the fields every data stream of an integration must
// declare, with their type: Fleet builds the index template from them, and a
// data stream without them installs but cannot be written to or queried.
var requiredFields = []struct{ name, typ string }{
	{"data_stream.type", "constant_keyword"},
	{"data_stream.dataset", "constant_keyword"},
	{"data_stream.namespace", "constant_keyword"},
	{"@timestamp", "date"},
}

// validateContent applies EPR 1.40's content validation (epr-api.md §10) to
// a package whose document has been built: what EPR would refuse, a Fleet
// user installing it from us would find broken.
func (rd *reader) validateContent(p *Package, man packageManifest) error {
	if err := rd.checkDirectoryNames(); err != nil {
		return err
	}
	for _, list := range [][]imageManifest{man.Icons, man.Screenshots} {
		for _, im := range list {
			rel := strings.TrimPrefix(path.Clean("/"+string(im.Src)), "/")
			if _, ok := rd.a.Lookup(rel); !ok {
				return reject(RuleMissingImage, fmt.Sprintf("manifest.yml names image %q but the package has no file %s", im.Src, rel))
			}
		}
	}
	for _, ds := range p.DataStreams {
		declared, err := rd.dataStreamFields(ds.Path)
		if err != nil {
			return err
		}
		if p.Type != TypeIntegration {
			continue
		}
		var missing []string
		for _, f := range requiredFields {
			if declared[f.name] != f.typ {
				missing = append(missing, f.name+" ("+f.typ+")")
			}
		}
		if len(missing) > 0 {
			return reject(RuleMissingRequiredFields, fmt.Sprintf("data stream %q does not declare in fields/*.yml: %s",
				ds.Path, strings.Join(missing, ", ")))
		}
	}
	return nil
}

// checkDirectoryNames refuses a directory whose name contains '-', whether
// the zip has an entry for it or only files below it. The top-level folder
// is <name>-<version> and is not part of the package tree.
func (rd *reader) checkDirectoryNames() error {
	var bad []string
	check := func(dir string) {
		for _, seg := range strings.Split(dir, "/") {
			if strings.Contains(seg, "-") {
				bad = append(bad, dir)
				return
			}
		}
	}
	for _, d := range rd.a.dirs {
		check(d)
	}
	for rel := range rd.a.files {
		if dir := path.Dir(rel); dir != "." {
			check(dir)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	sort.Strings(bad)
	return reject(RuleDashedDirectory, fmt.Sprintf("directory %s/ has a name containing '-'", bad[0]))
}

// dataStreamFields parses every file under data_stream/<dir>/fields/ and
// returns the fields they declare with a type, by full dotted name.
func (rd *reader) dataStreamFields(dir string) (map[string]string, error) {
	prefix := "data_stream/" + dir + "/fields/"
	var files []string
	for rel := range rd.a.files {
		if strings.HasPrefix(rel, prefix) {
			files = append(files, rel)
		}
	}
	sort.Strings(files)
	declared := map[string]string{}
	for _, rel := range files {
		e, _ := rd.a.Lookup(rel)
		if e.Size > rd.lim.MaxManifestSize {
			return nil, reject(RuleManifestTooLarge, fmt.Sprintf("%s is %d bytes, more than the limit of %d", rel, e.Size, rd.lim.MaxManifestSize))
		}
		data, err := rd.readFile(e)
		if err != nil {
			return nil, err
		}
		if err := sharedFieldsCache.parseFields(data, rel, declared); err != nil {
			return nil, err
		}
	}
	return declared, nil
}

// parseFields adds the typed fields a fields file declares to declared. It is
// pure so that it can be fuzzed. Only the syntax is checked: entries of
// another shape than the package format's are skipped, not rejected, as EPR
// does not judge them either. Aliases are not followed, so a hostile file
// cannot make the walk expand them.
func parseFields(data []byte, file string, declared map[string]string) error {
	if !utf8.Valid(data) {
		return reject(RuleInvalidFieldsFile, file+" is not valid UTF-8")
	}
	if root, ok := fastFieldsTree(data); ok {
		if root != nil {
			collectFields(root, "", declared, 0)
		}
		return nil
	}
	var doc yaml.Node
	if err := safeYAML(func() error { return yaml.Unmarshal(data, &doc) }); err != nil {
		return reject(RuleInvalidFieldsFile, fmt.Sprintf("%s is not valid YAML: %v", file, err))
	}
	if len(doc.Content) == 0 {
		return nil // an empty file declares nothing
	}
	collectFields(doc.Content[0], "", declared, 0)
	return nil
}

func collectFields(list *yaml.Node, prefix string, declared map[string]string, depth int) {
	if list.Kind != yaml.SequenceNode || depth > maxYAMLDepth {
		return
	}
	for _, item := range list.Content {
		if item.Kind != yaml.MappingNode {
			continue
		}
		var name, typ string
		var nested *yaml.Node
		for i := 0; i+1 < len(item.Content); i += 2 {
			k, v := item.Content[i], item.Content[i+1]
			switch k.Value {
			case "name":
				if v.Kind == yaml.ScalarNode {
					name = v.Value
				}
			case "type":
				if v.Kind == yaml.ScalarNode {
					typ = v.Value
				}
			case "fields":
				nested = v
			}
		}
		if name == "" {
			continue
		}
		full := name
		if prefix != "" {
			full = prefix + "." + name
		}
		if typ != "" && typ != "group" {
			declared[full] = typ
		}
		if nested != nil {
			collectFields(nested, full, declared, depth+1)
		}
	}
}
