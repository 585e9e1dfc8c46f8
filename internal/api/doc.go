// Package api owns the EPR-compatible HTTP API (docs/epr-api.md): the echo
// routes and handlers, the in-memory query index built from index records
// (Catalog), the response cache of /search, /categories and
// /package/<n>/<v>/, blob and static-file serving, the mock fallback used
// while nothing is indexed, and the HTTP metrics.
//
// Reads never wait on the registry, NATS or a writer: the Catalog publishes
// immutable snapshots through an atomic pointer, and every request works on
// the one snapshot it loaded first, so a response is always consistent with
// one index generation (including its X-Package-Source header).
package api
