package api

import (
	"context"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/oci-epr/package-registry/internal/index"
	"github.com/oci-epr/package-registry/internal/packages/packagetest"
)

// textContent is n bytes of log-like text: compressible like real package
// files, yet not a run of one byte.
func textContent(n int) []byte {
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "%08d {\"message\":\"GET /index.html 200\",\"host\":\"web-%d\"}\n", i, i%97)
	}
	return []byte(b.String()[:n])
}

// rangeServer runs the real API handler over HTTP, serving the package
// rng_deflate (content deflated) and rng_store (content stored) with content
// as data/file.txt.
func rangeServer(t testing.TB, content []byte) *httptest.Server {
	t.Helper()
	blobs := newFakeBlobs(t)
	s, err := New(DefaultConfig(), blobs, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	deflated := packagetest.Spec{Name: "rng_deflate", Version: "1.0.0", ExtraFiles: map[string][]byte{"data/file.txt": content}}
	stored := packagetest.Spec{Name: "rng_store", Version: "1.0.0", Uncompressed: true, ExtraFiles: map[string][]byte{"data/file.txt": content}}
	s.Load([]*index.Record{specRecord(t, blobs, deflated, false), specRecord(t, blobs, stored, false)})
	s.SetReady(true)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv
}

// descendingRanges is "bytes=" with n one-byte ranges from the end of a
// file of size bytes towards its start.
func descendingRanges(n int, size int64) string {
	specs := make([]string, n)
	for i := range specs {
		off := size - 1 - int64(i)*(size/int64(n))
		specs[i] = fmt.Sprintf("%d-%d", off, off)
	}
	return "bytes=" + strings.Join(specs, ",")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkDescendingRanges measures the process CPU time of the worst Range
// request on a 16 MiB deflated text file: 60 one-byte ranges, last byte first.
//
//	go test -run '^$' -bench DescendingRanges -benchtime 3x ./internal/api/
func BenchmarkDescendingRanges(b *testing.B) {
	const size = 16 << 20
	srv := rangeServer(b, textContent(size))
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/package/rng_deflate/1.0.0/data/file.txt", nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Range", descendingRanges(60, size))
	var cpu time.Duration
	var body int64
	for b.Loop() {
		start := cpuTime()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		cpu += cpuTime() - start
		body += n
	}
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
	b.ReportMetric(float64(body)/float64(b.N), "body-bytes/op")
}

// The range policy over HTTP: a deflated file serves several ranges only in
// ascending order without overlap, a stored file in any order, both at most
// maxRanges; anything else is the whole file with 200.
func TestFileRangePolicy(t *testing.T) {
	content := textContent(256 << 10)
	size := len(content)
	srv := rangeServer(t, content)
	nine := make([]string, 9)
	for i := range nine {
		nine[i] = fmt.Sprintf("%d-%d", i*100, i*100+9)
	}
	eight := strings.Join(nine[:8], ",")
	type want struct {
		status int
		parts  [][2]int // [start, end) of each part; nil for a 200
	}
	full := want{status: 200}
	for _, tc := range []struct {
		name, header    string
		deflate, stored want
	}{
		{"single", "bytes=100-199", want{206, [][2]int{{100, 200}}}, want{206, [][2]int{{100, 200}}}},
		{"suffix", "bytes=-10", want{206, [][2]int{{size - 10, size}}}, want{206, [][2]int{{size - 10, size}}}},
		{"ascending", "bytes=0-9,100-109,5000-5009", want{206, [][2]int{{0, 10}, {100, 110}, {5000, 5010}}},
			want{206, [][2]int{{0, 10}, {100, 110}, {5000, 5010}}}},
		{"ascending with suffix", "bytes=0-9,-10", want{206, [][2]int{{0, 10}, {size - 10, size}}},
			want{206, [][2]int{{0, 10}, {size - 10, size}}}},
		{"adjacent", "bytes=0-9,10-19", want{206, [][2]int{{0, 10}, {10, 20}}}, want{206, [][2]int{{0, 10}, {10, 20}}}},
		{"descending", "bytes=5000-5009,100-109", full, want{206, [][2]int{{5000, 5010}, {100, 110}}}},
		{"suffix first", "bytes=-10,0-9", full, want{206, [][2]int{{size - 10, size}, {0, 10}}}},
		{"overlapping", "bytes=0-9,5-14", full, want{206, [][2]int{{0, 10}, {5, 15}}}},
		{"eight", "bytes=" + eight, want{206, spans8()}, want{206, spans8()}},
		{"nine", "bytes=" + strings.Join(nine, ","), full, full},
		{"sixty descending", descendingRanges(60, int64(size)), full, full},
	} {
		for _, pkg := range []struct {
			name string
			want want
		}{{"rng_deflate", tc.deflate}, {"rng_store", tc.stored}} {
			t.Run(tc.name+"/"+pkg.name, func(t *testing.T) {
				req, _ := http.NewRequest(http.MethodGet, srv.URL+"/package/"+pkg.name+"/1.0.0/data/file.txt", nil)
				req.Header.Set("Range", tc.header)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				if resp.StatusCode != pkg.want.status {
					t.Fatalf("status %d, want %d", resp.StatusCode, pkg.want.status)
				}
				got := readParts(t, resp)
				if pkg.want.status == 200 {
					if len(got) != 1 || got[0] != string(content) {
						t.Fatalf("200 without the whole file")
					}
					return
				}
				if len(got) != len(pkg.want.parts) {
					t.Fatalf("%d parts, want %d", len(got), len(pkg.want.parts))
				}
				for i, p := range pkg.want.parts {
					if got[i] != string(content[p[0]:p[1]]) {
						t.Errorf("part %d: %q, want bytes %d-%d", i, got[i], p[0], p[1]-1)
					}
				}
			})
		}
	}
	// Unsatisfiable and malformed headers keep their 416.
	for _, h := range []string{fmt.Sprintf("bytes=%d-", size), "bytes=9-1,0-1", "bytes=x"} {
		for _, pkg := range []string{"rng_deflate", "rng_store"} {
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/package/"+pkg+"/1.0.0/data/file.txt", nil)
			req.Header.Set("Range", h)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 416 {
				t.Errorf("%s %q: %d, want 416", pkg, h, resp.StatusCode)
			}
		}
	}
}

func spans8() [][2]int {
	out := make([][2]int, 8)
	for i := range out {
		out[i] = [2]int{i * 100, i*100 + 10}
	}
	return out
}

// readParts returns the body of a 200 or single-range 206 as one part, and
// the parts of a multipart/byteranges response.
func readParts(t *testing.T, resp *http.Response) []string {
	t.Helper()
	mt, params, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mt != "multipart/byteranges" {
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return []string{string(b)}
	}
	var parts []string
	mr := multipart.NewReader(resp.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return parts
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(p)
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, string(b))
	}
}

