package status

import (
	"bytes"
	"encoding/json"
	"slices"
	"time"
)

// Report is what one reconcile of one repository concluded, as the indexer tells it to the
// Publisher.
type Report struct {
	Repository string
	// At is when the reconcile started; Took how long it ran.
	At   time.Time
	Took time.Duration
	// Listed is set when the tag listing succeeded: Tags are then every listed tag, and a tag
	// with an entry that is not among them is gone. A failed listing (Error says why) leaves
	// every tag's entry as it is.
	Listed     bool
	TagsListed int
	// Error is why the reconcile failed (the listing, or the tags that failed), for people.
	Error string
	// Tags are the tags' statuses; Since is the Publisher's.
	Tags []Tag
	// Kept are tags this reconcile did not resolve (recorded as they were): a tag that was
	// failing stays failing until a reconcile resolves it again.
	Kept map[string]bool
	// Partial reports only Tags, whose state another repository's reconcile changed (which
	// layout's copy is served): no reconcile of this repository, nothing gone.
	Partial bool
}

// change is one entry a report changed: its key and the repository and tag it is about.
type change struct {
	Key string
	// Tag is the tag's new status, or nil when the key is to be deleted; for a repository's
	// entry, Repo is its new status or nil.
	Tag  *Tag
	Repo *Repository
}

// plan decides what a report changes: the repository's tags as they are now, its entry (nil:
// none), and the entries to put or delete, in key order, puts before deletes. prev and
// prevRepo are what was last written for the repository. A tag whose state and digest are
// unchanged keeps its Since; an entry equal to the one written is not written again.
func plan(prev map[string]Tag, prevRepo *Repository, r Report) (next map[string]Tag, repo *Repository, changes []change) {
	next = make(map[string]Tag, len(r.Tags))
	if !r.Listed || r.Partial {
		for tag, t := range prev {
			next[tag] = t
		}
	}
	for _, t := range r.Tags {
		t.Repository = r.Repository
		old, known := prev[t.Tag]
		if known && r.Kept[t.Tag] && old.State == Failing {
			t = old // not resolved this time: still failing
		}
		t.Since = r.At
		if known && old.State == t.State && old.Digest == t.Digest {
			t.Since = old.Since
		}
		t.Message, t.Error = Clip(Redact(t.Message)), Clip(Redact(t.Error))
		next[t.Tag] = t
	}
	var puts, dels []change
	for tag, t := range next {
		old, known := prev[tag]
		if known && equalJSON(old, t) {
			continue
		}
		t := t
		puts = append(puts, change{Key: TagKey(t), Tag: &t})
		if known && TagKey(old) != TagKey(t) {
			dels = append(dels, change{Key: TagKey(old)})
		}
	}
	for tag, old := range prev {
		if _, ok := next[tag]; !ok {
			dels = append(dels, change{Key: TagKey(old)})
		}
	}

	if !r.Partial || prevRepo != nil {
		rs := Repository{Repository: r.Repository, Counts: map[State]int{}}
		if prevRepo != nil {
			rs.LastReconcile, rs.TagsListed = prevRepo.LastReconcile, prevRepo.TagsListed
		}
		if !r.Partial {
			rs.LastReconcile = &Reconcile{At: r.At, TookMS: r.Took.Milliseconds(), Outcome: OutcomeOK, Error: Clip(Redact(r.Error))}
			if r.Error != "" {
				rs.LastReconcile.Outcome = OutcomeFailed
			}
			if r.Listed {
				rs.TagsListed = r.TagsListed
			}
		}
		for _, t := range next {
			rs.Counts[t.State]++
		}
		if len(rs.Counts) == 0 {
			rs.Counts = nil
		}
		switch {
		case r.Listed && !r.Partial && len(next) == 0:
			// A repository with no tags has no entry.
			if prevRepo != nil {
				dels = append(dels, change{Key: RepositoryKey(r.Repository)})
			}
		case prevRepo == nil || !equalJSON(*prevRepo, rs):
			repo = &rs
			puts = append(puts, change{Key: RepositoryKey(r.Repository), Repo: &rs})
		default:
			repo = prevRepo
		}
	}
	byKey := func(a, b change) int { return cmpString(a.Key, b.Key) }
	slices.SortFunc(puts, byKey)
	slices.SortFunc(dels, byKey)
	return next, repo, append(puts, dels...)
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// equalJSON compares two entries as they are stored.
func equalJSON(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}
