package packages

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/golden")

func boolPtr(b bool) *bool { return &b }

// fullPackage sets every field the contract knows, so that the golden file
// shows the complete key order.
func fullPackage() *Package {
	dep := func(what string) *Deprecated {
		return &Deprecated{Since: "1.1.0", Description: what + " is deprecated", ReplacedBy: &ReplacedBy{
			Package: "p", PolicyTemplate: "t", Input: "i", DataStream: "d", Variable: "v"}}
	}
	v := func(name string, def string) Variable {
		return Variable{Name: name, Type: "text", Title: "T " + name, Description: "D " + name,
			Multi: true, Required: true, ShowUser: true, Default: json.RawMessage(def), Deprecated: dep("var")}
	}
	stream := Stream{Input: "cel", Package: "acme_input", Vars: []Variable{v("url", `"https://x/?a=1&b=<2>"`)},
		DataStream: json.RawMessage(`{"dataset":"acme.logs"}`), TemplatePath: "cel.yml.hbs", Title: "CEL",
		Description: "Collect with CEL", Enabled: boolPtr(false), IngestionMethod: "API"}
	img := func(src string) Image {
		return Image{Src: src, Path: "/package/acme/1.2.0" + src, Title: "t", Size: "32x32", Type: "image/svg+xml"}
	}
	return &Package{
		Name: "acme", Title: "Acme", Version: "1.2.0", Release: "ga", Source: &Source{License: "Elastic-2.0"},
		Description: "Acme <logs> & metrics", Type: "integration", Download: "/epr/acme/acme-1.2.0.zip",
		Path: "/package/acme/1.2.0", Icons: []Image{img("/img/logo.svg")}, PolicyTemplatesBehavior: "all",
		Conditions: &Conditions{Kibana: &KibanaConditions{Version: "^8.13.0"},
			Elastic: &ElasticConditions{Subscription: "basic", Capabilities: []string{"observability", "security"}},
			Agent:   &AgentConditions{Version: "^8.13.0"}},
		Owner: &Owner{Type: "elastic", Github: "acme/team"}, Categories: []string{"security", "monitoring"},
		SignaturePath: "/epr/acme/acme-1.2.0.zip.sig",
		Discovery:     &Discovery{Fields: []DiscoveryName{{Name: "host.ip"}}, Datasets: []DiscoveryName{{Name: "acme.logs"}}},
		Deprecated:    dep("package"),
		Requires: &Requires{Input: []RequiredPackage{{Package: "acme_input", Version: "^1.0.0"}},
			Content: []RequiredPackage{{Package: "acme_content", Version: "1.0.0"}}},
		Group: "acme_group", FormatVersion: "3.3.0", Readme: "/package/acme/1.2.0/docs/README.md",
		License: "basic", Screenshots: []Image{img("/img/shot.png")},
		Assets: []string{"/package/acme/1.2.0/manifest.yml", "/package/acme/1.2.0/docs/README.md"},
		PolicyTemplates: []PolicyTemplate{{
			Name: "acme", Title: "Acme", Description: "Acme template", DataStreams: []string{"logs"},
			Inputs: []Input{{Type: "cel", Package: "acme_input", Vars: []Variable{v("n", "0")}, Title: "CEL input",
				Description: "d", Streams: []Stream{stream}, TemplatePath: "input.yml.hbs", InputGroup: "logs",
				DeploymentModes: []string{"default", "agentless"}, Deprecated: dep("input")}},
			Multiple: boolPtr(false), Icons: []Image{img("/img/t.svg")}, Categories: []string{"security"},
			Screenshots: []Image{img("/img/t.png")}, Readme: "/package/acme/1.2.0/docs/acme.md",
			DeploymentModes: &DeploymentModes{Default: &DefaultDeployment{Enabled: true},
				Agentless: &AgentlessDeployment{Enabled: true, IsDefault: boolPtr(false), Release: "beta"}},
			Type: "logs", Input: "cel", IngestionMethod: "API", TemplatePath: "input.yml.hbs", Deprecated: dep("template"),
		}},
		DataStreams: []DataStream{{
			Type: "logs", Dataset: "acme.logs", Hidden: true, ILMPolicy: "acme-policy", DatasetIsPrefix: true,
			Title: "Acme logs", Release: "ga", IngestPipeline: "default", Streams: []Stream{stream}, Package: "acme",
			Elasticsearch: &DataStreamElasticsearch{
				IndexTemplateSettings: json.RawMessage(`{"index":{"lifecycle":{"name":"x"}}}`),
				IndexTemplateMappings: json.RawMessage(`{"dynamic":false}`),
				IngestPipelineName:    "default",
				Privileges:            &IndicesPrivileges{Indices: []string{"auto_configure", "create_doc"}},
			},
			Agent: &Agent{Privileges: &AgentPrivileges{Root: true}}, Path: "logs", Deprecated: dep("data stream"),
		}},
		Vars:          []Variable{v("api_key", `""`), v("on", "false")},
		Elasticsearch: &Elasticsearch{Privileges: &ClusterPrivileges{Cluster: []string{"monitor"}}},
		Agent:         &Agent{Privileges: &AgentPrivileges{Root: true}},
	}
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	file := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from golden file:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// contractKeys lists, per object kind, the key order of epr-api.md §4. The
// walker below maps each JSON object to its kind by the key path leading to it.
var contractKeys = map[string][]string{
	"package": {"name", "title", "version", "release", "source", "description", "type", "download", "path", "icons",
		"policy_templates_behavior", "conditions", "owner", "categories", "signature_path", "discovery", "deprecated",
		"requires", "group", "format_version", "readme", "license", "screenshots", "assets", "policy_templates",
		"data_streams", "vars", "elasticsearch", "agent"},
	"search": {"name", "title", "version", "release", "source", "description", "type", "download", "path", "icons",
		"policy_templates_behavior", "policy_templates", "conditions", "owner", "categories", "signature_path",
		"discovery", "data_streams", "deprecated", "requires", "group"},
	"source":           {"license"},
	"image":            {"src", "path", "title", "size", "type"},
	"conditions":       {"kibana", "elastic", "agent"},
	"kibana":           {"version"},
	"elastic":          {"subscription", "capabilities"},
	"agent_cond":       {"version"},
	"owner":            {"type", "github"},
	"discovery":        {"fields", "datasets"},
	"name_only":        {"name"},
	"deprecated":       {"since", "description", "replaced_by"},
	"replaced_by":      {"package", "policy_template", "input", "data_stream", "variable"},
	"requires":         {"input", "content"},
	"required":         {"package", "version"},
	"short_template":   {"name", "title", "description", "icons", "categories", "deployment_modes", "data_streams", "deprecated"},
	"deployment_modes": {"default", "agentless"},
	"default_mode":     {"enabled"},
	"agentless":        {"enabled", "is_default", "release"},
	"short_ds":         {"type", "dataset", "title", "deprecated"},
	"template": {"name", "title", "description", "data_streams", "inputs", "multiple", "icons", "categories",
		"screenshots", "readme", "deployment_modes", "type", "input", "ingestion_method", "template_path", "deprecated"},
	"input": {"type", "package", "vars", "title", "description", "streams", "template_path", "input_group",
		"deployment_modes", "deprecated"},
	"ds": {"type", "dataset", "hidden", "ilm_policy", "dataset_is_prefix", "title", "release", "ingest_pipeline",
		"streams", "package", "elasticsearch", "agent", "path", "deprecated"},
	"stream": {"input", "package", "vars", "data_stream", "template_path", "title", "description", "enabled",
		"ingestion_method"},
	"ds_es":        {"index_template.settings", "index_template.mappings", "ingest_pipeline.name", "privileges"},
	"indices_priv": {"indices"},
	"var":          {"name", "type", "title", "description", "multi", "required", "show_user", "default", "deprecated"},
	"pkg_es":       {"privileges"},
	"cluster_priv": {"cluster"},
	"agent":        {"privileges"},
	"root_priv":    {"root"},
	"free":         nil, // free-form: keys must be sorted instead
}

// childKind names the kind of the object found under key inside an object
// of kind parent.
func childKind(parent, key string) string {
	if parent == "free" {
		return "free"
	}
	switch key {
	case "icons", "screenshots":
		return "image"
	case "deprecated":
		return "deprecated"
	case "replaced_by":
		return "replaced_by"
	case "vars":
		return "var"
	case "streams":
		return "stream"
	case "default":
		if parent == "deployment_modes" {
			return "default_mode"
		}
		return "free"
	case "data_stream", "index_template.settings", "index_template.mappings":
		return "free"
	}
	switch parent {
	case "package", "search":
		switch key {
		case "policy_templates":
			if parent == "search" {
				return "short_template"
			}
			return "template"
		case "data_streams":
			if parent == "search" {
				return "short_ds"
			}
			return "ds"
		case "elasticsearch":
			return "pkg_es"
		}
		return key
	case "conditions":
		if key == "agent" {
			return "agent_cond"
		}
		return key
	case "discovery":
		return "name_only"
	case "requires":
		return "required"
	case "template", "short_template":
		if key == "inputs" {
			return "input"
		}
		return key
	case "ds":
		if key == "elasticsearch" {
			return "ds_es"
		}
		return key
	case "ds_es":
		return "indices_priv"
	case "pkg_es":
		return "cluster_priv"
	case "agent":
		return "root_priv"
	}
	return key
}

// checkKeyOrder walks the JSON and asserts every object's keys are exactly
// the contract list (the fixtures are fully populated), or sorted if free-form.
func checkKeyOrder(t *testing.T, data []byte, kind string) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var walk func(kind, where string)
	walk = func(kind, where string) {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("%s: %v", where, err)
		}
		switch tok {
		case json.Delim('['):
			for dec.More() {
				walk(kind, where+"[]")
			}
			dec.Token()
		case json.Delim('{'):
			var keys []string
			for dec.More() {
				kt, _ := dec.Token()
				key := kt.(string)
				keys = append(keys, key)
				walk(childKind(kind, key), where+"."+key)
			}
			dec.Token()
			want, known := contractKeys[kind]
			switch {
			case !known:
				t.Errorf("%s: no contract for object kind %q", where, kind)
			case kind == "free":
				if !sortedStrings(keys) {
					t.Errorf("%s: free-form keys not sorted: %v", where, keys)
				}
			case !reflect.DeepEqual(keys, want):
				t.Errorf("%s (%s): keys\n got %v\nwant %v", where, kind, keys, want)
			}
		}
	}
	walk(kind, "$")
}

