package api

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/oci-epr/package-registry/internal/packages"
)

// fill sets every field reachable from v to a non-zero value (one element per slice), so that
// a field searchFields forgets shows up in the comparison below, whatever the fixtures hold.
func fill(v reflect.Value, depth int) {
	if depth > 6 {
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString("s" + v.Type().Name())
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64, reflect.Int32:
		v.SetInt(7)
	case reflect.Float64:
		v.SetFloat(1.5)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), depth+1)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), depth+1)
			}
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 { // json.RawMessage
			v.SetBytes([]byte(`{"k":1}`))
			return
		}
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0), depth+1)
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
	}
}

// TestSearchFieldsKeepTheSearchView: what an entry keeps parsed gives the same /search item and
// the same filter inputs as the whole document.
func TestSearchFieldsKeepTheSearchView(t *testing.T) {
	var full packages.Package
	fill(reflect.ValueOf(&full).Elem(), 0)
	docs := []*packages.Package{&full}
	for _, r := range fixtureRecords(t, newFakeBlobs(t)) {
		f, err := newFacts(r)
		if err != nil {
			t.Fatal(err)
		}
		whole, err := fullDocument(f.packed)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, whole)
	}
	for _, p := range docs {
		s, streams := searchFields(p)
		want, err := packages.Encode(p.SearchView())
		if err != nil {
			t.Fatal(err)
		}
		got, err := packages.Encode((&Entry{facts: &facts{streams: streams}, Package: s}).searchView())
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: search item differs:\n%s\nwant\n%s", p.Name, got, want)
		}
		if s.Release != p.Release || s.FormatVersion != p.FormatVersion || s.Type != p.Type || s.IsExperimental() != p.IsExperimental() {
			t.Errorf("%s: filter fields differ", p.Name)
		}
		for i, tpl := range p.PolicyTemplates {
			if !reflect.DeepEqual(s.PolicyTemplates[i].Categories, tpl.Categories) {
				t.Errorf("%s: template categories differ", p.Name)
			}
		}
	}
}

// TestPackedDocumentRoundTrips: the compressed document unpacks to the document as indexed.
func TestPackedDocumentRoundTrips(t *testing.T) {
	for _, r := range fixtureRecords(t, newFakeBlobs(t)) {
		f, err := newFacts(r)
		if err != nil {
			t.Fatal(err)
		}
		if len(f.packed) >= len(r.Document) {
			t.Errorf("%s: packed %d bytes, document %d", r.Key(), len(f.packed), len(r.Document))
		}
		got, err := fullDocument(f.packed)
		if err != nil {
			t.Fatal(err)
		}
		want, err := packages.Encode(got)
		if err != nil {
			t.Fatal(err)
		}
		var orig packages.Package
		if err := json.Unmarshal(r.Document, &orig); err != nil {
			t.Fatal(err)
		}
		again, _ := packages.Encode(&orig)
		if !bytes.Equal(want, again) {
			t.Errorf("%s: unpacked document differs", r.Key())
		}
	}
	if _, err := fullDocument([]byte("not zstd")); err == nil {
		t.Error("garbage unpacked without an error")
	}
}
