package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
)

// PostgreSQL has one connection pool, pgx's own (pgxpool). The hot path —
// recording a verification and the read it needs — speaks pgx natively;
// the other statements go through database/sql on the same pool, so the
// two never compete for more connections than MaxConns.
//
// Group commit (PostgreSQL). Each write of the hot path is a few
// statements that do not depend on each other's results, so they can be
// sent without waiting for answers. A writer goroutine (pgWriters of them
// per node) takes every such write waiting and sends them in one pipeline,
// one round trip:
//
//	BEGIN; SAVEPOINT w; <write 1>; RELEASE w; SAVEPOINT w; <write 2>; RELEASE w; …; COMMIT
//
// The writes share one commit (one WAL flush) instead of one each. When a
// statement fails, PostgreSQL skips the rest of the pipeline: that write
// is rolled back to its savepoint and told its error, the writes before it
// stay in the transaction, and the writes after it are sent again in the
// next pipeline, which ends with the COMMIT. Every write is told its
// outcome only once the COMMIT has been answered. A lost connection
// follows the rules of a single write: lost before anything was sent, the
// batch runs again; lost after the COMMIT went out, every write of the
// batch that had not failed by itself is told that it may have been made.

// pgMaxBatch bounds the writes that share one commit. Each savepoint that
// writes takes a subtransaction id, and a transaction with more than 64 of
// them makes every other backend's snapshot checks slower.
const pgMaxBatch = 32

// pgBatchTimeout bounds a batch whose writes set no deadline (command-line
// tools, background jobs): a pipeline must not wait forever on a network
// that stopped answering.
const pgBatchTimeout = 30 * time.Second

// pgWrite is one write of the hot path: statements queued together, and
// the reading of their results in the same order.
type pgWrite struct {
	ctx   context.Context
	queue func(b *pgx.Batch)
	read  func(r pgx.BatchResults) error
	done  chan error
}

// openPostgres opens the pool of a PostgreSQL DSN (completed by
// withDefaults: connect_timeout, and target_session_attrs=read-write for
// several hosts, which pgconn applies to every new connection).
func openPostgres(dsn string, conns int) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(withDefaults(dsn))
	if err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	cfg.MaxConns = int32(conns)
	cfg.MaxConnIdleTime = 5 * time.Minute
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	db := stdlib.OpenDBFromPool(pool)
	return &Store{w: db, r: db, pg: pool, dialect: postgresDialect}, nil
}

// pgWriters is how many batches a node has in flight at once. While one
// batch waits for its round trip and its commit, the next collects the
// writes arriving meanwhile; with one writer every write would wait for
// both, and on a busy machine for the scheduling of one backend.
const pgWriters = 2

func (s *Store) startPGBatching() {
	s.pgQueue = make(chan pgWrite, pgMaxBatch)
	s.pgClosed = make(chan struct{})
	var running sync.WaitGroup
	for range pgWriters {
		running.Go(s.pgWriter)
	}
	go func() {
		running.Wait()
		close(s.pgClosed)
	}()
}

func (s *Store) stopPGBatching() {
	if s.pgQueue == nil {
		return
	}
	close(s.pgQueue)
	<-s.pgClosed
	s.pgQueue = nil
}

// pgSend hands a write to the node's group-commit writer and waits for its
// outcome. Like writeBatched it waits even when ctx ends meanwhile: once
// queued, the write may commit, and the caller must not be told otherwise.
// The error is unclassified, for retry.
func (s *Store) pgSend(ctx context.Context, queue func(*pgx.Batch), read func(pgx.BatchResults) error) error {
	w := pgWrite{ctx: ctx, queue: queue, read: read, done: make(chan error, 1)}
	select {
	case s.pgQueue <- w:
	case <-ctx.Done():
		return ctx.Err()
	}
	return <-w.done
}

func (s *Store) pgWriter() {
	for w := range s.pgQueue {
		ws := []pgWrite{w}
	drain:
		for len(ws) < pgMaxBatch {
			select {
			case w, ok := <-s.pgQueue:
				if !ok {
					break drain
				}
				ws = append(ws, w)
			default:
				break drain
			}
		}
		results := s.runPGBatch(ws)
		for i, w := range ws {
			w.done <- results[i]
		}
	}
}

// batchContext is the context a batch's statements run under: until the
// latest deadline of its writes (a write whose request has ended is not
// sent, but one sent with it must not be cut short by it).
func batchContext(ws []pgWrite) (context.Context, context.CancelFunc) {
	var latest time.Time
	for _, w := range ws {
		d, ok := w.ctx.Deadline()
		if !ok {
			d = time.Now().Add(pgBatchTimeout)
		}
		if d.After(latest) {
			latest = d
		}
	}
	return context.WithDeadline(context.Background(), latest)
}