// A request whose client has gone inflates nothing more: the body stops at
// the first read after the context ends.
func TestFileReadStopsWithRequest(t *testing.T) {
	content := textContent(4 << 20)
	blobs := newFakeBlobs(t)
	s, err := New(DefaultConfig(), blobs, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Load([]*index.Record{specRecord(t, blobs, packagetest.Spec{Name: "rng_deflate", Version: "1.0.0",
		ExtraFiles: map[string][]byte{"data/file.txt": content}}, false)})
	s.SetReady(true)
	const target = "/package/rng_deflate/1.0.0/data/file.txt"
	warm := httptest.NewRecorder()
	s.ServeHTTP(warm, httptest.NewRequest(http.MethodGet, target, nil))
	if warm.Code != 200 || warm.Body.Len() != len(content) {
		t.Fatalf("warm-up: %d, %d bytes", warm.Code, warm.Body.Len())
	}
	for i := 0; i < 20; i++ { // the archive is cached: every round takes the hit path
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		w := httptest.NewRecorder()
		s.ServeHTTP(w, httptest.NewRequest(http.MethodGet, target, nil).WithContext(ctx))
		if w.Code == http.StatusInternalServerError {
			t.Fatalf("a gone client's request is a server error: %q", w.Body.String())
		}
		if w.Body.Len() >= len(content) {
			t.Fatalf("served all %d bytes to a client that had gone", w.Body.Len())
		}
	}
}
