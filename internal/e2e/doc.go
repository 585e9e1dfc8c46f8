// Package e2e holds the end-to-end tests that run the three binaries as separate processes, as
// the distributed deployment does. It has no code of its own.
package e2e
