package version

import (
	"runtime/debug"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	for _, tc := range []struct {
		name string
		info debug.BuildInfo
		want string
	}{
		{"module version from go install", debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}}, "v1.4.0"},
		{"devel without vcs", debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "dev"},
		{"vcs revision", debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "1a3fc13aabbccddeeff00112233"}, {Key: "vcs.modified", Value: "false"}}}, "dev-1a3fc13aabbc"},
		{"dirty tree", debug.BuildInfo{Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "1a3fc13"}, {Key: "vcs.modified", Value: "true"}}}, "dev-1a3fc13+dirty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := fromBuildInfo(&tc.info); got != tc.want {
				t.Errorf("fromBuildInfo = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestStampWins(t *testing.T) {
	old := Stamp
	t.Cleanup(func() { Stamp = old })
	Stamp = "v9.9.9"
	if got := String(); got != "v9.9.9" {
		t.Errorf("String = %q with a stamp", got)
	}
}
