// Package loadgen owns the synthetic catalogue used to measure the system at the size of
// Elastic's public registry: deterministic package specs of realistic size and shape (several
// data streams with fields files and pipelines, dashboards, a few very large versions), and a
// parallel pusher that fills an OCI registry with them through oci.Client.PushPackage. Benchmarks
// use it as a library; cmd/loadgen lets a person fill a running registry.
package loadgen

import (
	"context"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/oci-epr/package-registry/internal/oci"
	"github.com/oci-epr/package-registry/internal/packages"
	"github.com/oci-epr/package-registry/internal/packages/packagetest"
	"github.com/oci-epr/package-registry/internal/ref"
)

// VersionsPerName is how many versions share one package name, as in packagetest.Many.
const VersionsPerName = 4

// Options shape the generated versions. The zero value is not useful; start from Defaults.
type Options struct {
	// Seed makes the output reproducible: equal seeds give equal zips (and digests).
	Seed uint64
	// SizeScale multiplies the bytes of the Kibana assets. 1 gives zips of a few hundred KB
	// to a few MB; benchmarks that only need the package documents use a small scale, which
	// keeps the documents (they list the files, not their sizes) exactly as they would be.
	SizeScale float64
	// LargeEvery makes every n-th version very large (several MB at scale 1); 0 means none.
	LargeEvery int
	// Offset shifts the version numbering, so a second run adds versions after the first.
	Offset int
}

// Defaults are the realistic shape.
func Defaults() Options { return Options{Seed: 1, SizeScale: 1, LargeEvery: 500} }

// Name and Version of the i-th generated version. Names hold VersionsPerName versions each:
// a 0.x, two 1.x and a prerelease, so latest-version logic has work to do.
func Name(i int) string { return fmt.Sprintf("load_%05d", i/VersionsPerName) }

func Version(i int) string {
	switch i % VersionsPerName {
	case 0:
		return "0.9.0"
	case 1:
		return fmt.Sprintf("1.%d.0", i%7)
	case 2:
		return fmt.Sprintf("1.%d.1", i%7)
	default:
		return "2.0.0-beta1"
	}
}

var inputs = []string{"filestream", "cel", "httpjson", "tcp", "udp", "aws-s3", "logfile", "winlog"}

// Spec returns the i-th version's package spec.
func Spec(i int, o Options) packagetest.Spec {
	i += o.Offset
	r := rand.New(rand.NewPCG(o.Seed, uint64(i/VersionsPerName)))
	cats := packages.Categories()
	name := Name(i)
	s := packagetest.Spec{
		Name: name, Version: Version(i),
		Title:         fmt.Sprintf("Load %d", i/VersionsPerName),
		Description:   fmt.Sprintf("Collect logs and metrics from system %d.", i/VersionsPerName),
		Type:          packages.TypeIntegration,
		Categories:    []string{cats[r.IntN(len(cats))].ID, cats[r.IntN(len(cats))].ID},
		OwnerGithub:   "elastic/integrations",
		OwnerType:     "elastic",
		SourceLicense: "Elastic-2.0",
		Icons:         []packagetest.Image{{Src: "/img/logo.svg", Title: "logo", Size: "32x32", Type: "image/svg+xml"}},
		Screenshots:   []packagetest.Image{{Src: "/img/overview.png", Title: "Overview", Size: "2x2", Type: "image/png"}},
		ExtraFiles: map[string][]byte{
			"LICENSE.txt":   []byte("Elastic License 2.0\n"),
			"changelog.yml": []byte("- version: " + Version(i) + "\n  changes: []\n"),
		},
	}
	if s.Categories[0] == s.Categories[1] {
		s.Categories = s.Categories[:1]
	}
	if r.IntN(3) > 0 {
		s.KibanaVersion = "^8.13.0 || ^9.0.0"
	}
	// One name in ten is an input package: no data streams, one policy template.
	if r.IntN(10) == 0 {
		s.Type = packages.TypeInput
		in := inputs[r.IntN(len(inputs))]
		s.PolicyTemplates = []packagetest.PolicyTemplate{{Name: "input", Title: "Input", Description: "Collect with " + in,
			Input: in, Type: "logs", TemplatePath: "input.yml.hbs"}}
		addDashboards(s, i, o, 1)
		return s
	}
	nStreams := 2 + r.IntN(7)
	tmpl := packagetest.PolicyTemplate{Name: "main", Title: "Collect", Description: "Collect events", Readme: true}
	seenInput := map[string]bool{}
	for d := 0; d < nStreams; d++ {
		dir := fmt.Sprintf("stream_%d", d)
		in := inputs[r.IntN(len(inputs))]
		ds := packagetest.DataStream{Dir: dir, Title: "Stream " + dir, DefaultPipeline: r.IntN(2) == 0,
			Streams: []packagetest.Stream{{Input: in, Title: "Events via " + in}}}
		if d%3 == 2 {
			ds.Type = "metrics"
		}
		s.DataStreams = append(s.DataStreams, ds)
		s.ExtraFiles["data_stream/"+dir+"/fields/fields.yml"] = fieldsFile(r, dir, 20+r.IntN(150))
		s.ExtraFiles["data_stream/"+dir+"/fields/ecs.yml"] = fieldsFile(r, "ecs", 10+r.IntN(30))
		tmpl.DataStreams = append(tmpl.DataStreams, dir)
		if !seenInput[in] {
			seenInput[in] = true
			tmpl.Inputs = append(tmpl.Inputs, packagetest.Input{Type: in, Title: in})
		}
	}
	s.PolicyTemplates = []packagetest.PolicyTemplate{tmpl}
	addDashboards(s, i, o, 1+r.IntN(6))
	return s
}

