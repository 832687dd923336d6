package cli

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// An access line waits at most logHold; a warning goes out at once with
// the lines before it, in order; after Close every line goes out at once.
func TestTheLogHoldsInfoLinesBrieflyAndWritesFailuresAtOnce(t *testing.T) {
	var out bytes.Buffer
	buf := newLogBuffer(&out)
	log := slog.New(flushingHandler{slog.NewJSONHandler(buf, nil), buf})
	// The buffer writes out under its lock; the test reads under it too.
	written := func() string {
		buf.mu.Lock()
		defer buf.mu.Unlock()
		return out.String()
	}

	log.Info("request", "route", "first")
	if got := written(); got != "" {
		t.Fatalf("an info line went out at once: %q", got)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(written(), `"route":"first"`) {
		if time.Now().After(deadline) {
			t.Fatalf("the info line was not written within 5 s (logHold %v)", logHold)
		}
		time.Sleep(10 * time.Millisecond)
	}

	log.Info("request", "route", "second")
	log.With("request_id", "r1").Error("internal", "route", "third")
	got := written()
	second, third := strings.Index(got, `"route":"second"`), strings.Index(got, `"route":"third"`)
	if second < 0 || third < second || !strings.Contains(got, `"request_id":"r1"`) {
		t.Fatalf("after an error the log holds %q; want the info line, then the error with its attributes", got)
	}

	buf.Close()
	log.Info("shutting down")
	if !strings.Contains(written(), "shutting down") {
		t.Fatalf("a line after Close was held: %q", written())
	}
}
