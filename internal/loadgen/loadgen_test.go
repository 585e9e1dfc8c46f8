package loadgen

import (
	"bytes"
	"context"
	"sync/atomic"
	"testing"

	"github.com/oci-epr/package-registry/internal/devregistry"
	"github.com/oci-epr/package-registry/internal/oci"
	"github.com/oci-epr/package-registry/internal/packages"
)

func TestVersionsAreValidAndRealistic(t *testing.T) {
	o := Defaults()
	o.LargeEvery = 5
	for _, tc := range []struct {
		i        int
		min, max int // zip bytes
	}{
		{i: 0, min: 100_000, max: 1_500_000},
		{i: 1, min: 100_000, max: 1_500_000},
		{i: 3, min: 100_000, max: 1_500_000},
		{i: 4, min: 4_000_000, max: 12_000_000}, // the LargeEvery-th
		{i: 13, min: 100_000, max: 1_500_000},
	} {
		zip := Zip(tc.i, o)
		if len(zip) < tc.min || len(zip) > tc.max {
			t.Errorf("version %d: %d zip bytes, want %d..%d", tc.i, len(zip), tc.min, tc.max)
		}
		doc, _, err := packages.ReadBytes(zip, packages.Options{})
		if err != nil {
			t.Fatalf("version %d: %v", tc.i, err)
		}
		if doc.Name != Name(tc.i) || doc.Version != Version(tc.i) {
			t.Errorf("version %d is %s %s, want %s %s", tc.i, doc.Name, doc.Version, Name(tc.i), Version(tc.i))
		}
		if doc.Type == packages.TypeIntegration && len(doc.DataStreams) < 2 {
			t.Errorf("version %d: %d data streams", tc.i, len(doc.DataStreams))
		}
	}
}

func TestDeterministicAndSeeded(t *testing.T) {
	o := Defaults()
	o.SizeScale = 0.05
	if !bytes.Equal(Zip(7, o), Zip(7, o)) {
		t.Error("equal options gave different zips")
	}
	other := o
	other.Seed = 2
	if bytes.Equal(Zip(7, o), Zip(7, other)) {
		t.Error("another seed gave the same zip")
	}
	shifted := o
	shifted.Offset = 7
	if !bytes.Equal(Zip(7, o), Zip(0, shifted)) {
		t.Error("Offset does not shift the numbering")
	}
}

func TestNamesAreDistinctVersions(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 400; i++ {
		k := Name(i) + "@" + Version(i)
		if seen[k] {
			t.Fatalf("%s generated twice", k)
		}
		seen[k] = true
	}
}

func TestPushFillsTheRegistry(t *testing.T) {
	ctx := context.Background()
	reg, err := devregistry.Start(ctx, devregistry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	c, err := oci.New(oci.Config{Registry: "http://" + reg.Host()})
	if err != nil {
		t.Fatal(err)
	}
	o := Defaults()
	o.SizeScale = 0.01
	var calls atomic.Int64
	pushed, err := Push(ctx, c, "packages", 10, 3, o, func(int) { calls.Add(1) })
	if err != nil {
		t.Fatal(err)
	}
	if len(pushed) != 10 || calls.Load() != 10 {
		t.Fatalf("%d pushed, %d progress calls", len(pushed), calls.Load())
	}
	tags, err := c.Tags(ctx, "packages/"+Name(5))
	if err != nil {
		t.Fatal(err)
	}
	if len(tags) != VersionsPerName {
		t.Errorf("tags of %s: %v", Name(5), tags)
	}
	for _, p := range pushed {
		if p.Digest == "" || p.Repository != "packages/"+p.Name {
			t.Errorf("pushed %+v", p)
		}
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Push(cancelled, c, "packages", 10, 2, o, nil); err == nil {
		t.Error("Push with a cancelled context succeeded")
	}
}
