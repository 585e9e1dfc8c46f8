// Package status owns what an operator or a package author is told about indexing: per tag, why
// it is or is not served; per repository, how its last reconcile went; overall, whether the
// registry is reachable, how far behind the indexer and each API replica are. The indexer
// writes it (Publisher) to a store every process can read (the status bucket in NATS, see
// KV); any process answers from it (Reader) without reaching the indexer.
//
// Files by concern: status.go is the model; keys.go names entries in a store; store.go is the
// store interface and its in-memory implementation; reader.go answers queries.
package status

import "time"

// State is what the indexer concluded about one tag.
type State string

// The states of a tag. Problems sort first (see Rank).
const (
	// Failing: the registry or the download failed and the tag is retried; what was served
	// before (if anything) is still served.
	Failing State = "failing"
	// Rejected: the artifact breaks a rule (Rule, Message).
	Rejected State = "rejected"
	// AwaitingSignature: a valid package kept out until its signature arrives
	// (-require-package-signatures).
	AwaitingSignature State = "awaiting_signature"
	// Shadowed: the same name@version is served from another repository (ShadowedBy), whose
	// layout takes precedence.
	Shadowed State = "shadowed"
	// NotAPackage: the tag names no package version, or its artifact is not a package
	// (ArtifactType).
	NotAPackage State = "not_a_package"
	// Served: the tag's package is in the index as Name@Version.
	Served State = "served"
)

// States lists every state, problems first.
var States = []State{Failing, Rejected, AwaitingSignature, Shadowed, NotAPackage, Served}

// Valid reports whether s is one of States.
func (s State) Valid() bool { return s.Rank() < len(States) }

// Rank orders states for people: failing and rejected first, served last.
func (s State) Rank() int {
	for i, x := range States {
		if x == s {
			return i
		}
	}
	return len(States)
}

// Tag is the status of one tag of one repository.
type Tag struct {
	Repository string `json:"repository"`
	Tag        string `json:"tag"`
	// Digest is the manifest digest the registry held for the tag when it was last resolved.
	Digest string `json:"digest,omitempty"`
	State  State  `json:"state"`
	// Name and Version are the package version the tag claims (by the layout); empty for a
	// tag that names none.
	Name    string `json:"name,omitempty"`
	Version string `json:"version,omitempty"`
	// Rule names the rule a rejected artifact broke (packages.Rule); Message is what the
	// reader said, e.g. which file and field.
	Rule    string `json:"rule,omitempty"`
	Message string `json:"message,omitempty"`
	// ShadowedBy is the repository whose copy of Name@Version is served instead.
	ShadowedBy string `json:"shadowed_by,omitempty"`
	// ArtifactType is what a tag that is not a package holds (the manifest's artifact type or
	// config media type), when known.
	ArtifactType string `json:"artifact_type,omitempty"`
	// Error and NextAttempt describe a failing tag: the last error and when it is tried again.
	Error       string     `json:"error,omitempty"`
	NextAttempt *time.Time `json:"next_attempt,omitempty"`
	// Since is when the tag entered State (with this digest).
	Since time.Time `json:"since"`
	// IndexDigest is the manifest digest the index serves for Name@Version from this
	// repository and tag, as the answering process holds it; InSync reports whether it is
	// Digest. Filled by a Reader that has the index (an API replica), never stored.
	IndexDigest string `json:"index_digest,omitempty"`
	InSync      *bool  `json:"in_sync,omitempty"`
}

// Reconcile is how one reconcile of a repository went.
type Reconcile struct {
	At time.Time `json:"at"`
	// TookMS is its duration in milliseconds.
	TookMS int64 `json:"took_ms"`
	// Outcome is "ok" or "failed" (the listing or some tags failed: Error says which).
	Outcome string `json:"outcome"`
	Error   string `json:"error,omitempty"`
}

// Outcomes of a Reconcile.
const (
	OutcomeOK     = "ok"
	OutcomeFailed = "failed"
)

// Repository is the status of one repository.
type Repository struct {
	Repository    string     `json:"repository"`
	LastReconcile *Reconcile `json:"last_reconcile,omitempty"`
	// TagsListed is how many tags the last successful listing returned.
	TagsListed int `json:"tags_listed"`
	// Counts is how many of its tags are in each state.
	Counts map[State]int `json:"counts,omitempty"`
}

// Resync is the indexer's periodic pass over every repository.
type Resync struct {
	Start *time.Time `json:"start,omitempty"`
	// End is unset while a pass runs.
	End *time.Time `json:"end,omitempty"`
	// Failed is how many repositories the last ended pass could not reconcile.
	Failed int `json:"failed"`
}

// Indexer is the overall status as the indexer knows it.
type Indexer struct {
	// RegistryReachable is whether the last request to the registry got an answer (any HTTP
	// answer counts; an unreadable repository is told per repository).
	RegistryReachable bool   `json:"registry_reachable"`
	RegistryError     string `json:"registry_error,omitempty"`
	LastResync        Resync `json:"last_resync"`
	// StreamPending is how many events wait in the stream for the indexer (consumer pending).
	StreamPending uint64 `json:"stream_pending"`
	// IndexRevision is the index bucket's last revision.
	IndexRevision uint64 `json:"index_revision"`
	// Counts is how many tags are in each state, over every repository.
	Counts    map[State]int `json:"counts,omitempty"`
	UpdatedAt time.Time     `json:"updated_at"`
}

// Replica is what one API replica reports of itself.
type Replica struct {
	ID string `json:"id"`
	// AppliedRevision is the index bucket revision the replica has applied.
	AppliedRevision uint64    `json:"applied_revision"`
	UpdatedAt       time.Time `json:"updated_at"`
	// Lag is IndexRevision less AppliedRevision, filled by the Reader.
	Lag *uint64 `json:"lag,omitempty"`
	// Stale marks a replica that has not reported for StaleAfter (stopped, or cut off).
	Stale bool `json:"stale,omitempty"`
}

// StaleAfter is how long a replica's report counts as current. Replicas report every
// ReportEvery.
const (
	ReportEvery = 10 * time.Second
	StaleAfter  = 6 * ReportEvery
)

// Overall is the answer to GET /status.
type Overall struct {
	// Indexer is nil until an indexer has reported.
	Indexer  *Indexer  `json:"indexer"`
	Replicas []Replica `json:"replicas"`
	// Repositories are every repository with status, problems first.
	Repositories []Repository `json:"repositories"`
	// Problems are the tags not served, problems first, at most Limit of them.
	Problems []Tag `json:"problems"`
	// Truncated is how many problem tags were left out of Problems.
	Truncated int `json:"truncated,omitempty"`
}

// MaxText bounds every free text stored (messages, errors): a reader's message about a broken
// manifest must not make an entry big.
const MaxText = 1024

// Clip returns s cut to MaxText bytes (on a rune boundary), marked when cut.
func Clip(s string) string {
	if len(s) <= MaxText {
		return s
	}
	cut := MaxText - len("…")
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + "…"
}
