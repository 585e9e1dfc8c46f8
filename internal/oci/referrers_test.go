package oci

import (
	"bytes"
	"io"
	"testing"

	"github.com/oci-epr/package-registry/internal/devregistry"
	"github.com/oci-epr/package-registry/internal/packages/packagetest"
)

// Distribution v3.1.2 has no referrers API: this goes through the referrers tag schema.
func TestSignatureReferrer(t *testing.T) {
	ctx := t.Context()
	reg, err := devregistry.Start(ctx, devregistry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	c, err := New(Config{Registry: "http://" + reg.Host()})
	if err != nil {
		t.Fatal(err)
	}
	spec := packagetest.ContentPackage()
	subject, err := c.PushPackage(ctx, "packages/"+spec.Name, spec.Version, packagetest.Build(spec), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sig, err := c.SignatureOf(ctx, "packages/"+spec.Name, subject); err != nil || sig != nil {
		t.Fatalf("unsigned subject: signature %v, err %v", sig, err)
	}
	want := []byte("-----BEGIN PGP SIGNATURE-----\nx\n-----END PGP SIGNATURE-----\n")
	if _, err := c.PushSignature(ctx, "packages/"+spec.Name, subject, want); err != nil {
		t.Fatal(err)
	}
	sig, err := c.SignatureOf(ctx, "packages/"+spec.Name, subject)
	if err != nil || sig == nil {
		t.Fatalf("signature %v, err %v", sig, err)
	}
	rc, err := c.FetchBlob(ctx, "packages/"+spec.Name, *sig)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, _ := io.ReadAll(rc)
	if !bytes.Equal(got, want) {
		t.Fatalf("signature blob %q, want %q", got, want)
	}
	tags, err := c.Tags(ctx, "packages/"+spec.Name)
	if err != nil {
		t.Fatal(err)
	}
	if len(tags) != 2 {
		t.Fatalf("tags %v: want the version and the referrers fallback tag", tags)
	}
}
