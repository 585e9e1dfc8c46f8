package mirror

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/oci-epr/package-registry/internal/packages"
	"github.com/oci-epr/package-registry/internal/packages/packagetest"
)

// The summary names each failure as the user knows it and, for a rejection, the rule the
// indexer would count it under.
func TestSummaryNamesFailuresAndRules(t *testing.T) {
	// A real rejection from the package reader, not a hand-made error.
	broken := packagetest.Build(packagetest.Spec{Name: "broken", Version: "1.0.0", Type: "integration", NoReadme: true})
	_, _, rejected := packages.ReadBytes(broken, packages.Options{Limits: packages.DefaultLimits()})
	var rej *packages.RejectError
	if !errors.As(rejected, &rej) {
		t.Fatalf("fixture not rejected: %v", rejected)
	}
	var out bytes.Buffer
	WriteSummary(&out, Summary{Results: []Result{
		{Name: "broken-1.0.0.zip", Outcome: Failed, Err: rejected},
		{Name: "nginx", Version: "1.2.0", Outcome: Failed, Err: errors.New("connection refused")},
		{Name: "apache", Version: "2.0.0", Outcome: WouldCopy},
	}})
	for _, want := range []string{
		"failed broken-1.0.0.zip (rule " + string(rej.Rule) + "): package rejected: ",
		"failed nginx-1.2.0: connection refused\n",
		"would copy apache-2.0.0\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), ".zip-:") {
		t.Errorf("a file name with an empty version: %s", out.String())
	}
}
