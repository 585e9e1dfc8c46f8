package process

import (
	"crypto/tls"
	"fmt"
)

var tlsVersions = map[string]uint16{"": tls.VersionTLS12, "1.1": tls.VersionTLS11, "1.2": tls.VersionTLS12, "1.3": tls.VersionTLS13}

// CheckTLSMinVersion validates a -tls-min-version value: "1.1", "1.2", "1.3" or empty (1.2).
func CheckTLSMinVersion(v string) error {
	if _, ok := tlsVersions[v]; !ok {
		return fmt.Errorf("invalid TLS minimum version %q: use 1.1, 1.2 or 1.3", v)
	}
	return nil
}

// UseTLS makes the listener serve HTTPS with the given key pair and minimum version.
func (l *Listener) UseTLS(certFile, keyFile, minVersion string) error {
	if err := CheckTLSMinVersion(minVersion); err != nil {
		return err
	}
	if _, err := tls.LoadX509KeyPair(certFile, keyFile); err != nil {
		return fmt.Errorf("load TLS key pair: %w", err)
	}
	l.srv.TLSConfig = &tls.Config{MinVersion: tlsVersions[minVersion]}
	l.certFile, l.keyFile = certFile, keyFile
	return nil
}
