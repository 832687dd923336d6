package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"tempid/internal/audit"
)

// PostgreSQL has one connection pool, pgx's own (pgxpool). The hot path —
// recording a verification and the read it needs — speaks pgx natively;
// the other statements go through database/sql on the same pool, so the
// two never compete for more connections than MaxConns.
//
// Group commit (PostgreSQL). The writes of the hot path — verifications
// and app issuances — go to a writer goroutine (pgWriters of them per
// node), which takes every such write waiting and commits them in one
// transaction, in two pipelines of statements, two round trips:
//
//	BEGIN; <what decides write 1>; <what decides write 2>; …; lock the audit chain's head
//	<rows of write 1>; <its audit entries>; <rows of write 2>; …; advance the head; COMMIT
//
// The first pipeline holds the statements whose answers decide each write
// (a code's claim; an issuance's face check, holder lock and count); Go
// reads them and queues each write's rows, and links the batch's audit
// entries to the chain in Go, from the head read once. The writes share
// one commit (one WAL flush), one head update and two round trips instead
// of one commit and a head update each.
//
// The head is locked last in the first pipeline, after the rows the writes
// decide on, as every other transaction that audits locks it after its
// own rows (appendAudit): batches and other transactions take their locks
// in the same order and cannot deadlock over the head.
//
// When the server refuses one write's statement, PostgreSQL skips the rest
// of the pipeline and the transaction is rolled back: that write alone is
// told its error, and the batch runs again without it. A refusal decided
// in Go (a spent quota, say) is not a failure: the write is told it, and
// the statements it queued (undoing a mark) commit with the others. Every
// write is told its outcome only once the COMMIT has been answered. A lost
// connection follows the rules of a single write: lost before the second
// pipeline went out, the batch runs again; lost after, every write of the
// batch that had not failed by itself is told that it may have been made.

// pgMaxBatch bounds the writes that share one commit, and so how long the
// last of them waits and how many rows one transaction holds locked.
const pgMaxBatch = 32

// pgBatchTimeout bounds a batch whose writes set no deadline (command-line
// tools, background jobs): a pipeline must not wait forever on a network
// that stopped answering.
const pgBatchTimeout = 30 * time.Second

// pgWrite is one write of the group-commit writer.
type pgWrite struct {
	ctx context.Context
	// holder, if set, is the person an issuance locks: two writes for one
	// holder never share a batch, so that the second counts the first's
	// certificate.
	holder string
	// decide queues the statements whose answers decide the write, or is
	// nil. They may change rows only in ways record can undo.
	decide func(b *pgx.Batch)
	// record reads decide's answers, in order, and queues the write's
	// rows on b. Its error is a failure of the write's statements; a
	// refusal is the record's outcome.
	record func(r pgx.BatchResults, b *pgx.Batch) (pgRecord, error)
	done   chan error
}

