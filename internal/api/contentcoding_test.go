package api

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/oci-epr/package-registry/internal/packages"
)

func TestNegotiateCoding(t *testing.T) {
	for _, tc := range []struct {
		lines []string
		want  coding
	}{
		{nil, codingIdentity},
		{[]string{""}, codingIdentity},
		{[]string{"gzip,deflate"}, codingGzip}, // Kibana's Fleet client (node-fetch defaults)
		{[]string{"gzip, deflate, br, zstd"}, codingZstd},
		{[]string{"br"}, codingIdentity},
		{[]string{"deflate"}, codingIdentity},
		{[]string{"GZIP"}, codingGzip},
		{[]string{"x-gzip"}, codingGzip},
		{[]string{"gzip;q=1, zstd;q=0.5"}, codingGzip},
		{[]string{"gzip;q=0.002, zstd;q=0.001"}, codingGzip},
		{[]string{"gzip;q=0.1", "zstd;q=0.2"}, codingZstd}, // several field lines
		{[]string{"gzip;q=0"}, codingIdentity},
		{[]string{"gzip;q=0.5, identity"}, codingIdentity}, // the client prefers it plain
		{[]string{"gzip;q=0.5, identity;q=0.5"}, codingGzip},
		{[]string{"identity;q=0, gzip"}, codingGzip},
		{[]string{"identity;q=0"}, codingIdentity}, // nothing else acceptable: plain anyway
		{[]string{"identity;q=0, br"}, codingIdentity},
		{[]string{"*"}, codingZstd},
		{[]string{"*;q=0"}, codingIdentity},
		{[]string{"*;q=0.5, gzip;q=0"}, codingZstd},
		{[]string{"*, zstd;q=0"}, codingGzip},
		{[]string{"gzip ; q=0.8 , zstd ; Q=0.9"}, codingZstd},
		{[]string{"gzip;level=9"}, codingGzip}, // unknown parameter: ignored
		{[]string{"gzip;q=abc"}, codingIdentity},
		{[]string{"gzip;q=1.5"}, codingIdentity},
		{[]string{"gzip;q=0.1234"}, codingIdentity},
		{[]string{"gzip;q=-1"}, codingIdentity},
		{[]string{"gzip;q=0.+1"}, codingIdentity},
		{[]string{"gzip;q=1.000"}, codingGzip},
		{[]string{"gzip;q=1."}, codingGzip},
		{[]string{",,gzip,,"}, codingGzip},
	} {
		if got := negotiateCoding(tc.lines); got != tc.want {
			t.Errorf("%q: %s, want %s", tc.lines, got.name(), tc.want.name())
		}
	}
}

func FuzzNegotiateCoding(f *testing.F) {
	for _, s := range []string{"gzip,deflate", "gzip;q=0.5, zstd;q=1", "*;q=0", "identity;q=0, br", "x-gzip;q=1."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if c := negotiateCoding([]string{s}); c >= codings {
			t.Fatalf("%q: coding %d", s, c)
		}
	})
}

// decode undoes a response's Content-Encoding.
func decode(t *testing.T, ce string, body []byte) []byte {
	t.Helper()
	var r io.Reader
	switch ce {
	case "":
		return body
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	case "zstd":
		zr, err := zstd.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		r = zr
	default:
		t.Fatalf("unexpected Content-Encoding %q", ce)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("decoding %s: %v", ce, err)
	}
	return out
}

