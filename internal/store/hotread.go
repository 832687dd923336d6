package store

import (
	"context"
	"database/sql"
	"runtime"
)

// The reads of a verification on SQLite (a certificate with its device's
// revocation) go through reader connections kept aside for them, each
// with its statements prepared on it. A read waits for a free one under
// the request's context, so the wait honours the deadline, and runs its
// statement under a context that cannot end: the statement takes
// microseconds, while a context that can end costs the driver a watcher
// goroutine and a progress callback, and database/sql another goroutine,
// which doubled the CPU time of the read.

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

// startHotReads takes the hot readers from the reader pool, which grows
// by as many so that other reads keep their connections.
func (s *Store) startHotReads(ctx context.Context) error {
	n := hotReaders()
	conns := s.r.Stats().MaxOpenConnections
	s.r.SetMaxOpenConns(conns + n)
	s.r.SetMaxIdleConns(conns + n)
	s.hot = make(chan *hotReader, n)
	for range n {
		c, err := s.r.Conn(ctx)
		if err != nil {
			return err
		}
		s.hot <- &hotReader{conn: c, stmts: map[string]*sql.Stmt{}}
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
	for range cap(s.hot) {
		select {
		case h := <-s.hot:
			for _, st := range h.stmts {
				st.Close()
			}
			h.conn.Close()
		default:
		}
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
	var h *hotReader
	select {
	case h = <-s.hot:
	case <-ctx.Done():
		return errScan{ctx.Err()}
	}
	st, ok := h.stmts[q]
	if !ok {
		var err error
		if st, err = h.conn.PrepareContext(ctx, q); err != nil {
			s.hot <- h
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
	r.s.hot <- r.h
	return err
}

// errScan is a read that failed before its query ran.
type errScan struct{ err error }

func (e errScan) Scan(...any) error { return e.err }
