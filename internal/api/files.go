package api

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"path"
	"strconv"
	"strings"

	"github.com/cespare/xxhash/v2"
	"github.com/labstack/echo/v4"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-epr/package-registry/internal/index"
	"github.com/oci-epr/package-registry/internal/packages"
)

// contentTypes is the fixed table of epr-api.md §7, independent of the
// host's MIME table. Other extensions are sniffed.
var contentTypes = map[string]string{
	".zip":  "application/zip",
	".sig":  "application/pgp-signature",
	".md":   "text/markdown; charset=utf-8",
	".yml":  "text/yaml; charset=UTF-8",
	".ico":  "image/x-icon",
	".json": "application/json",
	".svg":  "image/svg+xml",
	".png":  "image/png",
	".jpg":  "image/jpeg",
	".jpeg": "image/jpeg",
	".gif":  "image/gif",
	".webp": "image/webp",
}

var errNoBlobs = errors.New("no blob store configured")

const (
	labelZip = "/epr/{any}/{n}-{v}.zip"
	labelSig = "/epr/{any}/{n}-{v}.zip.sig"
)

// handleEPR serves /epr/{any}/{n}-{v}.zip and .zip.sig. echo's last
// parameter takes the rest of the path, slashes included, so the file name
// is checked here.
func (s *Server) handleEPR(c echo.Context, snap *Snapshot) string {
	file, ok := pathParam(c, "file")
	if !ok {
		return s.pageNotFound(c)
	}
	if strings.Contains(file, "/") {
		if trimmed := strings.TrimSuffix(file, "/"); !strings.Contains(trimmed, "/") && validArtifactName(trimmed) {
			return s.redirect(func(esc string) string { return strings.TrimSuffix(esc, "/") })(c, snap)
		}
		return s.pageNotFound(c)
	}
	if !validArtifactName(file) {
		return s.pageNotFound(c)
	}
	sig := strings.HasSuffix(file, ".zip.sig")
	base := strings.TrimSuffix(strings.TrimSuffix(file, ".sig"), ".zip")
	name, version, _ := strings.Cut(base, "-")
	label := labelZip
	if sig {
		label = labelSig
	}
	if !packages.IsStrictSemver(version) {
		s.writeError(c, http.StatusBadRequest, "invalid package version", ccNoStore)
		return label
	}
	e, found := snap.Lookup(name, version)
	if !found && s.redirectUpstream(c) {
		return label
	}
	if sig {
		// A known but unsigned version is a 404 too (EPR answers 500).
		if !found || e.rec.Signature == nil {
			s.writeError(c, http.StatusNotFound, "signature file not found", ccNoStore)
			return label
		}
		s.serveBlob(c, e, *e.rec.Signature, "application/pgp-signature", "signatures")
		return label
	}
	if !found {
		s.writeError(c, http.StatusNotFound, "artifact not found", ccNoStore)
		return label
	}
	s.serveBlob(c, e, e.rec.Zip, "application/zip", "artifacts")
	return label
}

// validArtifactName: "<n>-<v>.zip" or ".zip.sig" with n in [a-z0-9_]+ and a
// non-empty version (checked for semver later, to answer 400 rather than 404).
func validArtifactName(file string) bool {
	base, ok := strings.CutSuffix(file, ".zip.sig")
	if !ok {
		if base, ok = strings.CutSuffix(file, ".zip"); !ok {
			return false
		}
	}
	name, version, ok := strings.Cut(base, "-")
	return ok && version != "" && packages.IsValidName(name)
}

