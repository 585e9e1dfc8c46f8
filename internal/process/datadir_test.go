package process

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckDataDir(t *testing.T) {
	root := t.TempDir()
	file := filepath.Join(root, "file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	readOnly := filepath.Join(root, "read-only")
	if err := os.Mkdir(readOnly, 0o500); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, dir, want string
		skipAsRoot      bool
	}{
		{name: "missing: created", dir: filepath.Join(root, "a", "b")},
		{name: "existing", dir: root},
		{name: "a file", dir: file, want: "is not a directory"},
		{name: "below a file", dir: filepath.Join(file, "data"), want: "cannot be created"},
		{name: "read-only", dir: readOnly, want: "is not writable", skipAsRoot: true},
		{name: "empty", dir: "", want: "empty path"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.skipAsRoot && os.Geteuid() == 0 {
				t.Skip("root writes into a 0500 directory")
			}
			err := CheckDataDir(tt.dir)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if entries, _ := os.ReadDir(tt.dir); len(entries) != 0 && tt.dir != root {
					t.Errorf("probe left behind: %v", entries)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), tt.dir) {
				t.Fatalf("CheckDataDir(%q) = %v, want an error naming it and saying %q", tt.dir, err, tt.want)
			}
		})
	}
}
