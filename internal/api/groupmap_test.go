package api

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
)

// A groupMap update leaves the map it came from as it was (readers of older snapshots keep
// their view) and keeps names sorted and the version count right.
func TestGroupMapWith(t *testing.T) {
	g := func(n int) *group { return &group{versions: make([]*Entry, n)} }
	base := map[string]*group{}
	for i := range 600 {
		base[fmt.Sprintf("p%03d", i)] = g(2)
	}
	m := newGroupMap(base)
	tests := []struct {
		name     string
		changes  map[string]*group
		names    int
		versions int
		has      []string
		hasNot   []string
	}{
		{"change one", map[string]*group{"p010": g(5)}, 600, 1203, []string{"p010"}, nil},
		{"add one", map[string]*group{"a_new": g(1)}, 601, 1201, []string{"a_new", "p599"}, nil},
		{"remove one", map[string]*group{"p300": nil}, 599, 1198, nil, []string{"p300"}},
		{"remove one absent", map[string]*group{"zzz": nil}, 600, 1200, nil, []string{"zzz"}},
		{"several", map[string]*group{"p000": nil, "p001": g(4), "q": g(3)}, 600, 1203, []string{"p001", "q"}, []string{"p000"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next := m.with(tt.changes)
			if next.len() != tt.names || next.versions != tt.versions || !slices.IsSorted(next.names) {
				t.Fatalf("%d names, %d versions, sorted %v", next.len(), next.versions, slices.IsSorted(next.names))
			}
			for _, n := range tt.has {
				if next.get(n) == nil {
					t.Errorf("%s missing", n)
				}
			}
			for _, n := range tt.hasNot {
				if next.get(n) != nil || slices.Contains(next.names, n) {
					t.Errorf("%s still there", n)
				}
			}
			for name, want := range tt.changes {
				if want != nil && next.get(name) != want {
					t.Errorf("%s not replaced", name)
				}
			}
			// The map it came from is untouched.
			if m.len() != 600 || m.versions != 1200 || m.get("p010") != base["p010"] || m.get("a_new") != nil || m.get("p300") == nil {
				t.Fatal("the original map changed")
			}
			var names []string
			for n := range base {
				names = append(names, n)
			}
			slices.Sort(names)
			if !reflect.DeepEqual(m.names, names) {
				t.Fatal("the original names changed")
			}
		})
	}
}
