// Package index owns the shared package index that crosses process boundaries: the record kept
// for each package version (its document and where its blobs live in the registry), the record's
// key and encoding in the JetStream key-value bucket, the writer the indexer uses and the watcher
// every API replica follows.
package index

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/oci-epr/package-registry/internal/ref"
)

// Blob locates one blob of an artifact in the registry.
type Blob struct {
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
	MediaType string `json:"media_type,omitempty"`
}

// Record is one package version in the index.
type Record struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	// Document is the full package document (packages.Package as JSON).
	Document       json.RawMessage `json:"document"`
	Repository     string          `json:"repository"`
	Tag            string          `json:"tag"`
	ManifestDigest string          `json:"manifest_digest"`
	Zip            Blob            `json:"zip"`
	Signature      *Blob           `json:"signature,omitempty"`
	IndexedAt      time.Time       `json:"indexed_at"`
}

// Key is the record's key in the bucket and the store: ref.Ref.Key.
func Key(name, version string) string { return ref.Ref{Name: name, Version: version}.Key() }

// SplitKey inverts Key.
func SplitKey(key string) (name, version string, ok bool) {
	r, ok := ref.ParseKey(key)
	return r.Name, r.Version, ok
}

// Key of this record.
func (r *Record) Key() string { return Key(r.Name, r.Version) }

// maxDecodedRecord bounds what Decode inflates, so a corrupt or hostile value cannot exhaust
// memory.
const maxDecodedRecord = 256 << 20

// gzip writers and readers hold several hundred KB of tables each; a cold sync encodes and a
// replica's catch-up decodes thousands of records, so they are reused rather than rebuilt.
var (
	gzipWriters = sync.Pool{New: func() any {
		zw, _ := gzip.NewWriterLevel(io.Discard, gzip.BestCompression)
		return zw
	}}
	gzipReaders sync.Pool
)

// Encode compresses the record: package documents are repetitive JSON and shrink several-fold,
// which keeps most of them inside a NATS message.
func Encode(r *Record) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzipWriters.Get().(*gzip.Writer)
	defer gzipWriters.Put(zw)
	zw.Reset(&buf)
	// json.Marshal would escape "<", ">" and "&" inside the embedded document, and free-form
	// values in it are passed through to clients as they are.
	enc := json.NewEncoder(zw)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Decode inverts Encode.
func Decode(data []byte) (*Record, error) {
	zr, _ := gzipReaders.Get().(*gzip.Reader)
	var err error
	if zr == nil {
		zr, err = gzip.NewReader(bytes.NewReader(data))
	} else {
		err = zr.Reset(bytes.NewReader(data))
	}
	if err != nil {
		return nil, fmt.Errorf("decode record: %w", err)
	}
	defer gzipReaders.Put(zr)
	raw, err := io.ReadAll(io.LimitReader(zr, maxDecodedRecord+1))
	if err != nil {
		return nil, fmt.Errorf("decode record: %w", err)
	}
	if len(raw) > maxDecodedRecord {
		return nil, errors.New("decode record: too large")
	}
	var r Record
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("decode record: %w", err)
	}
	if r.Name == "" || r.Version == "" {
		return nil, errors.New("decode record: no name or version")
	}
	return &r, nil
}
