package status

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// The tables `package-registry-ctl status` prints for a terminal: problems first (the order
// of State.Rank), one line per tag, the detail that says why in the last column so a long
// message only widens its own line.

// WriteOverall prints the overall status: the indexer's line, the tags not served (or those
// of the state asked for), the repositories, and the API replicas.
func WriteOverall(w io.Writer, o Overall) error {
	tw := newTable(w)
	if ix := o.Indexer; ix != nil {
		reach := "reachable"
		if !ix.RegistryReachable {
			reach = "UNREACHABLE: " + cell(ix.RegistryError)
		}
		fmt.Fprintf(tw, "registry\t%s\n", reach)
		fmt.Fprintf(tw, "last resync\t%s\n", resync(ix.LastResync))
		fmt.Fprintf(tw, "events pending\t%d\n", ix.StreamPending)
		fmt.Fprintf(tw, "index revision\t%d\n", ix.IndexRevision)
		fmt.Fprintf(tw, "tags\t%s\n", countsText(ix.Counts))
		fmt.Fprintf(tw, "reported\t%s\n", when(ix.UpdatedAt))
	} else {
		fmt.Fprintln(tw, "indexer\tno report yet")
	}
	fmt.Fprintln(tw)
	writeTags(tw, o.Problems, o.Truncated, "no tag is in a problem state")
	fmt.Fprintln(tw)
	if len(o.Repositories) > 0 {
		fmt.Fprintln(tw, "REPOSITORY\tLAST RECONCILE\tTOOK\tTAGS\tSTATES\tOUTCOME")
		for _, r := range o.Repositories {
			writeRepository(tw, r)
		}
		fmt.Fprintln(tw)
	}
	if len(o.Replicas) > 0 {
		fmt.Fprintln(tw, "REPLICA\tAPPLIED REVISION\tLAG\tREPORTED")
		for _, r := range o.Replicas {
			lag := "?"
			if r.Lag != nil {
				lag = fmt.Sprint(*r.Lag)
			}
			reported := when(r.UpdatedAt)
			if r.Stale {
				reported += " (STALE)"
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", cell(r.ID), r.AppliedRevision, lag, reported)
		}
	}
	return tw.Flush()
}

// WritePackage prints every tag claiming a package name.
func WritePackage(w io.Writer, p PackageStatus) error {
	tw := newTable(w)
	writeTags(tw, p.Tags, p.Truncated, "no tag claims "+cell(p.Name))
	return tw.Flush()
}

// WriteRepository prints a repository's last reconcile and its tags.
func WriteRepository(w io.Writer, r RepositoryStatus) error {
	tw := newTable(w)
	fmt.Fprintln(tw, "REPOSITORY\tLAST RECONCILE\tTOOK\tTAGS\tSTATES\tOUTCOME")
	writeRepository(tw, r.Repository)
	fmt.Fprintln(tw)
	writeTags(tw, r.Tags, r.Truncated, "no tag has status")
	return tw.Flush()
}

func newTable(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0) }

func writeRepository(tw io.Writer, r Repository) {
	at, took, outcome := "never", "", ""
	if lr := r.LastReconcile; lr != nil {
		at, took, outcome = when(lr.At), (time.Duration(lr.TookMS) * time.Millisecond).String(), lr.Outcome
		if lr.Error != "" {
			outcome += ": " + cell(lr.Error)
		}
	}
	// The outcome's error is the last column's, so that it only widens its line.
	fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", cell(r.Repository), at, took, r.TagsListed, countsText(r.Counts), outcome)
}

func writeTags(tw io.Writer, tags []Tag, truncated int, none string) {
	if len(tags) == 0 {
		fmt.Fprintln(tw, none)
		return
	}
	tags = slices.Clone(tags)
	slices.SortStableFunc(tags, func(a, b Tag) int { return a.State.Rank() - b.State.Rank() })
	fmt.Fprintln(tw, "STATE\tPACKAGE\tREPOSITORY:TAG\tDIGEST\tSINCE\tDETAIL")
	for _, t := range tags {
		pkg := "-"
		if t.Name != "" {
			pkg = t.Name + "@" + t.Version
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", cell(string(t.State)), cell(pkg), cell(t.Repository+":"+t.Tag),
			short(t.Digest), when(t.Since), detail(t))
	}
	if truncated > 0 {
		fmt.Fprintf(tw, "… and %d more (narrow with -state, a name or -repository)\n", truncated)
	}
}

// detail says why a tag is in its state.
func detail(t Tag) string {
	var s string
	switch t.State {
	case Rejected:
		s = "rule " + t.Rule + ": " + t.Message
	case Failing:
		s = t.Error
		if t.NextAttempt != nil {
			s += " (next attempt " + when(*t.NextAttempt) + ")"
		}
	case Shadowed:
		s = "the copy in " + t.ShadowedBy + " is served"
	case NotAPackage:
		s = t.ArtifactType
	case AwaitingSignature:
		s = "served once a signature arrives"
	case Served:
		if t.InSync != nil && !*t.InSync {
			s = "NOT IN SYNC: this process serves " + short(t.IndexDigest)
		} else if t.InSync != nil {
			s = "in sync"
		}
	}
	return cell(s)
}

func resync(r Resync) string {
	switch {
	case r.Start == nil:
		return "not yet"
	case r.End == nil:
		return "running since " + when(*r.Start)
	}
	return fmt.Sprintf("%s, took %s, %d repositories failed", when(*r.End), r.End.Sub(*r.Start).Round(time.Millisecond), r.Failed)
}

// countsText is "rejected 2, served 10", problems first.
func countsText(c map[State]int) string {
	var parts []string
	for _, s := range States {
		if c[s] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", s, c[s]))
		}
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}

func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// short is a digest cut for a terminal: the algorithm and 12 hex digits.
func short(d string) string {
	if d == "" {
		return "-"
	}
	if alg, hex, ok := strings.Cut(d, ":"); ok && len(hex) > 12 {
		return alg + ":" + hex[:12]
	}
	return cell(d)
}

// cell keeps a value on its line and in its column: no tabs, newlines or other control
// characters (a message may hold them, and a server's text is not trusted to be tidy).
func cell(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return ' '
		}
		return r
	}, s)
}
