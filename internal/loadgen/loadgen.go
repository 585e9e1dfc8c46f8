// Package loadgen owns the synthetic catalogs of the scale benchmarks: deterministic package
// versions of realistic shape (several data streams with fields files, ingest pipelines,
// dashboards of realistic size, a few very large packages) and their parallel push to a
// registry. Benchmarks, tests and cmd/loadgen use it alike.
package loadgen

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oci-epr/package-registry/internal/oci"
	"github.com/oci-epr/package-registry/internal/packages"
	"github.com/oci-epr/package-registry/internal/packages/packagetest"
)

// Options shape a catalog.
type Options struct {
	// Versions is how many package versions the catalog holds.
	Versions int
	// VersionsPerName is how many versions each package name has (default 10).
	VersionsPerName int
	// DashboardBytes is the uncompressed size of a typical package's dashboards (default
	// 512 KiB: with fields and manifests, a zip of 100–200 KB).
	DashboardBytes int
	// LargeEvery makes every LargeEvery-th version 16 times larger (default 100; negative:
	// none), like the few Elastic packages with dozens of dashboards.
	LargeEvery int
	// Seed varies the catalog; equal options give equal bytes.
	Seed uint64
}

func (o Options) withDefaults() Options {
	if o.VersionsPerName <= 0 {
		o.VersionsPerName = 10
	}
	if o.DashboardBytes <= 0 {
		o.DashboardBytes = 512 << 10
	}
	if o.LargeEvery == 0 {
		o.LargeEvery = 100
	}
	return o
}

// Name and Version of the i-th version of a catalog.
func (o Options) Name(i int) string {
	o = o.withDefaults()
	return fmt.Sprintf("load_%05d", i/o.VersionsPerName)
}

// Version of the i-th version: ascending minors per name, every fifth name's newest a
// prerelease, so latest-per-name and prerelease filtering have work to do.
func (o Options) Version(i int) string {
	o = o.withDefaults()
	j := i % o.VersionsPerName
	if j == o.VersionsPerName-1 && (i/o.VersionsPerName)%5 == 0 {
		return fmt.Sprintf("1.%d.0-rc1", j)
	}
	return fmt.Sprintf("1.%d.0", j)
}

// Spec is the i-th version of the catalog.
func (o Options) Spec(i int) packagetest.Spec {
	o = o.withDefaults()
	rng := rand.New(rand.NewPCG(o.Seed, uint64(i)))
	cats := packages.Categories()
	name := o.Name(i)
	s := packagetest.Integration()
	s.Name, s.Version = name, o.Version(i)
	s.Title = "Load " + strings.TrimPrefix(name, "load_")
	s.Description = "Synthetic package " + name + " for scale benchmarks."
	s.Categories = []string{cats[rng.IntN(len(cats))].ID, cats[rng.IntN(len(cats))].ID}
	if s.Categories[0] == s.Categories[1] {
		s.Categories = s.Categories[:1]
	}
	switch rng.IntN(4) {
	case 0:
		s.KibanaVersion = "^8.13.0"
	case 1:
		s.KibanaVersion = "^8.15.0 || ^9.0.0"
	}
	files := map[string][]byte{
		"changelog.yml": []byte("- version: " + s.Version + "\n  changes: []\n"),
		"LICENSE.txt":   []byte("Elastic License 2.0\n"),
	}
	// Several data streams with their own fields, as most integrations have.
	streams := 3 + rng.IntN(6)
	s.DataStreams = s.DataStreams[:0]
	var dsNames []string
	for d := range streams {
		dir := fmt.Sprintf("stream_%d", d)
		dsNames = append(dsNames, dir)
		s.DataStreams = append(s.DataStreams, packagetest.DataStream{Dir: dir, Title: "Stream " + dir, DefaultPipeline: d%2 == 0,
			Streams: []packagetest.Stream{{Input: []string{"filestream", "cel", "httpjson"}[d%3], Title: "Collect " + dir}}})
		files["data_stream/"+dir+"/fields/fields.yml"] = fieldsFile(rng, dir, 40+rng.IntN(80))
	}
	s.PolicyTemplates = []packagetest.PolicyTemplate{{Name: "main", Title: "Main", Description: "Collect everything",
		DataStreams: dsNames, Categories: s.Categories[:1], Readme: true,
		Inputs: []packagetest.Input{{Type: "filestream", Title: "Files"}, {Type: "cel", Title: "API"}, {Type: "httpjson", Title: "HTTP JSON"}}}}
	size := o.DashboardBytes
	if o.LargeEvery > 0 && i%o.LargeEvery == o.LargeEvery-1 {
		size *= 16
	}
	dashboards := 2 + rng.IntN(6)
	for d := range dashboards {
		files[fmt.Sprintf("kibana/dashboard/%s-%d.json", name, d)] = dashboard(rng, size/dashboards)
	}
	s.ExtraFiles = files
	s.Readme = "# " + s.Title + "\n\n" + strings.Repeat("This integration collects logs and metrics. ", 40) + "\n"
	return s
}

