package packages

import (
	"errors"
	"maps"
	"testing"
)

func TestFieldsCacheGivesWhatParsingGives(t *testing.T) {
	c := &fieldsCache{max: 2}
	files := []struct {
		name, data string
		bad        bool
	}{
		{name: "base", data: "- name: '@timestamp'\n  type: date\n- name: data_stream\n  type: group\n  fields:\n  - name: type\n    type: constant_keyword\n"},
		{name: "override", data: "- name: '@timestamp'\n  type: keyword\n- name: extra\n  type: long\n"},
		{name: "broken", data: "- name: [unclosed\n", bad: true},
		{name: "empty", data: ""},
	}
	// Twice over, and in both orders, so hits, misses and the reset at max all happen; the
	// later file's declaration must win as with parseFields.
	for round := 0; round < 2; round++ {
		for _, order := range [][]int{{0, 1, 2, 3}, {1, 0, 3, 2}} {
			want, got := map[string]string{}, map[string]string{}
			var wantErr, gotErr error
			for _, i := range order {
				f := files[i]
				if err := parseFields([]byte(f.data), f.name, want); err != nil && wantErr == nil {
					wantErr = err
				}
				if err := c.parseFields([]byte(f.data), f.name, got); err != nil && gotErr == nil {
					gotErr = err
				}
			}
			if !maps.Equal(got, want) {
				t.Errorf("round %d order %v: %v, want %v", round, order, got, want)
			}
			var r1, r2 *RejectError
			if !errors.As(gotErr, &r1) || !errors.As(wantErr, &r2) || r1.Rule != RuleInvalidFieldsFile || gotErr.Error() != wantErr.Error() {
				t.Errorf("round %d: error %v, want %v", round, gotErr, wantErr)
			}
			if len(c.entries) > c.max {
				t.Errorf("%d entries kept, max %d", len(c.entries), c.max)
			}
		}
	}
	// What a caller does with its map must not reach the cache.
	mine := map[string]string{}
	_ = c.parseFields([]byte(files[1].data), "override", mine)
	mine["extra"] = "changed"
	again := map[string]string{}
	_ = c.parseFields([]byte(files[1].data), "override", again)
	if again["extra"] != "long" {
		t.Errorf("cached declaration changed to %q", again["extra"])
	}
}