// serveBlob streams a stored blob unchanged, with ranges and conditional
// requests. Last-Modified is the record's IndexedAt rather than the cache
// file's mtime: it is the same on every replica and survives cache eviction,
// so conditional requests behave alike behind a load balancer.
func (s *Server) serveBlob(c echo.Context, e *Entry, blob index.Blob, contentType, component string) {
	w := c.Response()
	h := w.Header()
	// Set before the blob is opened: once the package is found, EPR's
	// errors carry the catch-all cache headers too (§6).
	h[hCacheControl] = s.ccCatch
	content, closeFn, err := s.openBlob(c.Request().Context(), e, blob, component)
	if err != nil {
		s.log.Error("opening blob failed", "package", e.Package.Name, "version", e.Package.Version,
			"digest", blob.Digest, "err", err)
		s.writeError(c, http.StatusInternalServerError, "internal server error", s.ccCatch)
		return
	}
	defer closeFn()
	h[hContentType] = []string{contentType}
	if blob.Digest != "" {
		h[hETag] = []string{`"` + blob.Digest + `"`}
	}
	http.ServeContent(readFromWriter{w}, c.Request(), "", e.rec.IndexedAt, content)
}

// openBlob returns the blob's content: mock blobs from memory, others
// through Blobs.
func (s *Server) openBlob(ctx context.Context, e *Entry, blob index.Blob, component string) (io.ReadSeeker, func(), error) {
	if e.mock {
		data, ok := s.mockZips[blob.Digest]
		if !ok {
			return nil, nil, errors.New("mock blob missing")
		}
		s.metrics.storage.WithLabelValues("local", component).Inc()
		return bytes.NewReader(data), func() {}, nil
	}
	if s.blobs == nil {
		return nil, nil, errNoBlobs
	}
	d, err := digest.Parse(blob.Digest)
	if err != nil {
		return nil, nil, err
	}
	desc := ocispec.Descriptor{MediaType: blob.MediaType, Digest: d, Size: blob.Size}
	f, cached, err := s.blobs.Open(ctx, e.rec.Repository, desc)
	if err != nil {
		return nil, nil, err
	}
	location := "remote"
	if cached {
		location = "local"
		s.metrics.cacheHit.Inc()
	} else {
		s.metrics.cacheMiss.Inc()
	}
	s.metrics.storage.WithLabelValues(location, component).Inc()
	return f, func() { _ = f.Close() }, nil
}

// handleFile serves /package/{n}/{v}/{file...} from the package zip.
func (s *Server) handleFile(c echo.Context, snap *Snapshot) string {
	const label = "/package/{n}/{v}/{file...}"
	name, version, ok := s.nameVersion(c)
	if !ok {
		return label
	}
	e, found := snap.Lookup(name, version)
	if !found {
		s.versionNotHeld(c)
		return label
	}
	rel, ok := pathParam(c, "*")
	// One file, one URL: "//", a leading "/" or an escaped "/" (%2f, which pathParam decodes)
	// would name the same entry under another URL (and another cache entry at every CDN).
	if !ok || strings.HasPrefix(rel, "/") || strings.Contains(rel, "//") || escapedSlash(c) {
		s.writeError(c, http.StatusNotFound, "resource not found", ccNoStore)
		return label
	}
	w := c.Response()
	h := w.Header()
	h[hCacheControl] = s.ccCatch
	arch, err := s.openArchive(c.Request().Context(), e)
	if err != nil {
		s.log.Error("opening package archive failed", "package", name, "version", version, "err", err)
		s.writeError(c, http.StatusInternalServerError, "internal server error", s.ccCatch)
		return label
	}
	defer s.archives.release(arch)
	fe, ok := arch.arch.Lookup(rel)
	if !ok {
		// EPR caches this 404 for 10 minutes; ours does not, so a file
		// that appears with a re-push is not hidden (§6 "Ours").
		s.writeError(c, http.StatusNotFound, "resource not found", ccNoStore)
		return label
	}
	ct, known := contentTypes[strings.ToLower(path.Ext(rel))]
	if known {
		h[hContentType] = []string{ct}
	}
	// The zip is immutable for its digest, so digest+path names the bytes.
	etag := `"` + strconv.FormatUint(xxhash.Sum64String(e.rec.Zip.Digest+"\x00"+rel), 16)
	req := c.Request()
	s.applyRangePolicy(req, fe)
	r := openEntry(req.Context(), arch.arch, fe)
	defer r.Close()
	var content io.ReadSeeker = r
	if known && compressibleType(ct) && fe.Size >= minCompressBytes && fe.Size <= maxCompressedFile {
		h[hVary] = valAcceptEncoding
		// A range names bytes of the identity form, so a request with one gets that form.
		if cd := negotiateCoding(req.Header[hAcceptEncoding]); cd != codingIdentity && req.Header.Get("Range") == "" {
			etag += "-" + cd.name()
			h[hContentEncoding] = []string{cd.name()}
			content = &compressedEntry{src: r, coding: cd}
		}
	}
	h[hETag] = []string{etag + `"`}
	// An empty name makes ServeContent sniff unknown types rather than
	// consult the host's MIME table.
	http.ServeContent(w, req, "", fe.Modified, content)
	return label
}

