package packagetest

// How a Spec becomes manifest YAML.

// obj is a YAML mapping that leaves out empty values, so the manifest only
// says what the spec sets.
type obj map[string]any

func (o obj) set(key string, v any) {
	switch t := v.(type) {
	case string:
		if t == "" {
			return
		}
	case []string:
		if len(t) == 0 {
			return
		}
	case []any:
		if len(t) == 0 {
			return
		}
	case obj:
		if len(t) == 0 {
			return
		}
	case bool:
		if !t {
			return
		}
	case *bool:
		if t == nil {
			return
		}
		v = *t
	case nil:
		return
	}
	o[key] = v
}

func (s Spec) manifest() obj {
	m := obj{}
	m.set("format_version", firstNonEmpty(s.FormatVersion, "3.3.0"))
	m.set("name", s.Name)
	m.set("title", s.Title)
	m.set("version", s.Version)
	m.set("release", s.Release)
	m.set("description", s.Description)
	m.set("type", s.Type)
	m.set("license", s.License)
	m.set("categories", s.Categories)
	if s.SourceLicense != "" {
		m.set("source", obj{"license": s.SourceLicense})
	}
	cond := obj{}
	if s.KibanaVersion != "" {
		cond.set("kibana", obj{"version": s.KibanaVersion})
	}
	if s.AgentVersion != "" {
		cond.set("agent", obj{"version": s.AgentVersion})
	}
	el := obj{}
	el.set("subscription", s.Subscription)
	el.set("capabilities", s.Capabilities)
	cond.set("elastic", el)
	m.set("conditions", cond)
	owner := obj{}
	owner.set("github", s.OwnerGithub)
	owner.set("type", s.OwnerType)
	m.set("owner", owner)
	m.set("icons", images(s.Icons))
	m.set("screenshots", images(s.Screenshots))
	m.set("deprecated", deprecation(s.Deprecated))
	m.set("vars", vars(s.Vars))
	disc := obj{}
	disc.set("fields", names(s.DiscoveryFields))
	disc.set("datasets", names(s.DiscoveryDatasets))
	m.set("discovery", disc)
	var req []any
	for _, r := range s.RequiresInput {
		req = append(req, obj{"package": r.Package, "version": r.Version})
	}
	if len(req) > 0 {
		m.set("requires", obj{"input": req})
	}
	var templates []any
	for _, t := range s.PolicyTemplates {
		templates = append(templates, t.manifest())
	}
	m.set("policy_templates", templates)
	return m
}

func (t PolicyTemplate) manifest() obj {
	m := obj{}
	m.set("name", t.Name)
	m.set("title", firstNonEmpty(t.Title, t.Name))
	m.set("description", firstNonEmpty(t.Description, "Collect "+t.Name))
	m.set("data_streams", t.DataStreams)
	m.set("categories", t.Categories)
	m.set("input", t.Input)
	m.set("type", t.Type)
	m.set("template_path", t.TemplatePath)
	m.set("multiple", t.Multiple)
	m.set("icons", images(t.Icons))
	m.set("deprecated", deprecation(t.Deprecated))
	if t.Agentless {
		agentless := obj{"enabled": true}
		agentless.set("release", t.AgentlessRelease)
		if t.AgentlessIsDefault != nil {
			agentless["is_default"] = *t.AgentlessIsDefault
		}
		m.set("deployment_modes", obj{"default": obj{"enabled": true}, "agentless": agentless})
	}
	var inputs []any
	for _, in := range t.Inputs {
		o := obj{}
		o.set("type", in.Type)
		o.set("title", firstNonEmpty(in.Title, in.Type))
		o.set("description", in.Description)
		o.set("vars", vars(in.Vars))
		inputs = append(inputs, o)
	}
	m.set("inputs", inputs)
	return m
}

func (ds DataStream) manifest() obj {
	m := obj{}
	m.set("type", firstNonEmpty(ds.Type, "logs"))
	m.set("title", firstNonEmpty(ds.Title, ds.Dir))
	m.set("dataset", ds.Dataset)
	m.set("release", ds.Release)
	m.set("hidden", ds.Hidden)
	m.set("deprecated", deprecation(ds.Deprecated))
	var streams []any
	for _, st := range ds.Streams {
		o := obj{}
		o.set("input", st.Input)
		o.set("title", firstNonEmpty(st.Title, st.Input))
		o.set("description", st.Description)
		o.set("template_path", st.TemplatePath)
		o.set("enabled", st.Enabled)
		o.set("vars", vars(st.Vars))
		streams = append(streams, o)
	}
	m.set("streams", streams)
	return m
}

func images(in []Image) []any {
	var out []any
	for _, im := range in {
		o := obj{}
		o.set("src", im.Src)
		o.set("title", im.Title)
		o.set("size", im.Size)
		o.set("type", im.Type)
		out = append(out, o)
	}
	return out
}

func vars(in []Var) []any {
	var out []any
	for _, v := range in {
		o := obj{"name": v.Name, "type": firstNonEmpty(v.Type, "text")}
		o.set("title", v.Title)
		o.set("multi", v.Multi)
		o.set("required", v.Required)
		o.set("show_user", v.ShowUser)
		if v.Default != nil {
			o["default"] = v.Default
		}
		out = append(out, o)
	}
	return out
}

func names(in []string) []any {
	var out []any
	for _, n := range in {
		out = append(out, obj{"name": n})
	}
	return out
}

func deprecation(d *Deprecation) any {
	if d == nil {
		return nil
	}
	o := obj{"since": d.Since, "description": d.Description}
	if d.ReplacedBy != "" {
		o["replaced_by"] = obj{"package": d.ReplacedBy}
	}
	return o
}
