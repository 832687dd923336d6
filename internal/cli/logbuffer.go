package cli

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

// The server's log goes out in writes of many lines. Every request logs an
// access line, and writing each line as it comes was a system call per
// request on the verification path (docs/performance.md), with the
// scheduler's work around it. Lines are held for at most logHold; a
// warning or an error is written at once, with the lines before it, and
// the rest when the server stops. A server that crashes loses at most
// logHold of access lines: the audit trail is in the database, not here.

// logHold is how long a line may wait in the buffer.
const logHold = 100 * time.Millisecond

// logBuffer is an io.Writer that holds lines for at most logHold.
type logBuffer struct {
	mu    sync.Mutex
	w     *bufio.Writer
	timer *time.Timer
	// armed: the timer will flush; closed: every line goes out at once.
	armed, closed bool
}

func newLogBuffer(w io.Writer) *logBuffer {
	return &logBuffer{w: bufio.NewWriterSize(w, 64<<10)}
}

// Write takes one record's line (slog's handlers write a record at once).
func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, err := b.w.Write(p)
	switch {
	case b.closed:
		err = b.w.Flush()
	case !b.armed:
		b.armed = true
		if b.timer == nil {
			b.timer = time.AfterFunc(logHold, b.flush)
		} else {
			b.timer.Reset(logHold)
		}
	}
	return n, err
}

// flush writes out what the buffer holds.
func (b *logBuffer) flush() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.armed = false
	b.w.Flush()
}

// Close writes out the rest; lines written after it go out at once.
func (b *logBuffer) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.timer != nil {
		b.timer.Stop()
	}
	b.closed = true
	b.w.Flush()
}

// flushingHandler writes the buffer out after every record at Warn or
// above, so that a failure is in the log as soon as it is logged.
type flushingHandler struct {
	slog.Handler
	buf *logBuffer
}

func (h flushingHandler) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	if r.Level >= slog.LevelWarn {
		h.buf.flush()
	}
	return err
}

func (h flushingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return flushingHandler{h.Handler.WithAttrs(attrs), h.buf}
}

func (h flushingHandler) WithGroup(name string) slog.Handler {
	return flushingHandler{h.Handler.WithGroup(name), h.buf}
}
