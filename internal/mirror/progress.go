package mirror

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/schollz/progressbar/v3"

	"github.com/oci-epr/package-registry/internal/packages"
	"github.com/oci-epr/package-registry/internal/status"
)

// Bar shows a terminal progress bar: versions done out of total, and bytes downloaded.
type Bar struct {
	w     io.Writer
	mu    sync.Mutex
	bar   *progressbar.ProgressBar
	bytes int64
}

// NewBar draws on w, a terminal.
func NewBar(w io.Writer) *Bar { return &Bar{w: w} }

func (b *Bar) Start(total int) {
	b.bar = progressbar.NewOptions(total,
		progressbar.OptionSetWriter(b.w),
		progressbar.OptionSetDescription("mirroring"),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionClearOnFinish(),
	)
}

func (b *Bar) Done(r Result) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.bytes += r.Bytes
	b.bar.Describe(fmt.Sprintf("mirroring (%s read)", HumanBytes(b.bytes)))
	_ = b.bar.Add(1)
}

// Lines logs one line per version, for output that is not a terminal.
type Lines struct{ Log *slog.Logger }

func (l Lines) Start(total int) { l.Log.Info("mirroring", "versions", total) }

func (l Lines) Done(r Result) {
	attrs := []any{"package", r.Name, "version", r.Version, "outcome", string(r.Outcome), "bytes", r.Bytes}
	if r.Err != nil {
		attrs = append(attrs, "error", r.Err.Error())
	}
	l.Log.Info("version", attrs...)
}

// HumanBytes writes n in binary units.
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// WriteSummary prints what a run did, the failures with their reasons.
func WriteSummary(w io.Writer, s Summary) {
	if n := s.Count(WouldCopy); n > 0 {
		fmt.Fprintf(w, "dry run: would copy %d\n", n)
	}
	fmt.Fprintf(w, "copied %d, skipped as present %d, skipped unsigned %d, failed %d; %s read from the source in %s\n",
		s.Count(Copied), s.Count(Present), s.Count(Unsigned), s.Count(Failed), HumanBytes(s.Bytes), s.Duration.Round(1e6))
	if waited, served, refused := s.served(); waited > 0 {
		fmt.Fprintf(w, "waited for %d: served %d, refused %d, not served in time %d\n", waited, served, refused, waited-served-refused)
	}
	for _, r := range s.Results {
		switch {
		case r.Outcome == WouldCopy:
			fmt.Fprintf(w, "would copy %s\n", r.label())
		case r.Outcome == Failed:
			fmt.Fprintf(w, "failed %s%s: %v\n", r.label(), ruleOf(r.Err), r.Err)
		case r.NotServed() && r.Served.Verdict == status.Refused:
			// The message names the rule and what the indexer's reader said.
			fmt.Fprintf(w, "refused %s: %s\n", r.label(), r.Served.Message)
		case r.NotServed():
			fmt.Fprintf(w, "not served %s: %s\n", r.label(), r.Served.Why())
		}
	}
}

// served counts the versions waited for, those served and those refused.
func (s Summary) served() (waited, served, refused int) {
	for _, r := range s.Results {
		if r.Served == nil {
			continue
		}
		waited++
		switch r.Served.Verdict {
		case status.Done:
			served++
		case status.Refused:
			refused++
		}
	}
	return waited, served, refused
}

// label names a result: name-version, or only the name (a file name) while the version is not
// known, as for a zip whose manifest could not be read.
func (r Result) label() string {
	if r.Version == "" {
		return r.Name
	}
	return r.Name + "-" + r.Version
}

// ruleOf is " (rule <name>)" for a rejection, the rule the indexer would count it under.
func ruleOf(err error) string {
	var rej *packages.RejectError
	if errors.As(err, &rej) {
		return " (rule " + string(rej.Rule) + ")"
	}
	return ""
}
