package loadgen

import (
	"bytes"
	"sync/atomic"
	"testing"

	"github.com/oci-epr/package-registry/internal/devregistry"
	"github.com/oci-epr/package-registry/internal/oci"
	"github.com/oci-epr/package-registry/internal/packages"
	"github.com/oci-epr/package-registry/internal/packages/packagetest"
)

// Every generated version is a valid package of the name and version the catalog says, of a
// realistic size, and the same options give the same bytes.
func TestCatalogIsValidAndDeterministic(t *testing.T) {
	o := Options{Versions: 30, LargeEvery: 15}
	var total, largest int
	for i := range 30 {
		zip := packagetest.Build(o.Spec(i))
		doc, _, err := packages.ReadBytes(zip, packages.Options{})
		if err != nil {
			t.Fatalf("version %d: %v", i, err)
		}
		if doc.Name != o.Name(i) || doc.Version != o.Version(i) {
			t.Fatalf("version %d is %s %s, want %s %s", i, doc.Name, doc.Version, o.Name(i), o.Version(i))
		}
		if len(doc.DataStreams) < 3 {
			t.Fatalf("version %d has %d data streams", i, len(doc.DataStreams))
		}
		total += len(zip)
		largest = max(largest, len(zip))
	}
	avg := total / 30
	t.Logf("zip size: average %d KB, largest %d KB", avg>>10, largest>>10)
	if avg < 50<<10 || largest < 4*avg {
		t.Fatalf("average zip %d bytes, largest %d: not the realistic shape", avg, largest)
	}
	if !bytes.Equal(packagetest.Build(o.Spec(7)), packagetest.Build(o.Spec(7))) {
		t.Fatal("the same version built twice differs")
	}
	if bytes.Equal(packagetest.Build(o.Spec(7)), packagetest.Build(Options{Seed: 1}.Spec(7))) {
		t.Fatal("the seed changes nothing")
	}
}

func BenchmarkBuild(b *testing.B) {
	o := Options{}
	for i := 0; b.Loop(); i++ {
		packagetest.Build(o.Spec(i % 99))
	}
}

func TestPushFillsTheRegistry(t *testing.T) {
	reg, err := devregistry.Start(t.Context(), devregistry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	client, err := oci.New(oci.Config{Registry: "http://" + reg.Host()})
	if err != nil {
		t.Fatal(err)
	}
	o := Options{VersionsPerName: 4, DashboardBytes: 16 << 10}
	var calls atomic.Int64
	st, err := Push(t.Context(), client, "packages", o, 0, 12, 4, func(Stats) { calls.Add(1) })
	if err != nil {
		t.Fatal(err)
	}
	if st.Pushed != 12 || calls.Load() != 12 || st.Bytes == 0 {
		t.Fatalf("stats %+v, %d progress calls", st, calls.Load())
	}
	for _, name := range []string{o.Name(0), o.Name(11)} {
		tags, err := client.Tags(t.Context(), "packages/"+name)
		if err != nil {
			t.Fatal(err)
		}
		if len(tags) != 4 {
			t.Fatalf("%s has tags %v, want 4", name, tags)
		}
	}
}