// largestFile is the path of the package's biggest file of the given extension.
func largestFile(t *testing.T, zip []byte, ext string) string {
	t.Helper()
	arch, err := packages.OpenArchiveBytes(zip, packages.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	best, size := "", int64(0)
	for _, fe := range arch.Files() {
		if strings.HasSuffix(fe.Rel, ext) && fe.Size > size {
			best, size = fe.Rel, fe.Size
		}
	}
	if size < minCompressBytes {
		t.Fatalf("no %s file of at least %d bytes in the fixture", ext, minCompressBytes)
	}
	return best
}

// TestCompressedResponses: every JSON and text route answers gzip and zstd to a client that
// accepts them, with bytes that decode to the plain answer, an ETag of its own, Vary, and a
// 304 for its own ETag only; a client that accepts neither gets today's bytes and headers.
func TestCompressedResponses(t *testing.T) {
	ts := newTestServer(t, DefaultConfig(), false)
	file := "/package/acme_logs/1.2.0/" + largestFile(t, ts.zipBytes(t, "acme_logs", "1.2.0"), ".yml")
	for _, target := range []string{
		"/search?all=true&prerelease=true",
		"/search",
		"/search?category=observability",
		"/categories",
		"/package/acme_logs/1.2.0/",
		"/openapi.yaml",
		file,
	} {
		t.Run(target, func(t *testing.T) {
			plain := ts.get(target)
			if plain.Code != 200 {
				t.Fatalf("plain: %d %s", plain.Code, plain.Body)
			}
			if ce := plain.Header().Get("Content-Encoding"); ce != "" {
				t.Fatalf("Content-Encoding %q without Accept-Encoding", ce)
			}
			want := plain.Body.Bytes()
			etags := map[string]string{"": plain.Header().Get("Etag")}
			for _, tc := range []struct{ accept, ce string }{
				{"gzip,deflate", "gzip"},
				{"gzip, deflate, br, zstd", "zstd"},
				{"zstd;q=0.5, gzip", "gzip"},
				{"identity;q=0, zstd", "zstd"},
				{"br", ""},
			} {
				w := ts.get(target, "Accept-Encoding", tc.accept)
				if w.Code != 200 {
					t.Fatalf("%s: %d", tc.accept, w.Code)
				}
				h := w.Header()
				if got := h.Get("Content-Encoding"); got != tc.ce {
					t.Fatalf("%s: Content-Encoding %q, want %q", tc.accept, got, tc.ce)
				}
				if got := h.Get("Vary"); got != "Accept-Encoding" {
					t.Errorf("%s: Vary %q", tc.accept, got)
				}
				if got := h.Get("Content-Length"); got != "" && got != strconv.Itoa(w.Body.Len()) {
					t.Errorf("%s: Content-Length %s for %d bytes", tc.accept, got, w.Body.Len())
				}
				got := decode(t, tc.ce, w.Body.Bytes())
				if !bytes.Equal(got, want) {
					t.Fatalf("%s: decodes to %d bytes that differ from the plain %d", tc.accept, len(got), len(want))
				}
				if tc.ce != "" && w.Body.Len() >= len(want) {
					t.Errorf("%s: %d bytes, not smaller than the plain %d", tc.accept, w.Body.Len(), len(want))
				}
				if prev, seen := etags[tc.ce]; seen && prev != h.Get("Etag") {
					t.Errorf("%s: ETag %s, earlier %s for the same coding", tc.accept, h.Get("Etag"), prev)
				}
				etags[tc.ce] = h.Get("Etag")
			}
			if len(etags) != 3 || etags[""] == etags["gzip"] || etags[""] == etags["zstd"] || etags["gzip"] == etags["zstd"] {
				t.Fatalf("ETags not distinct per coding: %q", etags)
			}
			// 304 for the form the client holds, 200 with the right form for another one.
			for ce, etag := range etags {
				for _, other := range []string{"", "gzip", "zstd"} {
					accept := map[string]string{"": "identity", "gzip": "gzip", "zstd": "zstd"}[other]
					w := ts.get(target, "Accept-Encoding", accept, "If-None-Match", etag)
					wantCode := 200
					if other == ce {
						wantCode = 304
					}
					if w.Code != wantCode {
						t.Errorf("holding the %q form, asking %q: %d, want %d", ce, accept, w.Code, wantCode)
					}
					if w.Code == 304 && (w.Body.Len() != 0 || w.Header().Get("Etag") != etag) {
						t.Errorf("304 with %d bytes, ETag %q", w.Body.Len(), w.Header().Get("Etag"))
					}
				}
			}
		})
	}
}

// TestUncompressedRoutesStayAsTheyAre: zips, signatures, images and small bodies are sent as
// they are, whatever the client accepts, and say nothing about Accept-Encoding.
func TestUncompressedRoutesStayAsTheyAre(t *testing.T) {
	ts := newTestServer(t, DefaultConfig(), false)
	zip := ts.zipBytes(t, "acme_logs", "1.2.0")
	for _, target := range []string{"/", "/index.json", "/favicon.ico", "/epr/acme_logs/acme_logs-1.2.0.zip", "/health"} {
		for _, hdr := range [][]string{nil, {"Accept-Encoding", "gzip, zstd"}} {
			w := ts.get(target, hdr...)
			if w.Code != 200 {
				t.Fatalf("%s %q: %d", target, hdr, w.Code)
			}
			if ce, vary := w.Header().Get("Content-Encoding"), w.Header().Get("Vary"); ce != "" || vary != "" {
				t.Errorf("%s %q: Content-Encoding %q, Vary %q", target, hdr, ce, vary)
			}
		}
	}
	// A byte range of a zip is untouched, Accept-Encoding or not.
	w := ts.get("/epr/acme_logs/acme_logs-1.2.0.zip", "Accept-Encoding", "gzip", "Range", "bytes=10-19")
	if w.Code != http.StatusPartialContent || !bytes.Equal(w.Body.Bytes(), zip[10:20]) || w.Header().Get("Content-Encoding") != "" {
		t.Fatalf("zip range: %d %q, Content-Encoding %q", w.Code, w.Body.Bytes(), w.Header().Get("Content-Encoding"))
	}
	// A range of a text file names identity bytes: it gets them, not a compressed form.
	file := "/package/acme_logs/1.2.0/" + largestFile(t, zip, ".yml")
	full := ts.get(file).Body.Bytes()
	w = ts.get(file, "Accept-Encoding", "gzip", "Range", "bytes=5-24")
	if w.Code != http.StatusPartialContent || !bytes.Equal(w.Body.Bytes(), full[5:25]) || w.Header().Get("Content-Encoding") != "" {
		t.Fatalf("file range: %d %q, Content-Encoding %q", w.Code, w.Body.Bytes(), w.Header().Get("Content-Encoding"))
	}
}

// TestCompressedOncePerSnapshot: the compressed form of a cached list body is made once and
// then served from the cache, the same bytes each time, until the index changes.
func TestCompressedOncePerSnapshot(t *testing.T) {
	ts := newTestServer(t, DefaultConfig(), false)
	first := ts.get("/search?all=true&prerelease=true", "Accept-Encoding", "gzip")
	snap := ts.Catalog().Snapshot()
	resp, ok := snap.cache.get(cacheKey{kindSearch, "all=true&prerelease=true"})
	if !ok {
		t.Fatal("the plain body is not cached")
	}
	enc := resp.coded[codingGzip-1].enc.Load()
	if enc == nil || !bytes.Equal(enc.body, first.Body.Bytes()) {
		t.Fatal("the gzip form is not kept with the cached response")
	}
	again := ts.get("/search?all=true&prerelease=true", "Accept-Encoding", "gzip")
	if resp.coded[codingGzip-1].enc.Load() != enc || !bytes.Equal(again.Body.Bytes(), first.Body.Bytes()) {
		t.Fatal("the gzip form was made again")
	}
}

// TestPlainBodyOnlyWhileAsked: a list body asked for compressed first is held compressed only;
// a client sending no Accept-Encoding still gets exactly the golden bytes and the same ETag
// (rendered again, then kept), and revalidates them with a 304.
func TestPlainBodyOnlyWhileAsked(t *testing.T) {
	ts := newTestServer(t, DefaultConfig(), false)
	const target = "/search?all=true&prerelease=true"
	golden, err := os.ReadFile(filepath.Join("testdata", "search_all_prerelease.json"))
	if err != nil {
		t.Fatal(err)
	}
	gz := ts.get(target, "Accept-Encoding", "gzip,deflate") // what Kibana's Fleet client sends
	if gz.Code != 200 || gz.Header().Get("Content-Encoding") != "gzip" || !bytes.Equal(decode(t, "gzip", gz.Body.Bytes()), golden) {
		t.Fatalf("gzip: %d %q", gz.Code, gz.Header().Get("Content-Encoding"))
	}
	resp, ok := ts.Catalog().Snapshot().cache.get(cacheKey{kindSearch, "all=true&prerelease=true"})
	if !ok {
		t.Fatal("not cached")
	}
	if resp.plain.Load() != nil {
		t.Error("the plain body is held though only a compressed form was asked for")
	}
	zs := ts.get(target, "Accept-Encoding", "zstd") // compressed from a body rendered again
	if zs.Header().Get("Content-Encoding") != "zstd" || !bytes.Equal(decode(t, "zstd", zs.Body.Bytes()), golden) {
		t.Fatalf("zstd: %q", zs.Header().Get("Content-Encoding"))
	}
	if resp.plain.Load() != nil {
		t.Error("the plain body rendered for zstd was kept")
	}
	wantETag := strings.TrimSuffix(gz.Header().Get("Etag"), `-gzip"`) + `"`
	plain := ts.get(target)
	if plain.Code != 200 || !bytes.Equal(plain.Body.Bytes(), golden) || plain.Header().Get("Etag") != wantETag ||
		plain.Header().Get("Content-Length") != strconv.Itoa(len(golden)) || plain.Header().Get("Content-Encoding") != "" {
		t.Fatalf("plain after compressed: %d, ETag %q (want %q), %d bytes (golden %d)", plain.Code, plain.Header().Get("Etag"), wantETag, plain.Body.Len(), len(golden))
	}
	if resp.plain.Load() == nil {
		t.Error("the plain body a client asked for is not kept")
	}
	if w := ts.get(target, "If-None-Match", wantETag); w.Code != http.StatusNotModified {
		t.Errorf("plain revalidation: %d", w.Code)
	}
	if w := ts.get(target, "Accept-Encoding", "gzip"); !bytes.Equal(w.Body.Bytes(), gz.Body.Bytes()) {
		t.Error("the gzip form changed")
	}
}

// TestCompressedBodyHoldsItsLength: a compressed body kept for a snapshot does not keep the
// room its encoder's buffer was given (a sixth of the body for gzip, an eighth for zstd).
func TestCompressedBodyHoldsItsLength(t *testing.T) {
	body := bytes.Repeat([]byte(`{"name":"acme_logs","version":"1.2.0","title":"Acme logs"},`+"\n"), 20000)
	for _, c := range []coding{codingGzip, codingZstd} {
		out := compressBody(c, body)
		if len(out) == 0 || cap(out)-len(out) > len(out)/8 {
			t.Errorf("%s: %d bytes in a slice of capacity %d", c.name(), len(out), cap(out))
		}
		if got := decode(t, c.name(), out); !bytes.Equal(got, body) {
			t.Errorf("%s: does not decode to the body", c.name())
		}
	}
}

// TestPlainAndCompressedAtOnce: clients asking for every coding at the same moment, while the
// plain body is dropped and rendered again, each get bytes that decode to the golden file.
func TestPlainAndCompressedAtOnce(t *testing.T) {
	ts := newTestServer(t, DefaultConfig(), false)
	golden, err := os.ReadFile(filepath.Join("testdata", "search_all_prerelease.json"))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 24 {
		ce := []string{"", "gzip", "zstd"}[i%3]
		wg.Go(func() {
			var w *httptest.ResponseRecorder
			if ce == "" {
				w = ts.get("/search?all=true&prerelease=true")
			} else {
				w = ts.get("/search?all=true&prerelease=true", "Accept-Encoding", ce)
			}
			if got := w.Header().Get("Content-Encoding"); w.Code != 200 || got != ce {
				t.Errorf("%q: %d, Content-Encoding %q", ce, w.Code, got)
				return
			}
			if !bytes.Equal(decode(t, ce, w.Body.Bytes()), golden) {
				t.Errorf("%q: does not decode to the golden bytes", ce)
			}
		})
	}
	wg.Wait()
}
