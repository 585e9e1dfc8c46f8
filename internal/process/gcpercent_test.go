package process

import "testing"

func TestGCPercent(t *testing.T) {
	for _, tc := range []struct {
		env      map[string]string
		want     int
		wantFrom string
	}{
		{nil, LoadedGCPercent, "default"},
		{map[string]string{"GOGC": "200"}, 0, "GOGC"},
		{map[string]string{"GOGC": "off"}, 0, "GOGC"},
		{map[string]string{"GOMEMLIMIT": "1GiB"}, LoadedGCPercent, "default"},
	} {
		got, from := GCPercent(func(k string) string { return tc.env[k] })
		if got != tc.want || from != tc.wantFrom {
			t.Errorf("GCPercent(%v) = %d, %q; want %d, %q", tc.env, got, from, tc.want, tc.wantFrom)
		}
	}
}
