package process

import (
	"os"
	"testing"
)

func TestParseBytes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		err  bool
	}{
		{"0", 0, false},
		{"1048576", 1 << 20, false},
		{"200MiB", 200 << 20, false},
		{"1GiB", 1 << 30, false},
		{"64KiB", 64 << 10, false},
		{"2TiB", 2 << 40, false},
		{"100B", 100, false},
		{" 5MiB ", 5 << 20, false},
		{"off", -1, false},
		{"-1", -1, false},
		{"", 0, true},
		{"MiB", 0, true},
		{"200MB", 0, true},
		{"1.5GiB", 0, true},
		{"99999999TiB", 0, true},
	} {
		got, err := ParseBytes(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d, error %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func FuzzParseBytes(f *testing.F) {
	for _, s := range []string{"200MiB", "0", "off", "1TiB", "-5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseBytes(s)
		if err == nil && n < -1 {
			t.Fatalf("%q: %d", s, n)
		}
	})
}

func TestMemoryLimit(t *testing.T) {
	files := func(m map[string]string) func(string) ([]byte, error) {
		return func(p string) ([]byte, error) {
			if s, ok := m[p]; ok {
				return []byte(s), nil
			}
			return nil, os.ErrNotExist
		}
	}
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	v2 := map[string]string{"/sys/fs/cgroup/memory.max": "1073741824\n"}
	for _, tc := range []struct {
		name  string
		flag  int64
		env   map[string]string
		files map[string]string
		want  int64
	}{
		{"flag wins", 300 << 20, map[string]string{"GOMEMLIMIT": "1GiB"}, v2, 300 << 20},
		{"off", -1, nil, v2, 0},
		{"GOMEMLIMIT is the runtime's", 0, map[string]string{"GOMEMLIMIT": "1GiB"}, v2, 0},
		{"cgroup v2", 0, nil, v2, (1 << 30) / 100 * containerPercent},
		{"cgroup v2 unlimited", 0, nil, map[string]string{"/sys/fs/cgroup/memory.max": "max\n"}, 0},
		{"cgroup v1", 0, nil, map[string]string{"/sys/fs/cgroup/memory/memory.limit_in_bytes": "536870912\n"}, (512 << 20) / 100 * containerPercent},
		{"cgroup v1 unlimited", 0, nil, map[string]string{"/sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n"}, 0},
		{"no cgroup", 0, nil, nil, 0},
	} {
		got, from := MemoryLimit(tc.flag, env(tc.env), files(tc.files))
		if got != tc.want {
			t.Errorf("%s: %d (%s), want %d", tc.name, got, from, tc.want)
		}
	}
}
