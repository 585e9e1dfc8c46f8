package status

import (
	"strings"
	"time"
)

// Verdict is what a wait concludes from one answer about a package version.
type Verdict int

const (
	// Pending: not served yet, and nothing says it will not be: ask again.
	Pending Verdict = iota
	// Done: the version is served.
	Done
	// Refused: the version will not be served as pushed (rejected, not a package, or shadowed
	// by the other layout's copy); pushing again is the only way on.
	Refused
)

func (v Verdict) String() string {
	switch v {
	case Done:
		return "served"
	case Refused:
		return "refused"
	}
	return "pending"
}

// Decide is the decision of a wait, from the tags that claim the name (what GET
// /status/packages/<name> answers). Of the tags claiming w's version, in either layout:
//
//   - served anywhere wins (Done), unless the answering process can tell that what it serves is
//     not the digest the indexer read (InSync false: that replica has not caught up, Pending);
//   - otherwise a tag that may still become served keeps the wait going (Pending): failing (a
//     registry or download error being retried) and awaiting_signature (served once a signature
//     arrives);
//   - otherwise a final state refuses (Refused): rejected (with its rule and message),
//     not_a_package, shadowed (the other layout's copy is served instead: with no digest given
//     that copy counts as served above; with one, it is another artifact than the one pushed);
//   - no tag at all: the indexer has not read the push yet (Pending).
//
// With w.Digest set, a tag whose status holds another digest has not been read since the push,
// so its state is not an answer (Pending), except that a failing tag counts whatever its
// digest: its error is why the push is not read. The message says why, for people: the rule
// and message of a rejection, the error of a failing tag.
func Decide(ps PackageStatus, w Want) (Verdict, string) {
	var served, waiting, final, stale []string
	for _, t := range ps.Tags {
		if t.Name != w.Name || t.Version != w.Version {
			continue
		}
		at := t.Repository + ":" + t.Tag
		if w.Digest != "" && t.Digest != w.Digest && t.State != Failing {
			stale = append(stale, at+" is "+string(t.State)+" with digest "+orUnknown(t.Digest)+", not yet the pushed "+w.Digest)
			continue
		}
		switch t.State {
		case Served:
			if t.InSync != nil && !*t.InSync {
				here := "does not serve it yet"
				if t.IndexDigest != "" {
					here = "still serves " + t.IndexDigest
				}
				waiting = append(waiting, at+" is served by the indexer with digest "+orUnknown(t.Digest)+", but the answering process "+here)
				continue
			}
			served = append(served, "served from "+at+" (digest "+orUnknown(t.Digest)+")")
		case Failing:
			msg := at + " is failing: " + orUnknown(t.Error)
			if t.NextAttempt != nil {
				msg += " (next attempt " + t.NextAttempt.UTC().Format(time.RFC3339) + ")"
			}
			waiting = append(waiting, msg)
		case AwaitingSignature:
			waiting = append(waiting, at+" awaits its signature: the indexer requires one (push the zip's .sig as a layer or attach it as a referrer)")
		case Rejected:
			final = append(final, "rejected in "+at+": rule "+orUnknown(t.Rule)+": "+orUnknown(t.Message))
		case NotAPackage:
			msg := at + " is not a package"
			if t.ArtifactType != "" {
				msg += " (artifact type " + t.ArtifactType + ")"
			}
			final = append(final, msg)
		case Shadowed:
			final = append(final, at+" is shadowed: the copy in "+orUnknown(t.ShadowedBy)+" is served instead")
		default: // a state this client does not know yet: not a reason to give up
			waiting = append(waiting, at+" is "+string(t.State))
		}
	}
	name := w.String()
	switch {
	case len(served) > 0:
		return Done, name + " is " + strings.Join(served, "; ")
	case len(waiting) > 0:
		return Pending, name + ": " + strings.Join(waiting, "; ")
	case len(final) > 0:
		return Refused, name + ": " + strings.Join(final, "; ")
	case len(stale) > 0:
		return Pending, name + ": the indexer has not read the push yet: " + strings.Join(stale, "; ")
	}
	return Pending, name + ": no tag claims it yet (the indexer has not read the push, or it was pushed elsewhere)"
}

func orUnknown(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return s
}