func sortedStrings(s []string) bool {
	for i := 1; i < len(s); i++ {
		if s[i-1] > s[i] {
			return false
		}
	}
	return true
}

func TestDocumentKeyOrder(t *testing.T) {
	p := fullPackage()
	full, err := Encode(p)
	if err != nil {
		t.Fatal(err)
	}
	checkKeyOrder(t, full, "package")
	checkGolden(t, "document_full.json", full)

	search, err := Encode(p.SearchView())
	if err != nil {
		t.Fatal(err)
	}
	checkKeyOrder(t, search, "search")
	checkGolden(t, "search_item.json", search)
}

func TestEncodeFormatting(t *testing.T) {
	out, err := Encode(map[string]any{"b": "<&>", "a": 1})
	if err != nil {
		t.Fatal(err)
	}
	want := "{\n  \"a\": 1,\n  \"b\": \"<&>\"\n}\n"
	if string(out) != want {
		t.Errorf("got %q, want %q", out, want)
	}
}

// The contract's "always present" keys survive on an otherwise empty value,
// and everything else disappears.
func TestDocumentOmission(t *testing.T) {
	cases := []struct {
		name string
		v    any
		want string
	}{
		{"search", SearchItem{}, `{"name":"","version":"","description":"","type":"","download":"","path":""}`},
		{"image", Image{}, `{"src":"","path":""}`},
		{"elastic", Conditions{Elastic: &ElasticConditions{}}, `{"elastic":{"subscription":""}}`},
		{"agentless", DeploymentModes{Agentless: &AgentlessDeployment{}}, `{"agentless":{"enabled":false}}`},
		{"agentless is_default set false", DeploymentModes{Agentless: &AgentlessDeployment{IsDefault: boolPtr(false)}}, `{"agentless":{"enabled":false,"is_default":false}}`},
		{"empty package elasticsearch", Package{Elasticsearch: &Elasticsearch{}}, `{"name":"","version":"","description":"","type":"","download":"","path":"","format_version":"","elasticsearch":{}}`},
		{"empty data stream elasticsearch", DataStream{Elasticsearch: &DataStreamElasticsearch{}}, `{"type":"","title":"","elasticsearch":{}}`},
		{"var no default", Variable{}, `{"name":"","type":"","multi":false,"required":false,"show_user":false}`},
		{"var empty string default", Variable{Default: json.RawMessage(`""`)}, `{"name":"","type":"","multi":false,"required":false,"show_user":false,"default":""}`},
		{"var false default", Variable{Default: json.RawMessage(`false`)}, `{"name":"","type":"","multi":false,"required":false,"show_user":false,"default":false}`},
		{"short template", ShortPolicyTemplate{}, `{"name":"","title":"","description":""}`},
		{"short ds", ShortDataStream{}, `{"dataset":"","title":""}`},
		{"ds", DataStream{}, `{"type":"","title":""}`},
		{"deprecated", Deprecated{}, `{"since":"","description":""}`},
		{"stream enabled false", Stream{Enabled: boolPtr(false)}, `{"enabled":false}`},
		{"template multiple false", PolicyTemplate{Multiple: boolPtr(false)}, `{"name":"","title":"","description":"","multiple":false}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := json.Marshal(c.v)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != c.want {
				t.Errorf("got  %s\nwant %s", got, c.want)
			}
		})
	}
}

// Documents go through the store as JSON; decoding and re-encoding must not
// change a byte.
func TestDocumentRoundTrip(t *testing.T) {
	first, err := Encode(fullPackage())
	if err != nil {
		t.Fatal(err)
	}
	var back Package
	if err := json.Unmarshal(first, &back); err != nil {
		t.Fatal(err)
	}
	second, err := Encode(&back)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, second) {
		t.Errorf("round trip changed the document:\n%s\n---\n%s", first, second)
	}
}

func TestCategoryTable(t *testing.T) {
	cats := Categories()
	if len(cats) != len(categoryTable) || len(categoriesByID) != len(categoryTable) {
		t.Fatalf("duplicate ids in the category table")
	}
	for i, c := range cats {
		if i > 0 && cats[i-1].ID >= c.ID {
			t.Errorf("Categories not sorted at %s", c.ID)
		}
		if c.Parent != "" {
			p, ok := LookupCategory(c.Parent)
			if !ok || p.Parent != "" {
				t.Errorf("%s: parent %q must be a top-level entry", c.ID, c.Parent)
			}
		}
		if c.Title == "" || strings.TrimSpace(c.Title) != c.Title {
			t.Errorf("%s: bad title %q", c.ID, c.Title)
		}
	}
	if c, ok := LookupCategory("monitoring"); !ok || c.Title != "Monitoring" || c.Parent != "observability" {
		t.Errorf("monitoring = %+v, %v", c, ok)
	}
	if !IsSubcategory("monitoring", "observability") || !IsSubcategory("observability", "observability") ||
		IsSubcategory("security", "observability") {
		t.Error("IsSubcategory")
	}
	for in, want := range map[string]string{"cel": "API", "httpjson": "API", "filestream": "File", "aws-s3": "AWS S3"} {
		if got, ok := IngestionMethod(in); !ok || got != want {
			t.Errorf("IngestionMethod(%q) = %q, %v", in, got, ok)
		}
	}
	if _, ok := IngestionMethod("unknown"); ok {
		t.Error("unknown input mapped")
	}
}
