package mirror

import (
	"bytes"
	"fmt"

	"github.com/ProtonMail/go-crypto/openpgp"
)

// ReadKeyring reads an OpenPGP public key ring, armored or binary.
func ReadKeyring(data []byte) (openpgp.EntityList, error) {
	if kr, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(data)); err == nil {
		return kr, nil
	}
	kr, err := openpgp.ReadKeyRing(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("mirror: not an OpenPGP public key: %w", err)
	}
	return kr, nil
}

// Verify checks a detached signature (armored, as EPR serves it, or binary) of data.
func Verify(kr openpgp.EntityList, data, sig []byte) error {
	var err error
	if bytes.Contains(sig, []byte("-----BEGIN PGP SIGNATURE-----")) {
		_, err = openpgp.CheckArmoredDetachedSignature(kr, bytes.NewReader(data), bytes.NewReader(sig), nil)
	} else {
		_, err = openpgp.CheckDetachedSignature(kr, bytes.NewReader(data), bytes.NewReader(sig), nil)
	}
	if err != nil {
		return fmt.Errorf("signature does not verify: %w", err)
	}
	return nil
}