// maxCompressedFile bounds the files compressed per request, and so the buffer that takes
// one: larger ones (rare in a package: big dashboards) are sent as they are.
const maxCompressedFile = 1 << 20

// compressedEntry is a file's compressed form for http.ServeContent, made on its first read
// or seek: a request answered 304 by the preconditions costs no compression.
type compressedEntry struct {
	src    io.Reader
	coding coding
	r      *bytes.Reader
	err    error
}

func (c *compressedEntry) load() error {
	if c.r == nil && c.err == nil {
		var data []byte
		if data, c.err = io.ReadAll(io.LimitReader(c.src, maxCompressedFile+1)); c.err == nil {
			c.r = bytes.NewReader(compressBody(c.coding, data))
		}
	}
	return c.err
}

func (c *compressedEntry) Read(p []byte) (int, error) {
	if err := c.load(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

func (c *compressedEntry) Seek(off int64, whence int) (int64, error) {
	if err := c.load(); err != nil {
		return 0, err
	}
	return c.r.Seek(off, whence)
}

// escapedSlash reports a "%2f" in the file parameter as the client sent it. echo hands out the
// escaped form only when the request has a RawPath; without one the parameter is already
// decoded, and a "%2f" in it is a literal "%2f" of the file name (sent as "%252f").
func escapedSlash(c echo.Context) bool {
	if c.Request().URL.RawPath == "" {
		return false
	}
	raw := c.Param("*")
	return strings.Contains(raw, "%2f") || strings.Contains(raw, "%2F")
}

// openArchive returns the package zip opened for reading single files,
// shared between requests (opening checks the whole zip, which is worth
// doing once, not per file).
func (s *Server) openArchive(ctx context.Context, e *Entry) (*cachedArchive, error) {
	key := e.rec.Repository + "@" + e.rec.Zip.Digest
	a, hit, err := s.archives.acquire(ctx, key, func() (*packages.Archive, io.Closer, error) {
		// Detached from the request: waiters share this load, and one
		// client going away must not fail it for the others.
		ctx := context.WithoutCancel(ctx)
		content, closeFn, err := s.openBlob(ctx, e, e.rec.Zip, "statics")
		if err != nil {
			return nil, nil, err
		}
		ra, ok := content.(io.ReaderAt)
		if !ok {
			closeFn()
			return nil, nil, errors.New("blob is not seekable")
		}
		size, err := content.Seek(0, io.SeekEnd)
		if err != nil {
			closeFn()
			return nil, nil, err
		}
		arch, err := packages.OpenArchive(ra, size, s.cfg.ArchiveLimits)
		if err != nil {
			closeFn()
			return nil, nil, err
		}
		return arch, closerFunc(closeFn), nil
	})
	if err == nil && hit {
		s.metrics.storage.WithLabelValues("local", "statics").Inc()
	}
	return a, err
}

type closerFunc func()

func (f closerFunc) Close() error { f(); return nil }

// readFromWriter lets http.ServeContent hand an *os.File to the
// connection's ReadFrom (sendfile) while echo still counts the bytes.
type readFromWriter struct{ *echo.Response }

func (w readFromWriter) ReadFrom(src io.Reader) (int64, error) {
	if !w.Committed {
		w.WriteHeader(http.StatusOK)
	}
	n, err := io.Copy(w.Response.Writer, src)
	w.Size += n
	return n, err
}
