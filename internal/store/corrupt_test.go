package store

import (
	"bytes"
	"errors"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oci-epr/package-registry/internal/testkit"
)

// filledStore writes a store with enough records to span many pages, closed.
func filledStore(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "indexer.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var changes []PackageChange
	for i := range 2000 {
		changes = append(changes, PackageChange{Key: strings.Repeat("k", 10) + string(rune('a'+i%26)) + "/" + strings.Repeat("1", i%50), Value: bytes.Repeat([]byte{byte(i)}, 700)})
	}
	if err := db.ApplyPackages(changes, 42); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// The corruptions seen in the field: a file cut short (disk full, copy interrupted), a file of
// zeros (a filesystem that lost its blocks), and garbage. Each must end in a clear error naming
// the file, then a rebuild, never in a panic or SIGBUS.
func TestDamagedStoreIsMovedAsideAndRebuilt(t *testing.T) {
	damages := map[string]func(t *testing.T, path string){
		"truncated": func(t *testing.T, path string) {
			st, _ := os.Stat(path)
			if err := os.Truncate(path, st.Size()/3); err != nil {
				t.Fatal(err)
			}
		},
		"zeroed": func(t *testing.T, path string) {
			st, _ := os.Stat(path)
			if err := os.WriteFile(path, make([]byte, st.Size()), 0o600); err != nil {
				t.Fatal(err)
			}
		},
		"random garbage": func(t *testing.T, path string) {
			st, _ := os.Stat(path)
			b := make([]byte, st.Size())
			r := rand.New(rand.NewPCG(1, 2))
			for i := range b {
				b[i] = byte(r.Uint32())
			}
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
		},
		"garbage in the data pages": func(t *testing.T, path string) {
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			st, _ := f.Stat()
			b := make([]byte, st.Size()-4*int64(os.Getpagesize()))
			r := rand.New(rand.NewPCG(3, 4))
			for i := range b {
				b[i] = byte(r.Uint32())
			}
			if _, err := f.WriteAt(b, 4*int64(os.Getpagesize())); err != nil {
				t.Fatal(err)
			}
		},
	}
	for name, damage := range damages {
		t.Run(name, func(t *testing.T) {
			// Open says what is wrong. It runs on a copy: a file bbolt failed half-way through
			// opening stays locked by this process, which is why OpenOrRebuild moves it aside.
			path, other := filledStore(t), filledStore(t)
			damage(t, path)
			damage(t, other)
			_, err := Open(other)
			var ce *CorruptError
			if !errors.As(err, &ce) || ce.Path != other || !strings.Contains(err.Error(), other) {
				t.Fatalf("Open of a %s file: %v, want a CorruptError naming the file", name, err)
			}

			logs := &testkit.SyncBuffer{}
			db, err := OpenOrRebuild(path, slog.New(slog.NewTextHandler(logs, nil)))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if rev, err := db.KVRevision(); err != nil || rev != 0 {
				t.Fatalf("rebuilt store: revision %d, %v; want an empty store", rev, err)
			}
			aside, _ := filepath.Glob(path + ".corrupt-*")
			if len(aside) != 1 {
				t.Fatalf("moved aside: %v, want one file", aside)
			}
			if out := logs.String(); !strings.Contains(out, "file="+path) || !strings.Contains(out, "moved_to="+aside[0]) {
				t.Errorf("log does not name the file and where it went:\n%s", out)
			}
		})
	}
}

// A healthy store, or none, opens as before and keeps its content.
func TestOpenOrRebuildKeepsAHealthyStore(t *testing.T) {
	path := filledStore(t)
	db, err := OpenOrRebuild(path, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if rev, _ := db.KVRevision(); rev != 42 {
		t.Fatalf("revision %d, want 42", rev)
	}
	if aside, _ := filepath.Glob(path + ".corrupt-*"); len(aside) != 0 {
		t.Fatalf("a healthy store was moved aside: %v", aside)
	}
	if err := CheckFile(filepath.Join(t.TempDir(), "absent.db")); err != nil {
		t.Fatalf("a missing file: %v", err)
	}
}