// fieldsFile declares n keyword or long fields under prefix.
func fieldsFile(r *rand.Rand, prefix string, n int) []byte {
	var b strings.Builder
	types := []string{"keyword", "long", "ip", "date", "double", "text"}
	for f := 0; f < n; f++ {
		fmt.Fprintf(&b, "- name: %s.field_%d_%x\n  type: %s\n  description: Field %d of %s.\n", prefix, f, r.Uint32(), types[r.IntN(len(types))], f, prefix)
	}
	return []byte(b.String())
}

// addDashboards adds n dashboards whose bytes total 0.3–2 MB (8–16 MB for every LargeEvery-th
// version) times SizeScale, which zip to about 0.2–1.2 MB (5–10 MB). Panels carry random ids, so they compress about as
// carry random visualisation state, so a zip is about two thirds of its raw size, not nothing.
func addDashboards(s packagetest.Spec, i int, o Options, n int) {
	// The version index decides the size, the name's generator the rest, so versions of one
	// name differ in size as releases do.
	vr := rand.New(rand.NewPCG(o.Seed^0x5eed, uint64(i)))
	total := 300_000 + vr.IntN(1_700_000)
	if o.LargeEvery > 0 && i%o.LargeEvery == o.LargeEvery-1 {
		total = 8_000_000 + vr.IntN(8_000_000)
	}
	total = int(float64(total) * o.SizeScale)
	for d := 0; d < n; d++ {
		s.ExtraFiles[fmt.Sprintf("kibana/dashboard/%s-%d.json", s.Name, d)] = dashboard(vr, s.Name, d, total/n)
	}
}

func dashboard(r *rand.Rand, name string, d, size int) []byte {
	var b strings.Builder
	b.Grow(size + 512)
	fmt.Fprintf(&b, `{"id":"%s-%d","type":"dashboard","attributes":{"title":"%s dashboard %d","panelsJSON":[`, name, d, name, d)
	state := make([]byte, 96)
	for p := 0; b.Len() < size; p++ {
		if p > 0 {
			b.WriteByte(',')
		}
		for k := range state {
			state[k] = byte(r.Uint32())
		}
		fmt.Fprintf(&b, `{"panelIndex":"%016x","gridData":{"x":%d,"y":%d,"w":24,"h":15},"embeddableConfig":{"field":"event.%x","visState":"%s"}}`,
			r.Uint64(), r.IntN(48), r.IntN(400), r.Uint32(), base64.StdEncoding.EncodeToString(state))
	}
	b.WriteString("]}}\n")
	return []byte(b.String())
}

// Zip builds the i-th version's zip.
func Zip(i int, o Options) []byte { return packagetest.Build(Spec(i, o)) }

// Pushed is one version in the registry.
type Pushed struct {
	Name, Version, Repository, Tag, Digest string
	ZipBytes                               int
}

// Push builds versions [0, n) and pushes each to "<repository>/<name>:<version>" with
// parallelism workers (as the per-package layout of docs/artifact-layout.md). It stops at the
// first error. progress, if not nil, is called after each push with the number done.
func Push(ctx context.Context, c *oci.Client, repository string, n, parallelism int, o Options, progress func(done int)) ([]Pushed, error) {
	if parallelism < 1 {
		parallelism = 1
	}
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	out := make([]Pushed, n)
	var next, done atomic.Int64
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	for w := 0; w < parallelism; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				zip := Zip(i, o)
				p := Pushed{Name: Name(i + o.Offset), Version: Version(i + o.Offset), ZipBytes: len(zip)}
				r := ref.Ref{Name: p.Name, Version: p.Version}
				p.Repository, p.Tag = r.Repository(repository), r.Tag()
				desc, err := c.PushPackage(ctx, p.Repository, p.Tag, zip, nil, nil)
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					cancel()
					return
				}
				p.Digest = desc.Digest.String()
				out[i] = p
				d := int(done.Add(1))
				if progress != nil {
					progress(d)
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := parent.Err(); err != nil {
		return nil, err
	}
	return out, nil
}
