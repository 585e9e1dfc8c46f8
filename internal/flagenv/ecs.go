package flagenv

import (
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"
)

// ECSVersion is the version of the Elastic Common Schema the logs follow: the one EPR's logger
// (ecszap) declares, so that a pipeline built for EPR's logs reads ours.
const ECSVersion = "1.6.0"

// ecsTimeLayout is ISO 8601 with milliseconds, as ecszap writes @timestamp (in UTC: a "Z").
const ecsTimeLayout = "2006-01-02T15:04:05.000Z07:00"

// NewECSHandler writes one JSON object per record with the fields of EPR's ECS logs:
// @timestamp, log.level (lower case), message, log.origin (function, file.name as
// "dir/file.go", file.line), ecs.version, and an error attribute as error.message. Other
// attributes keep their keys, as ecszap keeps zap fields'.
func NewECSHandler(w io.Writer, level slog.Leveler) slog.Handler {
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level, AddSource: true, ReplaceAttr: ecsAttr})
	return h.WithAttrs([]slog.Attr{slog.String("ecs.version", ECSVersion)})
}

// ecsAttr renames slog's built-in keys to ECS and reshapes values ECS defines differently.
func ecsAttr(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 {
		switch a.Key {
		case slog.TimeKey:
			if t, ok := a.Value.Any().(time.Time); ok {
				return slog.String("@timestamp", t.UTC().Format(ecsTimeLayout))
			}
		case slog.LevelKey:
			if l, ok := a.Value.Any().(slog.Level); ok {
				return slog.String("log.level", ecsLevel(l))
			}
		case slog.MessageKey:
			a.Key = "message"
			return a
		case slog.SourceKey:
			if s, ok := a.Value.Any().(*slog.Source); ok {
				return slog.Group("log.origin",
					slog.String("function", s.Function),
					slog.String("file.name", shortPath(s.File)),
					slog.Int("file.line", s.Line))
			}
		}
	}
	if err, ok := a.Value.Any().(error); ok && (a.Key == "err" || a.Key == "error") {
		return slog.Group("error", slog.String("message", err.Error()))
	}
	return a
}

// ecsLevel is zap's lower-case level name for a slog level.
func ecsLevel(l slog.Level) string {
	switch {
	case l < slog.LevelInfo:
		return "debug"
	case l < slog.LevelWarn:
		return "info"
	case l < slog.LevelError:
		return "warn"
	}
	return "error"
}

// shortPath keeps the last directory and the file name, as ecszap's caller does.
func shortPath(file string) string {
	dir, name := filepath.Split(file)
	dir = strings.TrimSuffix(filepath.ToSlash(dir), "/")
	if i := strings.LastIndex(dir, "/"); i >= 0 {
		dir = dir[i+1:]
	}
	if dir == "" {
		return name
	}
	return dir + "/" + name
}
