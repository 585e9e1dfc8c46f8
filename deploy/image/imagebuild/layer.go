package imagebuild

import (
	"archive/tar"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
	"time"
)

// entry is one file or directory of a layer. Layers are written in a fixed order with fixed
// times and owners, so the same inputs give the same digests.
type entry struct {
	name string // without leading slash
	mode int64
	uid  int
	gid  int
	dir  bool
	// data, or src: a file on disk copied in.
	data []byte
	src  string
}

// baseEntries is the distroless-like base: no shell, no package manager; the CA bundle, the
// users, the name service switch Go's resolver reads, /tmp, and the data directories owned by
// the non-root user (a volume mounted there starts with that ownership).
func baseEntries(caCerts []byte) []entry {
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%d:%d:nonroot:/home/nonroot:/sbin/nologin\n", UID, GID)
	group := fmt.Sprintf("root:x:0:\nnonroot:x:%d:\n", GID)
	return []entry{
		{name: "etc", mode: 0o755, dir: true},
		{name: "etc/group", mode: 0o644, data: []byte(group)},
		{name: "etc/nsswitch.conf", mode: 0o644, data: []byte("hosts: files dns\n")},
		{name: "etc/passwd", mode: 0o644, data: []byte(passwd)},
		{name: "etc/ssl", mode: 0o755, dir: true},
		{name: "etc/ssl/certs", mode: 0o755, dir: true},
		{name: strings.TrimPrefix(CACertsPath, "/"), mode: 0o644, data: caCerts},
		{name: "home", mode: 0o755, dir: true},
		{name: "home/nonroot", mode: 0o700, uid: UID, gid: GID, dir: true},
		{name: "root", mode: 0o700, dir: true},
		{name: "tmp", mode: 0o1777, dir: true},
		{name: "var", mode: 0o755, dir: true},
		{name: "var/lib", mode: 0o755, dir: true},
		{name: strings.TrimPrefix(DataRoot, "/"), mode: 0o755, uid: UID, gid: GID, dir: true},
		{name: strings.TrimPrefix(DataRoot, "/") + "/api", mode: 0o755, uid: UID, gid: GID, dir: true},
		{name: strings.TrimPrefix(DataRoot, "/") + "/indexer", mode: 0o755, uid: UID, gid: GID, dir: true},
	}
}

// binaryEntries puts each built binary (in dir, named as in the manifest) into BinDir.
func binaryEntries(dir string, bins []Binary) []entry {
	es := []entry{
		{name: "usr", mode: 0o755, dir: true},
		{name: "usr/local", mode: 0o755, dir: true},
		{name: strings.TrimPrefix(BinDir, "/"), mode: 0o755, dir: true},
	}
	sorted := append([]Binary(nil), bins...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	for _, b := range sorted {
		es = append(es, entry{name: path.Join(strings.TrimPrefix(BinDir, "/"), b.Name), mode: 0o755, src: path.Join(dir, b.Name)})
	}
	return es
}

// writeTar writes entries as an uncompressed tar with every time set to mtime.
func writeTar(w io.Writer, entries []entry, mtime time.Time) error {
	tw := tar.NewWriter(w)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: e.mode, Uid: e.uid, Gid: e.gid, ModTime: mtime, Format: tar.FormatPAX}
		if e.dir {
			h.Typeflag = tar.TypeDir
			h.Name += "/"
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
			continue
		}
		h.Typeflag = tar.TypeReg
		if e.src == "" {
			h.Size = int64(len(e.data))
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
			if _, err := tw.Write(e.data); err != nil {
				return err
			}
			continue
		}
		if err := copyFile(tw, h, e.src); err != nil {
			return err
		}
	}
	return tw.Close()
}

func copyFile(tw *tar.Writer, h *tar.Header, src string) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	h.Size = st.Size()
	if err := tw.WriteHeader(h); err != nil {
		return err
	}
	_, err = io.Copy(tw, f)
	return err
}
