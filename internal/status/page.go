package status

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"
)

//go:embed templates/page.html
var templates embed.FS

// pageTemplate is the one page: server-rendered, no script, no asset but itself.
var pageTemplate = template.Must(template.New("page.html").Funcs(template.FuncMap{
	"short":      shortDigest,
	"repoURL":    func(repo string) string { return PathRepositories + repo },
	"packageURL": func(name string) string { return PathPackages + url.PathEscape(name) },
	"stateURL":   func(s State) string { return PathOverall + "?state=" + url.QueryEscape(string(s)) },
	"label":      func(s State) string { return strings.ReplaceAll(string(s), "_", " ") },
	"counts":     counts,
	"deref":      func(p *uint64) uint64 { return *p },
}).ParseFS(templates, "templates/page.html"))

// view is what the page template renders.
type view struct {
	Title string
	// Action is where the search form goes (the route shown).
	Action    string
	Query     string
	State     State
	States    []State
	Overall   *Overall
	Repo      *RepositoryStatus
	Package   *PackageStatus
	Error     string
	Status    int
	Tags      []Tag
	Truncated int
	now       time.Time
}

// Ago tells how long before the page t was, for a person: "3m ago", "in 20s".
func (v view) Ago(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := v.now.Sub(t)
	if d < 0 {
		return "in " + roughly(-d)
	}
	return roughly(d) + " ago"
}

// Generated is when the page was made, in UTC.
func (v view) Generated() string { return v.now.UTC().Format("2006-01-02 15:04:05 UTC") }

// When is an optional time, ago.
func (v view) When(t *time.Time) string {
	if t == nil {
		return "—"
	}
	return v.Ago(*t)
}

func roughly(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// shortDigest keeps the algorithm and 12 hex digits; the page puts the whole one in a title.
func shortDigest(d string) string {
	if alg, hex, ok := strings.Cut(d, ":"); ok && len(hex) > 12 {
		return alg + ":" + hex[:12]
	}
	return d
}

type stateCount struct {
	State State
	N     int
}

// counts lists non-zero counts, problems first.
func counts(m map[State]int) []stateCount {
	var out []stateCount
	for _, s := range States {
		if m[s] > 0 {
			out = append(out, stateCount{s, m[s]})
		}
	}
	return out
}

// page renders v (an *Overall, *RepositoryStatus, *PackageStatus or *ErrorBody) as HTML.
func (h *handler) page(w http.ResponseWriter, r *http.Request, status int, f Filter, v any) {
	pv := view{Action: PathOverall, Query: f.Query, State: f.State, States: States, Status: status, now: h.opts.Now()}
	switch x := v.(type) {
	case *Overall:
		pv.Title, pv.Overall, pv.Tags, pv.Truncated = "Package registry status", x, x.Problems, x.Truncated
	case *RepositoryStatus:
		pv.Title, pv.Repo, pv.Tags, pv.Truncated = x.Repository.Repository, x, x.Tags, x.Truncated
		pv.Action = PathRepositories + x.Repository.Repository
	case *PackageStatus:
		pv.Title, pv.Package, pv.Tags, pv.Truncated = "Package "+x.Name, x, x.Tags, x.Truncated
		pv.Action = PathPackages + url.PathEscape(x.Name)
	case *ErrorBody:
		pv.Title, pv.Error = http.StatusText(status), x.Error
	}
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, pv); err != nil {
		h.opts.Log.Error("rendering the status page failed", "err", err)
		writeJSON(w, http.StatusInternalServerError, &ErrorBody{Error: "rendering the page failed"})
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	// Nothing on the page runs or loads: no script, no frame, no asset from elsewhere.
	hdr.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
	hdr.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
