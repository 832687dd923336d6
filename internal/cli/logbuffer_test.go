package cli

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is the log's destination, read while the buffer writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// An access line waits at most logHold; a warning goes out at once with
// the lines before it, in order; after Close every line goes out at once.
func TestTheLogHoldsInfoLinesBrieflyAndWritesFailuresAtOnce(t *testing.T) {
	var out lockedBuffer
	buf := newLogBuffer(&out)
	log := slog.New(flushingHandler{slog.NewJSONHandler(buf, nil), buf})

	log.Info("request", "route", "first")
	if got := out.String(); got != "" {
		t.Fatalf("an info line went out at once: %q", got)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), `"route":"first"`) {
		if time.Now().After(deadline) {
			t.Fatalf("the info line was not written within 5 s (logHold %v)", logHold)
		}
		time.Sleep(10 * time.Millisecond)
	}

	log.Info("request", "route", "second")
	log.With("request_id", "r1").Error("internal", "route", "third")
	got := out.String()
	second, third := strings.Index(got, `"route":"second"`), strings.Index(got, `"route":"third"`)
	if second < 0 || third < second || !strings.Contains(got, `"request_id":"r1"`) {
		t.Fatalf("after an error the log holds %q; want the info line, then the error with its attributes", got)
	}

	buf.Close()
	log.Info("shutting down")
	if !strings.Contains(out.String(), "shutting down") {
		t.Fatalf("a line after Close was held: %q", out.String())
	}
}
