package packages_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/oci-epr/package-registry/internal/packages"
	"github.com/oci-epr/package-registry/internal/packages/packagetest"
)

// dashboard is Kibana-like saved-object JSON of about size bytes: repeated
// structure with distinct ids, titles and coordinates, as real dashboards are.
func dashboard(size int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"attributes":{"panelsJSON":[`)
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, `{"embeddableConfig":{"title":"Events by host.name %d","vis":{"params":{"sort":{"columnIndex":%d}}}},"gridData":{"h":%d,"i":"%08x-%04x","w":24,"x":%d,"y":%d},"panelIndex":"%08x","type":"visualization","version":"8.%d.0"},`,
			i, i%7, 8+i%13, i*2654435761, i%65536, (i*24)%48, i*8, i*40503, i%20)
	}
	b.WriteString(`{}]}}`)
	return b.Bytes()
}

func TestCompressionRatioRules(t *testing.T) {
	zeros := func(n int) []byte { return make([]byte, n) }
	for _, tc := range []struct {
		name  string
		files map[string][]byte
		rule  packages.Rule
	}{
		// Several multi-MB dashboards: what the largest real packages hold.
		{"realistic dashboards", map[string][]byte{
			"kibana/dashboard/a.json": dashboard(6 << 20),
			"kibana/dashboard/b.json": dashboard(3 << 20),
			"kibana/dashboard/c.json": dashboard(2 << 20),
		}, ""},
		// Small files may compress a thousandfold: below the size the rule looks at.
		{"small repetitive file", map[string][]byte{"kibana/tag/blank.json": zeros(512 << 10)}, ""},
		// A bomb with true sizes: 8 MiB from ~8 KiB.
		{"entry bomb", map[string][]byte{"kibana/dashboard/bomb.json": zeros(8 << 20)}, packages.RuleCompressionRatio},
		// Many entries each under the entry threshold, together far over the archive ratio.
		{"archive bomb", func() map[string][]byte {
			m := map[string][]byte{}
			for i := range 40 {
				m[fmt.Sprintf("kibana/dashboard/%02d.json", i)] = zeros(1 << 20)
			}
			return m
		}(), packages.RuleCompressionRatio},
	} {
		t.Run(tc.name, func(t *testing.T) {
			zip := packagetest.Build(packagetest.Spec{Name: "ratio", Version: "1.0.0", ExtraFiles: tc.files})
			var total int
			for _, f := range tc.files {
				total += len(f)
			}
			t.Logf("zip %d bytes, files %d bytes (%.1fx)", len(zip), total, float64(total)/float64(len(zip)))
			_, _, err := packages.ReadBytes(zip, packages.Options{})
			re, _ := packages.AsReject(err)
			switch {
			case tc.rule == "" && err != nil:
				t.Fatalf("rejected: %v", err)
			case tc.rule != "" && (re == nil || re.Rule != tc.rule):
				t.Fatalf("err %v, want rule %s", err, tc.rule)
			}
		})
	}
}
