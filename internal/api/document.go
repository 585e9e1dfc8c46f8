package api

// How an entry holds its package document: the fields /search and the filters read, parsed, and
// the whole document as indexed, compressed. A parsed document is about 1.5 times its JSON on
// the heap (9 KB for a 6 KB document of the load generator's catalogue) and most of it (data
// streams with their streams and variables, inputs, the assets list) is only ever read to render
// /package/<n>/<v>/, which is rendered once per version and kept. Compressed, the JSON is about a
// sixth of its size.

import (
	"encoding/json"
	"fmt"
	"sync"

	"github.com/klauspost/compress/zstd"

	"github.com/oci-epr/package-registry/internal/packages"
)

// searchFields is a copy of p with only what /search, /categories and the filters read: the
// fields of packages.SearchItem and of the short policy templates, the release level and the
// format version; the data streams are kept in their short form only (streams), a full
// DataStream being mostly fields /search does not show. The copy shares strings and small slices
// with p, so the rest of p becomes garbage once p is dropped.
func searchFields(p *packages.Package) (doc *packages.Package, streams []packages.ShortDataStream) {
	s := &packages.Package{
		Name: p.Name, Title: p.Title, Version: p.Version, Release: p.Release, Source: p.Source,
		Description: p.Description, Type: p.Type, Download: p.Download, Path: p.Path, Icons: p.Icons,
		PolicyTemplatesBehavior: p.PolicyTemplatesBehavior, Conditions: p.Conditions, Owner: p.Owner,
		Categories: p.Categories, SignaturePath: p.SignaturePath, Discovery: p.Discovery,
		Deprecated: p.Deprecated, Requires: p.Requires, Group: p.Group, FormatVersion: p.FormatVersion,
	}
	if len(p.PolicyTemplates) > 0 {
		s.PolicyTemplates = make([]packages.PolicyTemplate, len(p.PolicyTemplates))
		for i, t := range p.PolicyTemplates {
			s.PolicyTemplates[i] = packages.PolicyTemplate{Name: t.Name, Title: t.Title, Description: t.Description,
				Icons: t.Icons, Categories: t.Categories, DeploymentModes: t.DeploymentModes,
				DataStreams: t.DataStreams, Deprecated: t.Deprecated}
		}
	}
	if len(p.DataStreams) > 0 {
		streams = make([]packages.ShortDataStream, len(p.DataStreams))
		for i, ds := range p.DataStreams {
			streams[i] = ds.Short()
		}
	}
	return s, streams
}

// searchView is the entry's /search item, templates not narrowed.
func (e *Entry) searchView() packages.SearchItem {
	item := e.Package.SearchView()
	item.DataStreams = e.streams
	return item
}

// compressDocument packs a document's JSON for keeping. The fastest zstd level still takes a
// 6 KB document to about 1.1 KB, at a cost small beside parsing it.
func compressDocument(raw []byte) []byte {
	scratch := docScratch.Get().(*[]byte)
	out := docEncoder().EncodeAll(raw, (*scratch)[:0])
	// Kept at exactly its size (10,000 of them are kept); the scratch buffer is reused, unless a
	// rare huge document grew it.
	kept := append([]byte(nil), out...)
	if cap(out) <= 1<<20 {
		*scratch = out
		docScratch.Put(scratch)
	}
	return kept
}

var docScratch = sync.Pool{New: func() any { return new([]byte) }}

// fullDocument parses the document kept by compressDocument.
func fullDocument(packed []byte) (*packages.Package, error) {
	raw, err := docDecoder().DecodeAll(packed, nil)
	if err != nil {
		return nil, fmt.Errorf("unpacking the document: %w", err)
	}
	var doc packages.Package
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("document: %w", err)
	}
	return &doc, nil
}

// maxDocumentBytes bounds a document unpacked, as index.Decode bounds a record.
const maxDocumentBytes = 256 << 20

// The coders are shared (EncodeAll and DecodeAll are safe for concurrent use) and small: a
// document needs no window larger than itself, and 256 KB holds all but the largest whole.
var (
	docEncoder = sync.OnceValue(func() *zstd.Encoder {
		enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithWindowSize(256<<10),
			zstd.WithLowerEncoderMem(true), zstd.WithEncoderCRC(false))
		if err != nil {
			panic(err) // constant options
		}
		return enc
	})
	docDecoder = sync.OnceValue(func() *zstd.Decoder {
		dec, err := zstd.NewReader(nil, zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxMemory(maxDocumentBytes))
		if err != nil {
			panic(err)
		}
		return dec
	})
)
