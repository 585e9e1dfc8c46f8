package packages

import "errors"

// ErrRejected matches every *RejectError with errors.Is, for callers that
// only need to tell "bad artifact, do not retry" from I/O failures.
var ErrRejected = errors.New("package rejected")

// Rule names the rule an artifact broke. Its values are stable and short so
// that the indexer can use them as a metric label.
type Rule string

const (
	RuleZipTooLarge          Rule = "zip_too_large"
	RuleTooManyEntries       Rule = "too_many_entries"
	RuleTooLargeUncompressed Rule = "uncompressed_too_large"
	RuleCompressionRatio     Rule = "compression_ratio"
	RuleManifestTooLarge     Rule = "manifest_too_large"
	RuleInvalidZip           Rule = "invalid_zip"
	RuleUnsafePath           Rule = "unsafe_path"
	RuleSymlink              Rule = "symlink"
	RuleLayout               Rule = "layout"
	RuleFolderMismatch       Rule = "folder_mismatch"
	RuleExpectMismatch       Rule = "expect_mismatch"
	RuleMissingManifest      Rule = "missing_manifest"
	RuleInvalidYAML          Rule = "invalid_yaml"
	RuleInvalidManifest      Rule = "invalid_manifest"
	RuleMissingReadme        Rule = "missing_readme"
	RuleInvalidName          Rule = "invalid_name"
	RuleInvalidVersion       Rule = "invalid_version"
	RuleInvalidFormatVersion Rule = "invalid_format_version"
	RuleInvalidConstraint    Rule = "invalid_constraint"
	RuleInvalidRelease       Rule = "invalid_release"
	RuleInvalidDataStream    Rule = "invalid_data_stream"
	RuleUnusedPipeline       Rule = "unused_ingest_pipeline"

	// Content rules (EPR 1.40's package validation, epr-api.md §10). Unlike
	// the rules above they can be turned off (Options.DisableContentValidation),
	// as EPR's -disable-package-validation does.
	RuleMissingRequiredFields Rule = "missing_required_fields"
	RuleInvalidFieldsFile     Rule = "invalid_fields_file"
	RuleDashedDirectory       Rule = "dashed_directory"
	RuleMissingImage          Rule = "missing_image"

	// Artifact rules, checked by the indexer around the zip: the OCI manifest and its layers,
	// and the bytes the registry serves.

	// RuleUnsupportedManifest: the manifest is not an OCI image manifest of a package, or is
	// too large.
	RuleUnsupportedManifest Rule = "manifest"
	// RuleLayers: the manifest does not hold exactly one package zip layer (and at most one
	// signature).
	RuleLayers Rule = "layers"
	// RuleDigestMismatch: the manifest or zip bytes served do not match their digest.
	RuleDigestMismatch Rule = "digest_mismatch"
	// RuleMissingSignature: no signature was found while -require-package-signatures is on.
	// Unlike the others it is not final: the version is indexed when its signature arrives.
	RuleMissingSignature Rule = "missing_signature"
)

// RejectError says why an artifact cannot be indexed. It is final for that
// artifact: reading it again gives the same answer.
type RejectError struct {
	Rule   Rule
	Reason string
}

func (e *RejectError) Error() string { return "package rejected: " + e.Reason }

func (e *RejectError) Is(target error) bool { return target == ErrRejected }

func reject(rule Rule, reason string) *RejectError {
	return &RejectError{Rule: rule, Reason: reason}
}