// pgRecord is what a write records once decided.
type pgRecord struct {
	// entries are the audit entries to link after the write's rows.
	entries []audit.Entry
	// check, if set, reads the results of the rows' statements in order;
	// without it each need only succeed.
	check func(r pgx.BatchResults) error
	// outcome is what the write is told once the batch has committed: nil,
	// or a refusal.
	outcome error
	// rows are the statements record queued.
	rows []*pgx.QueuedQuery
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
func (s *Store) pgSend(ctx context.Context, w pgWrite) error {
	w.ctx, w.done = ctx, make(chan error, 1)
	select {
	case s.pgQueue <- w:
	case <-ctx.Done():
		return ctx.Err()
	}
	return <-w.done
}

func (s *Store) pgWriter() {
	var next []pgWrite // put off to the next batch
	for open := true; open || len(next) > 0; {
		ws := next
		if len(ws) == 0 {
			w, ok := <-s.pgQueue
			if !ok {
				return
			}
			ws = []pgWrite{w}
		}
	drain:
		for open && len(ws) < pgMaxBatch {
			select {
			case w, ok := <-s.pgQueue:
				if !ok {
					open = false
					break drain
				}
				ws = append(ws, w)
			default:
				break drain
			}
		}
		ws, next = oneWritePerHolder(ws)
		results := s.runPGBatch(ws)
		for i, w := range ws {
			w.done <- results[i]
		}
	}
}

// oneWritePerHolder splits writes into a batch with at most one write per
// holder and the writes left for the next. The batch is in the order of
// its holders, so that two batches running at once take their holders'
// locks in the same order and cannot deadlock over them.
func oneWritePerHolder(ws []pgWrite) (batch, next []pgWrite) {
	var holders map[string]bool
	for _, w := range ws {
		if w.holder != "" {
			if holders[w.holder] {
				next = append(next, w)
				continue
			}
			if holders == nil {
				holders = map[string]bool{}
			}
			holders[w.holder] = true
		}
		batch = append(batch, w)
	}
	if holders != nil {
		slices.SortStableFunc(batch, func(a, b pgWrite) int { return strings.Compare(a.holder, b.holder) })
	}
	return batch, next
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
	var todo []int // the writes still to run, in order
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
	for len(todo) > 0 {
		recs, failed, committing, err := runPGTransaction(ctx, conn, ws, todo)
		if err == nil {
			s.pgCommits.Add(1)
			for k, i := range todo {
				results[i] = recs[k].outcome
			}
			return results
		}
		var pg *pgconn.PgError
		switch {
		case committing && (failed < 0 || isConnectionFailure(err)):
			// The second pipeline, with its COMMIT, went out, and the
			// batch's own statements or the connection failed.
			return abandonBatch(ctx, conn, results, todo, pipelineOutcome(err))
		case isConnectionFailure(err):
			// Nothing was committed: the batch runs again, on a new
			// connection (after a failover, on the new primary).
			return abandonBatch(ctx, conn, results, todo, &lostBeforeCommit{err})
		case failed < 0:
			// BEGIN or the head's lock failed.
			outcome := error(errBatchAborted)
			if errors.As(err, &pg) && !retryable(err) {
				outcome = err
			}
			return abandonBatch(ctx, conn, results, todo, outcome)
		}
		// One write's statement, or its reading in Go, failed: it
		// alone is told, and the others run again without it, after
		// the transaction is rolled back — with the simple protocol:
		// in a failed transaction PostgreSQL refuses to prepare any
		// statement, and pgx would prepare ROLLBACK first.
		results[todo[failed]] = err
		todo = slices.Delete(slices.Clone(todo), failed, failed+1)
		if _, err := conn.Conn().PgConn().Exec(ctx, "ROLLBACK").ReadAll(); err != nil {
			if isConnectionFailure(err) {
				return abandonBatch(ctx, conn, results, todo, &lostBeforeCommit{err})
			}
			return abandonBatch(ctx, conn, results, todo, errBatchAborted)
		}
	}
	return results
}

// runPGTransaction runs the writes todo of ws in one transaction, in the
// two pipelines of the comment at the top of this file. On failure it
// returns the position in todo of the write whose statement or reading
// failed, or -1 when the batch's own statement did, and whether the
// pipeline with the COMMIT had gone out.
func runPGTransaction(ctx context.Context, conn *pgxpool.Conn, ws []pgWrite, todo []int) (recs []pgRecord, failed int, committing bool, err error) {
	var b pgx.Batch
	b.Queue("BEGIN")
	for _, i := range todo {
		if ws[i].decide != nil {
			ws[i].decide(&b)
		}
	}
	b.Queue(`SELECT seq, hash, last_id FROM audit_head WHERE id = 1 FOR UPDATE`)
	var head chainHead
	recs = make([]pgRecord, len(todo))
	br := conn.SendBatch(ctx, &b)
	failed, err = func() (int, error) {
		if _, err := br.Exec(); err != nil {
			return -1, err
		}
		for k, i := range todo {
			var rows pgx.Batch
			rec, err := recordGuarded(ws[i].record, br, &rows)
			if err != nil {
				return k, err
			}
			rec.rows = rows.QueuedQueries
			recs[k] = rec
		}
		return -1, br.QueryRow().Scan(&head.seq, &head.hash, &head.lastID)
	}()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, failed, false, err
	}

	b = pgx.Batch{}
	for _, rec := range recs {
		b.QueuedQueries = append(b.QueuedQueries, rec.rows...)
		for _, e := range rec.entries {
			head.link(&e)
			b.Queue(insertAuditEvent, e.ID, ms(e.At), e.Actor, e.Action, e.Object, e.Detail, head.seq, head.hash)
		}
	}
	if head.dirty {
		b.Queue(updateAuditHead, head.seq, head.hash, head.lastID)
	}
	b.Queue("COMMIT")
	br = conn.SendBatch(ctx, &b)
	failed, err = func() (int, error) {
		for k, rec := range recs {
			if err := readRecord(br, rec); err != nil {
				return k, err
			}
		}
		if head.dirty {
			if _, err := br.Exec(); err != nil {
				return -1, err
			}
		}
		tag, err := br.Exec()
		if err == nil && tag.String() == "ROLLBACK" {
			// COMMIT of a transaction PostgreSQL had marked failed.
			err = pgx.ErrTxCommitRollback
		}
		return -1, err
	}()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return recs, failed, true, err
}

// readRecord reads the results of one write's rows and audit entries.
func readRecord(br pgx.BatchResults, rec pgRecord) error {
	n := len(rec.rows)
	if rec.check != nil {
		if err := checkGuarded(rec.check, br); err != nil {
			return err
		}
		n = 0
	}
	for range n + len(rec.entries) {
		if _, err := br.Exec(); err != nil {
			return err
		}
	}
	return nil
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

// recordGuarded and checkGuarded run a write's own code, turning a panic
// into its error: a bug in one write must not stop the writer that every
// write waits for.
func recordGuarded(record func(pgx.BatchResults, *pgx.Batch) (pgRecord, error), br pgx.BatchResults, b *pgx.Batch) (rec pgRecord, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("store: write panicked: %v", v)
		}
	}()
	return record(br, b)
}

func checkGuarded(check func(pgx.BatchResults) error, br pgx.BatchResults) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("store: write panicked: %v", v)
		}
	}()
	return check(br)
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
