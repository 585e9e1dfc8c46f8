package store

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// mappedKB is the resident size of this process's mappings of path, from /proc/self/smaps.
func mappedKB(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skip("no /proc/self/smaps:", err)
	}
	defer f.Close()
	total, in := 0, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		fields := strings.Fields(line)
		if len(fields) >= 5 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":") {
			in = len(fields) >= 6 && fields[len(fields)-1] == path
			continue
		}
		if in && len(fields) >= 2 && fields[0] == "Rss:" {
			n, _ := strconv.Atoi(fields[1])
			total += n
		}
	}
	return total
}

// TestReleasePagesUnmapsWhatWasRead: after reading every record the file's pages are resident
// in the process; ReleasePages takes them out, and the records still read back the same.
func TestReleasePagesUnmapsWhatWasRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "api.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	value := bytes.Repeat([]byte("record "), 300) // 2 KB: 4,000 of them fill ~8 MB of pages
	var changes []PackageChange
	for i := range 4000 {
		changes = append(changes, PackageChange{Key: fmt.Sprintf("p%04d/1.0.0", i), Value: value})
	}
	if err := db.ApplyPackages(changes, 1); err != nil {
		t.Fatal(err)
	}
	read := func() int {
		n := 0
		if err := db.ForEachPackage(func(_ string, v []byte) error {
			if !bytes.Equal(v, value) {
				return fmt.Errorf("value changed")
			}
			n++
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	read()
	before := mappedKB(t, path)
	if before < 4<<10 {
		t.Fatalf("only %d KB of the file resident after reading it all", before)
	}
	if err := db.ReleasePages(); err != nil {
		t.Fatal(err)
	}
	if after := mappedKB(t, path); after > before/4 {
		t.Fatalf("%d KB resident after ReleasePages, %d KB before", after, before)
	}
	if n := read(); n != 4000 {
		t.Fatalf("%d records read back after ReleasePages", n)
	}
}
