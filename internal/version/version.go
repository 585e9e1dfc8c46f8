// Package version reports what build of the project is running. Every command and every
// place that reports a version (`-version`, `/`, `epr_service_info`, image labels) reads it here,
// so that one stamp reaches all of them.
package version

import "runtime/debug"

// Stamp is set at link time by release builds and the image build:
//
//	go build -ldflags "-X github.com/oci-epr/package-registry/internal/version.Stamp=v1.2.3" ./cmd/...
//
// When it is empty, String falls back to what the Go toolchain recorded in the binary.
var Stamp string

// String is the running build's version: the link-time stamp; else the main module's version
// (set by `go install module@version`); else the VCS revision the toolchain recorded (with
// "+dirty" when the tree had changes); else "dev".
func String() string {
	if Stamp != "" {
		return Stamp
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	return fromBuildInfo(info)
}

func fromBuildInfo(info *debug.BuildInfo) string {
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, dirty string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if rev == "" {
		return "dev"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	return "dev-" + rev + dirty
}
