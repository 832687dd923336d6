package store

import (
	"context"
	"database/sql"
	"runtime"
	"sync"
)

// The hot path's reads on SQLite — a verification's certificate with its
// device's revocation, a signed-in request's session, an application's
// face check — go through reader connections kept aside for them, each
// with its statements prepared on it. A read waits for a free one under
// the request's context, so the wait honours the deadline, and runs its
// statement under a context that cannot end: the statement takes
// microseconds, while a context that can end costs the driver a watcher
// goroutine and a progress callback, and database/sql another goroutine,
// which doubled the CPU time of the read.
//
// A read takes the reader that was given back last. A reader's page cache
// is good until the next commit (in WAL mode a read that finds the log
// changed drops the cache and reads every page it needs again, a system
// call each), so the reader used a moment ago is the one most likely to
// still hold the certificate's pages. Taken in turn, every reader had
// missed a commit since its last read: 2.3 times the page reads of the
// floor's pool (database/sql, which also reuses its newest connection).

// hotReader is one reader connection kept aside, with its statements by
// query. It is used by one read at a time.
type hotReader struct {
	conn  *sql.Conn
	stmts map[string]*sql.Stmt
}

// hotReaders is how many reader connections are kept aside: as many as
// reads can run at once on the cores, and a few more so that a read
// rarely waits for one.
func hotReaders() int { return max(4, 2*runtime.GOMAXPROCS(0)) }

// hotPool holds the free hot readers, the one given back last on top.
type hotPool struct {
	mu   sync.Mutex
	free []*hotReader
	// tokens holds one token per free reader: a read waits on it.
	tokens chan struct{}
}

func newHotPool(n int) *hotPool {
	return &hotPool{free: make([]*hotReader, 0, n), tokens: make(chan struct{}, n)}
}

// get takes the reader given back last, waiting for one until ctx ends.
func (p *hotPool) get(ctx context.Context) (*hotReader, error) {
	select {
	case <-p.tokens:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return p.pop(), nil
}

// tryGet takes a free reader if there is one.
func (p *hotPool) tryGet() *hotReader {
	select {
	case <-p.tokens:
		return p.pop()
	default:
		return nil
	}
}

func (p *hotPool) pop() *hotReader {
	p.mu.Lock()
	defer p.mu.Unlock()
	h := p.free[len(p.free)-1]
	p.free = p.free[:len(p.free)-1]
	return h
}

// put gives a reader back.
func (p *hotPool) put(h *hotReader) {
	p.mu.Lock()
	p.free = append(p.free, h)
	p.mu.Unlock()
	p.tokens <- struct{}{}
}

// startHotReads takes the hot readers from the reader pool, which grows
// by as many so that other reads keep their connections.
func (s *Store) startHotReads(ctx context.Context) error {
	n := hotReaders()
	conns := s.r.Stats().MaxOpenConnections
	s.r.SetMaxOpenConns(conns + n)
	s.r.SetMaxIdleConns(conns + n)
	s.hot = newHotPool(n)
	for range n {
		c, err := s.r.Conn(ctx)
		if err != nil {
			return err
		}
		s.hot.put(&hotReader{conn: c, stmts: map[string]*sql.Stmt{}})
	}
	return nil
}

// stopHotReads closes the hot readers that are free; a reader still in
// use is closed with the pool. A hot read after Close waits for its
// context to end.
func (s *Store) stopHotReads() {
	if s.hot == nil {
		return
	}
	for range cap(s.hot.tokens) {
		h := s.hot.tryGet()
		if h == nil {
			return
		}
		for _, st := range h.stmts {
			st.Close()
		}
		h.conn.Close()
	}
}

// hotRead runs a read of the hot path: natively through pgx on
// PostgreSQL, on a hot reader on SQLite (through the cached prepared
// statement on a store opened without them, for a migration test).
func (s *Store) hotRead(ctx context.Context, q string, args ...any) interface{ Scan(...any) error } {
	switch {
	case s.pg != nil:
		return s.pg.QueryRow(ctx, q, args...)
	case s.hot == nil:
		return s.queryRow(ctx, q, args...)
	}
	if err := ctx.Err(); err != nil {
		return errScan{err}
	}
	h, err := s.hot.get(ctx)
	if err != nil {
		return errScan{err}
	}
	st, ok := h.stmts[q]
	if !ok {
		if st, err = h.conn.PrepareContext(ctx, q); err != nil {
			s.hot.put(h)
			return errScan{err}
		}
		h.stmts[q] = st
	}
	return hotResult{row: st.QueryRowContext(context.WithoutCancel(ctx), args...), h: h, s: s}
}

// hotResult is a hot read's row; scanning it gives its reader back.
type hotResult struct {
	row *sql.Row
	h   *hotReader
	s   *Store
}

func (r hotResult) Scan(dest ...any) error {
	err := r.row.Scan(dest...)
	r.s.hot.put(r.h)
	return err
}

// errScan is a read that failed before its query ran.
type errScan struct{ err error }

func (e errScan) Scan(...any) error { return e.err }