// fieldsFile is a fields.yml with n keyword, long and date fields under the stream's group.
func fieldsFile(rng *rand.Rand, group string, n int) []byte {
	var b strings.Builder
	b.WriteString("- name: " + group + "\n  type: group\n  fields:\n")
	types := []string{"keyword", "long", "date", "ip", "boolean", "text"}
	for f := range n {
		fmt.Fprintf(&b, "    - name: field_%d_%x\n      type: %s\n      description: Field %d of %s.\n", f, rng.Uint32(), types[rng.IntN(len(types))], f, group)
	}
	return []byte(b.String())
}

// dashboard is Kibana saved-object JSON of about size bytes: panels whose ids and queries vary,
// so it compresses about as well as real dashboards (5-10x).
func dashboard(rng *rand.Rand, size int) []byte {
	var b strings.Builder
	b.WriteString(`{"attributes":{"title":"Overview","panelsJSON":[`)
	for p := 0; b.Len() < size; p++ {
		if p > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"panelIndex":"%016x","gridData":{"x":%d,"y":%d,"w":24,"h":15},"embeddableConfig":{"query":"event.dataset:%x AND host.name:%x","columns":["@timestamp","message","%x"]}}`,
			rng.Uint64(), rng.IntN(48), rng.IntN(500), rng.Uint32(), rng.Uint32(), rng.Uint32())
	}
	b.WriteString(`]},"type":"dashboard"}` + "\n")
	return []byte(b.String())
}

// Stats is what a Push did.
type Stats struct {
	Pushed   int
	Bytes    int64
	Duration time.Duration
}

// Push builds and pushes versions [from, to) of the catalog to repositoryBase/<name>:<version>
// with parallel workers (default 8). Zips are built by the workers, so memory stays small at
// any catalog size. progress, when set, is called after each push.
func Push(ctx context.Context, client *oci.Client, repositoryBase string, o Options, from, to, parallel int, progress func(Stats)) (Stats, error) {
	if parallel <= 0 {
		parallel = 8
	}
	start := time.Now()
	var next atomic.Int64
	next.Store(int64(from))
	var pushed, bytes atomic.Int64
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range parallel {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= to {
					return
				}
				spec := o.Spec(i)
				zip := packagetest.Build(spec)
				tag := strings.ReplaceAll(spec.Version, "+", "_")
				if _, err := client.PushPackage(ctx, repositoryBase+"/"+spec.Name, tag, zip, nil, nil); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("push %s %s: %w", spec.Name, spec.Version, err)
					}
					mu.Unlock()
					cancel()
					return
				}
				st := Stats{Pushed: int(pushed.Add(1)), Bytes: bytes.Add(int64(len(zip))), Duration: time.Since(start)}
				if progress != nil {
					progress(st)
				}
			}
		})
	}
	wg.Wait()
	st := Stats{Pushed: int(pushed.Load()), Bytes: bytes.Load(), Duration: time.Since(start)}
	return st, firstErr
}
