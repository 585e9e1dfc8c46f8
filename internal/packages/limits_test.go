package packages_test

import (
	"fmt"
	"testing"

	"github.com/oci-epr/package-registry/internal/packages"
	"github.com/oci-epr/package-registry/internal/packages/packagetest"
)

// manyFiles is a valid package with n entries in all (the two generated
// files included, no directory entries).
func manyFiles(n int) []byte {
	// Stored: a deflate writer per entry would make building the slow part.
	s := packagetest.Spec{Name: "many", Version: "1.0.0", OmitDirEntries: true, Uncompressed: true, ExtraFiles: map[string][]byte{}}
	for i := 0; i < n-2; i++ {
		s.ExtraFiles[fmt.Sprintf("kibana/tag/%05d.json", i)] = []byte("{}")
	}
	return packagetest.Build(s)
}

// The default entry limit: a package far larger than any published one is
// read, one past the limit is rejected before the directory is parsed.
func TestDefaultEntryLimit(t *testing.T) {
	for _, tc := range []struct {
		entries int
		rule    packages.Rule
	}{{5_000, ""}, {20_000, ""}, {20_001, packages.RuleTooManyEntries}} {
		_, _, err := packages.ReadBytes(manyFiles(tc.entries), packages.Options{})
		re, _ := packages.AsReject(err)
		switch {
		case tc.rule == "" && err != nil:
			t.Errorf("%d entries: %v", tc.entries, err)
		case tc.rule != "" && (re == nil || re.Rule != tc.rule):
			t.Errorf("%d entries: err %v, want rule %s", tc.entries, err, tc.rule)
		}
	}
}

// MemoryCost grows with entries and name lengths.
func TestArchiveMemoryCost(t *testing.T) {
	small, err := packages.OpenArchiveBytes(manyFiles(10), packages.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	big, err := packages.OpenArchiveBytes(manyFiles(1000), packages.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	// ~350 bytes per entry and each name twice: 1,000 entries named
	// "many-1.0.0/kibana/tag/00000.json" (32 bytes) cost over 400 KB.
	if s, b := small.MemoryCost(), big.MemoryCost(); s <= 0 || b < 400_000 || b > 600_000 || b <= s {
		t.Errorf("MemoryCost: 10 entries %d, 1,000 entries %d", s, b)
	}
}