// runPGBatch runs writes in one transaction, as the comment at the top of
// this file says, and returns each write's outcome.
func (s *Store) runPGBatch(ws []pgWrite) []error {
	results := make([]error, len(ws))
	var todo []int // the writes still to send, in order
	for i, w := range ws {
		if err := w.ctx.Err(); err != nil {
			results[i] = err
			continue
		}
		todo = append(todo, i)
	}
	if len(todo) == 0 {
		return results
	}
	ctx, cancel := batchContext(ws)
	defer cancel()
	conn, err := s.pg.Acquire(ctx)
	if err != nil {
		for _, i := range todo {
			results[i] = beforeCommit(err)
		}
		return results
	}
	defer conn.Release() // a connection left in a transaction or broken is closed, not reused
	// done are the writes that ran without error in the open transaction,
	// waiting for the COMMIT.
	var done []int
	for begun := false; ; begun = true {
		var b pgx.Batch
		if !begun {
			b.Queue("BEGIN")
		}
		for _, i := range todo {
			b.Queue("SAVEPOINT w")
			ws[i].queue(&b)
			b.Queue("RELEASE SAVEPOINT w")
		}
		b.Queue("COMMIT")
		br := conn.SendBatch(ctx, &b)
		failed, err := readPGBatch(br, ws, todo, !begun)
		if closeErr := br.Close(); err == nil {
			err = closeErr
		}
		if err == nil {
			// Committed: every write that did not fail by itself
			// made it.
			s.pgCommits.Add(1)
			return results
		}
		pending := slices.Concat(done, todo)
		var pg *pgconn.PgError
		switch {
		case failed >= 0 && errors.As(err, &pg) && isConnectionFailure(err):
			// The server refused a statement because it is going
			// away or is no longer the primary: nothing of the batch
			// was committed, and it runs again on a new connection.
			return abandonBatch(ctx, conn, results, pending, &lostBeforeCommit{err})
		case failed >= 0 && errors.As(err, &pg):
			// The server refused one write's statement: it alone
			// fails. The writes before it wait for the commit, the
			// ones after it go in the next pipeline, after the
			// failed one is undone — on its own: in a failed
			// transaction PostgreSQL refuses to prepare any other
			// statement, and pgx prepares a batch's new statements
			// before sending it. Nothing is committed yet, so a
			// connection lost here changed nothing.
			done = slices.Concat(done, todo[:failed])
			results[todo[failed]] = err
			todo = todo[failed+1:]
			if _, err := conn.Conn().PgConn().Exec(ctx, "ROLLBACK TO SAVEPOINT w; RELEASE SAVEPOINT w").ReadAll(); err != nil {
				if isConnectionFailure(err) {
					return abandonBatch(ctx, conn, results, pending, &lostBeforeCommit{err})
				}
				return abandonBatch(ctx, conn, results, pending, errBatchAborted)
			}
		case failed >= 0 && !isConnectionFailure(err):
			// Reading one write's results failed in Go: that write is
			// told; the others run again.
			results[todo[failed]] = err
			return abandonBatch(ctx, conn, results, pending, errBatchAborted)
		default:
			// The batch's own statements failed (BEGIN, SAVEPOINT,
			// or COMMIT answered with an error: nothing was
			// committed), or the connection did.
			return abandonBatch(ctx, conn, results, pending, pipelineOutcome(err))
		}
	}
}

// abandonBatch ends a batch that will not commit, or whose COMMIT went
// unanswered: the writes in pending that were not told their own error are
// told outcome, and the connection is closed with whatever its
// transaction holds.
func abandonBatch(ctx context.Context, conn *pgxpool.Conn, results []error, pending []int, outcome error) []error {
	for _, i := range pending {
		if results[i] == nil {
			results[i] = outcome
		}
	}
	if !conn.Conn().IsClosed() {
		conn.Conn().PgConn().Close(ctx)
	}
	return results
}

// readPGBatch reads the results of one pipeline of runPGBatch. It returns
// the first error, with the position in todo of the write whose statement
// or reading failed, or -1 when the error is the batch's own.
func readPGBatch(br pgx.BatchResults, ws []pgWrite, todo []int, begin bool) (int, error) {
	control := func(n int) error {
		for range n {
			if _, err := br.Exec(); err != nil {
				return err
			}
		}
		return nil
	}
	if begin {
		if err := control(1); err != nil {
			return -1, err
		}
	}
	for k, i := range todo {
		if err := control(1); err != nil {
			return -1, err
		}
		if err := readGuarded(ws[i].read, br); err != nil {
			return k, err
		}
		if err := control(1); err != nil {
			return -1, err
		}
	}
	tag, err := br.Exec()
	if err == nil && tag.String() == "ROLLBACK" {
		// COMMIT of a transaction PostgreSQL had marked failed.
		err = pgx.ErrTxCommitRollback
	}
	return -1, err
}

// readGuarded reads one write's results, turning a panic into its error:
// a bug in one write must not stop the writer that every write waits for.
func readGuarded(read func(pgx.BatchResults) error, br pgx.BatchResults) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("store: write panicked: %v", v)
		}
	}()
	return read(br)
}

// pipelineOutcome classifies a failure of a pipeline that ends with its
// COMMIT. PostgreSQL's own answer (an error, or ROLLBACK) means nothing was
// committed, and the batch may run again; so may one whose connection
// failed before anything was sent. A connection lost after the pipeline
// went out leaves the COMMIT's outcome unknown.
func pipelineOutcome(err error) error {
	switch {
	case errors.As(err, new(*pgconn.PgError)) || errors.Is(err, pgx.ErrTxCommitRollback):
		return errBatchAborted
	case errors.As(err, new(*pgconn.ConnectError)) || pgconn.SafeToRetry(err):
		return &lostBeforeCommit{err}
	case isConnectionFailure(err) || errors.Is(err, context.DeadlineExceeded):
		return &outcomeUnknown{err}
	}
	return err
}

// hotRow runs a read of the hot path: natively through pgx on PostgreSQL,
// through the cached prepared statement on SQLite.
func (s *Store) hotRow(ctx context.Context, q string, args ...any) interface{ Scan(...any) error } {
	if s.pg != nil {
		return s.pg.QueryRow(ctx, q, args...)
	}
	return s.queryRow(ctx, q, args...)
}
