package process

// The Go runtime's soft memory limit: a process in a container with a memory limit collects
// garbage harder as it nears the limit, rather than growing into it and being killed.

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// cgroupMemoryFiles hold a container's memory limit: cgroup v2, then v1.
var cgroupMemoryFiles = []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}

// containerShare is the part of the container's limit given to the Go runtime; the rest is for
// what the runtime does not count (the bbolt file's pages, the binary, thread stacks of cgo).
const containerPercent = 90

// MemoryLimit decides the soft memory limit: flag (bytes, from ParseBytes) when not 0, else
// GOMEMLIMIT when the environment sets it (the runtime has applied it already), else
// containerPercent % of the container's limit when there is one. It returns the limit (0: none) and
// where it came from, for the start-up log.
func MemoryLimit(flag int64, getenv func(string) string, readFile func(string) ([]byte, error)) (int64, string) {
	switch {
	case flag > 0:
		return flag, "flag"
	case flag < 0:
		return 0, "off"
	case getenv("GOMEMLIMIT") != "":
		return 0, "GOMEMLIMIT"
	}
	for _, f := range cgroupMemoryFiles {
		b, err := readFile(f)
		if err != nil {
			continue
		}
		if n, ok := parseCgroupLimit(string(b)); ok {
			return n / 100 * containerPercent, f
		}
		return 0, "no container limit"
	}
	return 0, "no container limit"
}

// ApplyMemoryLimit sets the limit MemoryLimit decides from the process's environment; it
// returns what it set and why.
func ApplyMemoryLimit(flag int64) (int64, string) {
	n, from := MemoryLimit(flag, os.Getenv, os.ReadFile)
	if n > 0 {
		debug.SetMemoryLimit(n)
	}
	return n, from
}

// parseCgroupLimit reads memory.max ("max" when unlimited) or v1's memory.limit_in_bytes (a
// number near 2^63 when unlimited).
func parseCgroupLimit(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n >= 1<<60 {
		return 0, false
	}
	return n, true
}

// ParseBytes reads a size as GOMEMLIMIT writes it: an integer with an optional unit B, KiB, MiB,
// GiB or TiB; "0" means the default and "off" (or a negative number) no limit, given as -1.
func ParseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "off" {
		return -1, nil
	}
	units := []struct {
		suffix string
		shift  uint
	}{{"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}, {"B", 0}}
	shift := uint(0)
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			s, shift = num, u.shift
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a size such as 512MiB: %w", s, errors.Unwrap(err))
	}
	if n < 0 {
		return -1, nil
	}
	if n > (1<<62)>>shift {
		return 0, fmt.Errorf("size %d<<%d is too large", n, shift)
	}
	return n << shift, nil
}
