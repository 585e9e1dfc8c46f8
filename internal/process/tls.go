package process

import (
	"crypto/tls"
	"fmt"
)

var tlsVersions = map[string]uint16{"": tls.VersionTLS12, "1.1": tls.VersionTLS11, "1.2": tls.VersionTLS12, "1.3": tls.VersionTLS13}

// TLSVersion reads a -tls-min-version value: "1.1", "1.2", "1.3" or empty (1.2).
func TLSVersion(v string) (uint16, error) {
	min, ok := tlsVersions[v]
	if !ok {
		return 0, fmt.Errorf("invalid TLS minimum version %q: use 1.1, 1.2 or 1.3", v)
	}
	return min, nil
}

// UseTLS makes the listener serve HTTPS with the given key pair and minimum version (a
// crypto/tls constant, from TLSVersion).
func (l *Listener) UseTLS(certFile, keyFile string, minVersion uint16) error {
	if _, err := tls.LoadX509KeyPair(certFile, keyFile); err != nil {
		return fmt.Errorf("load TLS key pair: %w", err)
	}
	l.srv.TLSConfig = &tls.Config{MinVersion: minVersion}
	l.certFile, l.keyFile = certFile, keyFile
	return nil
}
