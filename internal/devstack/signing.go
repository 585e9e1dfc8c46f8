package devstack

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// signer signs the sample zips when the stack requires signatures. Its key is generated once
// and kept in the data directory, so that Fleet can be given the public key
// (xpack.fleet.packageVerification.gpgKeyPath) once and keep verifying across runs.
type signer struct {
	entity        *openpgp.Entity
	PublicKeyPath string
}

const (
	privateKeyFile = "signing-key.asc"
	publicKeyFile  = "signing-key.pub.asc"
)

// loadOrCreateSigner reads the key in dir, or generates one there.
func loadOrCreateSigner(dir string) (*signer, error) {
	privPath, pubPath := filepath.Join(dir, privateKeyFile), filepath.Join(dir, publicKeyFile)
	data, err := os.ReadFile(privPath)
	switch {
	case err == nil:
		keys, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(data))
		if err != nil || len(keys) != 1 {
			return nil, fmt.Errorf("dev stack signing key %s: %d keys, %v", privPath, len(keys), err)
		}
		return &signer{entity: keys[0], PublicKeyPath: pubPath}, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	// RSA, as Elastic's own package key: every Fleet version verifies it.
	e, err := openpgp.NewEntity("oci-epr dev stack", "sample packages", "devstack@localhost",
		&packet.Config{Algorithm: packet.PubKeyAlgoRSA, RSABits: 3072})
	if err != nil {
		return nil, err
	}
	priv, err := armored(openpgp.PrivateKeyType, func(w io.Writer) error { return e.SerializePrivate(w, nil) })
	if err != nil {
		return nil, err
	}
	pub, err := armored(openpgp.PublicKeyType, e.Serialize)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(privPath, priv, 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(pubPath, pub, 0o644); err != nil {
		return nil, err
	}
	return &signer{entity: e, PublicKeyPath: pubPath}, nil
}

func armored(blockType string, write func(io.Writer) error) ([]byte, error) {
	var buf bytes.Buffer
	w, err := armor.Encode(&buf, blockType, nil)
	if err != nil {
		return nil, err
	}
	if err := write(w); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// sign returns the armored detached signature of zip, the form EPR serves as <zip>.sig.
func (s *signer) sign(zip []byte) ([]byte, error) {
	var buf bytes.Buffer
	if err := openpgp.ArmoredDetachSign(&buf, s.entity, bytes.NewReader(zip), nil); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
