package labels

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// counted is a log value that counts how often a handler resolves it.
type counted struct{ n *int }

func (c counted) LogValue() slog.Value {
	*c.n++
	return slog.StringValue("document")
}

// TestLevelFilterLazy: attributes added to the embedded server's logger
// are neither formatted nor resolved unless a record passes the level,
// and reach the handler in their groups when one does.
func TestLevelFilterLazy(t *testing.T) {
	var buf bytes.Buffer
	resolved := 0
	l := slog.New(levelFilter{Handler: slog.NewTextHandler(&buf, nil), min: slog.LevelWarn}).
		With("component", "ferretdb").WithGroup("sql").With(slog.Any("args", counted{&resolved}))
	l.Debug(">>> INSERT")
	if resolved != 0 || buf.Len() != 0 {
		t.Fatalf("a debug record: got %d resolutions and output %q, want none", resolved, buf.String())
	}
	l.Warn("slow", "ms", 7)
	want := `level=WARN msg=slow component=ferretdb sql.args=document sql.ms=7`
	if got := buf.String(); !strings.Contains(got, want) {
		t.Fatalf("a warning: got %q, want it to contain %q", got, want)
	}
}
