package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"tempid/internal/store"
)

// DefaultRequestTimeout is every request's deadline unless
// Server.RequestTimeout says otherwise. It is shorter than the HTTP
// server's WriteTimeout (NewHTTPServer) by more than one SQLite busy wait,
// so that a request that cannot get the database in time is still
// answered — 503 unavailable, its transaction rolled back — instead of
// having its connection dropped with a commit behind it.
const DefaultRequestTimeout = 20 * time.Second

func (s *Server) requestTimeout() time.Duration {
	if s.RequestTimeout > 0 {
		return s.RequestTimeout
	}
	return DefaultRequestTimeout
}

// requestState is what the middleware learns from the handler beyond the
// status.
type requestState struct {
	id           string
	rec          statusRecorder
	mu           sync.Mutex
	clientClosed bool
}

const requestStateKey ctxKey = iota + 100

func stateOf(r *http.Request) *requestState {
	st, _ := r.Context().Value(requestStateKey).(*requestState)
	return st
}

// clientGone tells whether the client closed the connection (or the
// request was cancelled) before the answer: the 499 convention. The
// request's own deadline is not the client's doing and does not count.
func clientGone(ctx context.Context) bool {
	return ctx.Err() == context.Canceled
}

func (st *requestState) markClientClosed() {
	if st == nil {
		return
	}
	st.mu.Lock()
	st.clientClosed = true
	st.mu.Unlock()
}

func (st *requestState) closed() bool {
	if st == nil {
		return false
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.clientClosed
}

// burstGap is how long a storage cause must stay quiet for its next
// failure to start a new burst (and be logged at once); burstReminder is
// how often a burst that goes on is logged again.
const (
	burstGap      = 10 * time.Second
	burstReminder = time.Minute
)

// faultLog logs storage failures once per burst and cause, not once per
// request: a full disk fails every write until it is mended, and a log
// line per request would bury everything else (and could fill the disk
// it complains about).
type faultLog struct {
	mu     sync.Mutex
	causes map[string]*burst
}

type burst struct {
	lastSeen, lastLogged time.Time
	unlogged             int
}

// failed records a failure of cause and logs it if it starts a burst or a
// reminder is due.
func (f *faultLog) failed(log *slog.Logger, cause string, err error) {
	now := time.Now()
	f.mu.Lock()
	if f.causes == nil {
		f.causes = map[string]*burst{}
	}
	b := f.causes[cause]
	if b == nil {
		b = &burst{}
		f.causes[cause] = b
	}
	start := now.Sub(b.lastSeen) > burstGap
	b.lastSeen = now
	remind := !start && now.Sub(b.lastLogged) >= burstReminder
	if !start && !remind {
		b.unlogged++
		f.mu.Unlock()
		return
	}
	n := b.unlogged
	b.unlogged, b.lastLogged = 0, now
	f.mu.Unlock()
	if start {
		log.Error("storage failing; clients are answered 503 unavailable", "cause", cause, "err", err)
	} else {
		log.Error("storage still failing", "cause", cause, "failures_since_last_log", n+1, "err", err)
	}
}

// storageCauses lists every cause, so that the metric has all its series
// from the start (an alert on rate() needs the zero before the first
// failure).
var storageCauses = []string{store.CauseDiskFull, store.CauseIOError, store.CauseReadOnly, store.CauseLockTimeout,
	store.CauseTimeout, store.CauseConnection, store.CauseResources}
