package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/oci-epr/package-registry/internal/index"
	"github.com/oci-epr/package-registry/internal/packages"
	"github.com/oci-epr/package-registry/internal/packages/packagetest"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

var fixedIndexedAt = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

// fakeBlobs is a Blobs over files in a temporary directory.
type fakeBlobs struct {
	dir   string
	mu    sync.Mutex
	paths map[string]string // digest → file
	opens map[string]int
	fail  error
	delay time.Duration
}

func newFakeBlobs(t testing.TB) *fakeBlobs {
	return &fakeBlobs{dir: t.TempDir(), paths: map[string]string{}, opens: map[string]int{}}
}

func (b *fakeBlobs) add(t testing.TB, data []byte, mediaType string) index.Blob {
	sum := sha256.Sum256(data)
	digest := "sha256:" + hex.EncodeToString(sum[:])
	p := filepath.Join(b.dir, hex.EncodeToString(sum[:]))
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	b.mu.Lock()
	b.paths[digest] = p
	b.mu.Unlock()
	return index.Blob{Digest: digest, Size: int64(len(data)), MediaType: mediaType}
}

// Open reports a blob as cached from its second open on, as a disk cache would.
func (b *fakeBlobs) Open(_ context.Context, _ string, desc ocispec.Descriptor) (*os.File, bool, error) {
	if b.delay > 0 {
		time.Sleep(b.delay)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	d := desc.Digest.String()
	b.opens[d]++
	if b.fail != nil {
		return nil, false, b.fail
	}
	p, ok := b.paths[d]
	if !ok {
		return nil, false, errors.New("blob unknown")
	}
	f, err := os.Open(p)
	return f, b.opens[d] > 1, err
}

func (b *fakeBlobs) openCount(digest string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.opens[digest]
}

func (b *fakeBlobs) setFail(err error) {
	b.mu.Lock()
	b.fail = err
	b.mu.Unlock()
}

// specRecord builds the zip of a generated package, stores it in blobs and
// returns its record after a round trip through index.Encode/Decode, the
// way records reach the API from the store.
func specRecord(t testing.TB, blobs *fakeBlobs, s packagetest.Spec, signed bool) *index.Record {
	t.Helper()
	zb := packagetest.Build(s)
	doc, _, err := packages.ReadBytes(zb, packages.Options{HasSignature: signed})
	if err != nil {
		t.Fatalf("%s %s: %v", s.Name, s.Version, err)
	}
	raw, err := packages.Encode(doc)
	if err != nil {
		t.Fatal(err)
	}
	rec := &index.Record{
		Name: doc.Name, Version: doc.Version, Document: raw,
		Repository: "packages/" + doc.Name, Tag: strings.ReplaceAll(doc.Version, "+", "_"),
		ManifestDigest: "sha256:" + strings.Repeat("0", 64),
		Zip:            blobs.add(t, zb, "application/vnd.elastic.package.content.v1+zip"),
		IndexedAt:      fixedIndexedAt,
	}
	if signed {
		sig := blobs.add(t, []byte("-----BEGIN PGP SIGNATURE-----\n\n"+s.Name+"\n-----END PGP SIGNATURE-----\n"), "application/pgp-signature")
		rec.Signature = &sig
	}
	enc, err := index.Encode(rec)
	if err != nil {
		t.Fatal(err)
	}
	out, err := index.Decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// docRecord wraps a hand-made document in a record (query tests need no
// zip).
func docRecord(t testing.TB, p *packages.Package) *index.Record {
	t.Helper()
	raw, err := packages.Encode(p)
	if err != nil {
		t.Fatal(err)
	}
	return &index.Record{Name: p.Name, Version: p.Version, Document: raw, Repository: "packages/" + p.Name,
		Zip: index.Blob{Digest: "sha256:" + p.Name + p.Version}, IndexedAt: fixedIndexedAt}
}

// fixtureSpecs is the package set of the handler tests.
func fixtureSpecs() []struct {
	spec   packagetest.Spec
	signed bool
} {
	older := packagetest.Integration()
	older.Version = "1.1.0"
	older.KibanaVersion = "^8.10.0"
	withFiles := packagetest.Integration()
	withFiles.ExtraFiles["docs/notes.txt"] = []byte("plain notes\n")
	withFiles.ExtraFiles["agent/stream/x.hbs"] = []byte("{{x}}\n")
	withFiles.ExtraFiles["img/photo.jpg"] = []byte("\xff\xd8\xff\xe0 not really a jpeg")
	withFiles.ExtraFiles["img/anim.gif"] = []byte("GIF89a")
	withFiles.ExtraFiles["img/pic.webp"] = []byte("RIFF....WEBP")
	withFiles.ExtraFiles["img/fav.ico"] = []byte("\x00\x00\x01\x00")
	withFiles.ExtraFiles["docs/data.bin"] = []byte{0, 1, 2, 3, 0xfe}
	withFiles.ExtraFiles["docs/escape <&>.md"] = []byte("# odd name\n")
	return []struct {
		spec   packagetest.Spec
		signed bool
	}{
		{withFiles, true},
		{older, false},
		{packagetest.Prerelease(), false},
		{packagetest.InputPackage(), false},
		{packagetest.ContentPackage(), false},
		{packagetest.ZeroX(), false},
		{packagetest.WithConditions(), false},
		{packagetest.DeprecatedPackage(), false},
		{packagetest.Experimental(), false},
		{packagetest.WithDiscovery(), false},
		{packagetest.DottedKeys(), false},
	}
}

// fixtureRecords are the records of fixtureSpecs.
func fixtureRecords(t testing.TB, blobs *fakeBlobs) []*index.Record {
	var recs []*index.Record
	for _, f := range fixtureSpecs() {
		recs = append(recs, specRecord(t, blobs, f.spec, f.signed))
	}
	return recs
}

type testServer struct {
	*Server
	blobs *fakeBlobs
	reg   *prometheus.Registry
	recs  []*index.Record
}

// newTestServer serves the fixture packages (none when empty is set).
func newTestServer(t testing.TB, cfg Config, empty bool) *testServer {
	t.Helper()
	blobs := newFakeBlobs(t)
	reg := prometheus.NewRegistry()
	cfg.Instance = "test-host"
	cfg.ServiceVersion = "1.0.0-test"
	s, err := New(cfg, blobs, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{Server: s, blobs: blobs, reg: reg}
	if !empty {
		ts.recs = fixtureRecords(t, blobs)
		s.Load(ts.recs)
	}
	s.SetReady(true)
	return ts
}

func (ts *testServer) do(method, target string, hdr ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	ts.ServeHTTP(w, req)
	return w
}

func (ts *testServer) get(target string, hdr ...string) *httptest.ResponseRecorder {
	return ts.do(http.MethodGet, target, hdr...)
}

func (ts *testServer) record(name, version string) *index.Record {
	for _, r := range ts.recs {
		if r.Name == name && r.Version == version {
			return r
		}
	}
	return nil
}

func (ts *testServer) zipBytes(t testing.TB, name, version string) []byte {
	t.Helper()
	r := ts.record(name, version)
	f, _, err := ts.blobs.Open(context.Background(), r.Repository, ocispec.Descriptor{Digest: digest.Digest(r.Zip.Digest), Size: r.Zip.Size})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkGolden compares got with testdata/<name>, rewriting it with -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it)\n--- got\n%s", name, got)
	}
}
