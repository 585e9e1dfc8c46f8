// Package mirror owns copying packages from an EPR-compatible registry (epr.elastic.co or one of
// ours) into an OCI registry in the artifact layout the indexer reads (docs/artifact-layout.md):
// which versions to copy (a Fleet-style /search selection), when a version already present may
// be skipped, retries against the source, the optional OpenPGP signature check, progress and the
// end-of-run summary. It never deletes anything at the destination. Besides an EPR (Run), a
// directory of package zips (RunDir) and an OCI image layout it wrote itself (RunLayout) can be
// the source, and an OCI image layout (Layout) the destination, for sites without a registry
// on the way.
//
// Skip rule. A version is skipped when its destination tag exists, holds a zip layer, holds a
// signature layer when the source has one, and its zip matches the source's zip, decided
// without downloading it where possible: the source zip is asked for with HEAD, and
//   - an ETag of the form "sha256:<hex>" (what our own API sends: the zip's digest) must equal
//     the destination zip layer's digest;
//   - any other ETag must equal the one recorded in the destination manifest's AnnotationETag
//     when it was mirrored (ETags are opaque, so only the same source can vouch for its own);
//   - without an ETag, a Content-Length, when sent, must equal the zip layer's size, and the
//     manifest must record the same source URL (AnnotationSource) and, when it records one, the
//     same package document digest (AnnotationDocument: the /package/<n>/<v>/ document, fetched
//     for every version anyway, read from the same package as the zip);
//   - with neither header nor a recorded document digest (a version an older mirror copied), the
//     zip is downloaded and its digest compared: the same bytes are not pushed again.
//
// Source credentials. -from may carry user:password; they are split off at once and sent as
// basic auth only to the source's scheme and host. Every URL that appears in a log line, an
// error, the summary or an annotation is the credential-free one. The download and
// signature_path of a document are resolved under the source's base (a path) or must name the
// source's own host (a URL): a document cannot send a request elsewhere. The source itself may
// redirect anywhere (a CDN); such a request carries no credentials.
//
// Anything else is copied again; pushing the same bytes again is harmless (blobs that exist are
// not uploaded, the tag is moved last), which is also what makes an interrupted run safe to
// repeat.
package mirror
