package flagenv

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"
)

// referenceLines reads the recorded EPR lines.
func referenceLines(t *testing.T) []map[string]any {
	t.Helper()
	f, err := os.Open("testdata/epr-ecs.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("testdata line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

// ourLine logs one record through the handler -log-type ecs uses and decodes it.
func ourLine(t *testing.T, log func(*slog.Logger)) map[string]any {
	t.Helper()
	var buf bytes.Buffer
	log(slog.New(NewECSHandler(&buf, slog.LevelDebug)))
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatalf("our line %q: %v", buf.String(), err)
	}
	return m
}

// Field by field against EPR's lines: the same keys, nesting, JSON types and formats.
func TestECSMatchesEPR(t *testing.T) {
	ref := referenceLines(t)
	started, failed := ref[0], ref[1]
	ours := ourLine(t, func(l *slog.Logger) { l.Info("package registry starting", "version", "1.2.3") })
	withErr := ourLine(t, func(l *slog.Logger) { l.Warn("reconcile failed", "err", errors.New("boom")) })

	for _, pair := range []struct {
		name      string
		ref, ours map[string]any
	}{{"plain", started, ours}, {"with an error", failed, withErr}} {
		t.Run(pair.name, func(t *testing.T) {
			for key, want := range pair.ref {
				got, ok := pair.ours[key]
				if !ok {
					t.Errorf("field %q missing from %v", key, pair.ours)
					continue
				}
				sameShape(t, key, want, got)
			}
		})
	}

	// @timestamp: the same layout (ISO 8601, milliseconds, UTC).
	for _, m := range []map[string]any{started, ours} {
		ts := m["@timestamp"].(string)
		if _, err := time.Parse(ecsTimeLayout, ts); err != nil || !strings.HasSuffix(ts, "Z") || len(ts) != len("2006-01-02T15:04:05.000Z") {
			t.Errorf("@timestamp %q is not ISO 8601 with milliseconds in UTC", ts)
		}
	}
	// Values that must be equal, not only alike.
	if ours["ecs.version"] != started["ecs.version"] {
		t.Errorf("ecs.version %v, EPR's %v", ours["ecs.version"], started["ecs.version"])
	}
	if ours["log.level"] != "info" || withErr["log.level"] != "warn" {
		t.Errorf("log.level %v and %v, want info and warn", ours["log.level"], withErr["log.level"])
	}
	if ours["message"] != "package registry starting" || ours["version"] != "1.2.3" {
		t.Errorf("message or attribute lost: %v", ours)
	}
	if e := withErr["error"].(map[string]any); e["message"] != "boom" {
		t.Errorf("error %v, want message boom", e)
	}
	origin := ours["log.origin"].(map[string]any)
	if origin["file.name"] != "flagenv/ecs_test.go" || !strings.HasSuffix(origin["function"].(string), "TestECSMatchesEPR.func1") {
		t.Errorf("log.origin %v: want this test's file and function", origin)
	}
	// slog's own keys are gone.
	for _, k := range []string{"time", "level", "msg", "source", "err"} {
		if _, ok := ours[k]; ok {
			t.Errorf("slog key %q still present: %v", k, ours)
		}
		if _, ok := withErr[k]; ok {
			t.Errorf("slog key %q still present: %v", k, withErr)
		}
	}
}

// sameShape checks that got has the JSON type of want, and for objects the same keys, recursively.
func sameShape(t *testing.T, key string, want, got any) {
	t.Helper()
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			t.Errorf("%s: %T, EPR's is an object", key, got)
			return
		}
		for k, v := range w {
			if _, ok := g[k]; !ok {
				t.Errorf("%s.%s missing (have %v)", key, k, g)
				continue
			}
			sameShape(t, key+"."+k, v, g[k])
		}
		for k := range g {
			if _, ok := w[k]; !ok {
				t.Errorf("%s.%s is not in EPR's line", key, k)
			}
		}
	case string:
		if _, ok := got.(string); !ok {
			t.Errorf("%s: %T, EPR's is a string", key, got)
		}
	case float64:
		if _, ok := got.(float64); !ok {
			t.Errorf("%s: %T, EPR's is a number", key, got)
		}
	}
}

func TestECSLevels(t *testing.T) {
	for l, want := range map[slog.Level]string{slog.LevelDebug - 4: "debug", slog.LevelDebug: "debug", slog.LevelInfo: "info", slog.LevelWarn: "warn", slog.LevelError: "error", slog.LevelError + 4: "error"} {
		if got := ecsLevel(l); got != want {
			t.Errorf("ecsLevel(%v) = %q, want %q", l, got, want)
		}
	}
	if got := shortPath("/a/b/c/file.go"); got != "c/file.go" {
		t.Errorf("shortPath = %q", got)
	}
	if got := shortPath("file.go"); got != "file.go" {
		t.Errorf("shortPath = %q", got)
	}
}
