package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
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
// and app issuances — go to the node's writer goroutine, which takes every
// such write waiting and commits them in one transaction, in two
// pipelines of statements:
//
//	BEGIN; <what decides write 1>; <what decides write 2>; …; lock the audit chain's head
//	<rows of write 1>; <its audit entries>; <rows of write 2>; …; advance the head; COMMIT
//
// While writes keep coming, the second pipeline of one batch and the first
// of the next travel together, so a batch costs one round trip (pgWriter).
//
// The first pipeline holds the statements whose answers decide each write
// (a code's claim; an issuance's face check, holder lock and count); Go
// reads them and queues each write's rows, and links the batch's audit
// entries to the chain in Go, from the head read once. The writes share
// one commit (one WAL flush), one head update and a round trip instead of
// one commit and a head update each.
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
// connection follows the rules of a single write: lost before the
// pipeline with its COMMIT went out, the batch runs again; lost after,
// every write of the batch that had not failed by itself is told that it
// may have been made.

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

// startPGBatching starts the node's one group-commit writer. One is
// enough and costs least: its pipeline carries one batch's COMMIT with the
// next batch's first part, so while writes keep coming a batch costs one
// round trip, and the writes arriving meanwhile make the next batch. A
// second writer would hold a second transaction open, wait for the first's
// chain head, and halve the batches (BenchmarkRecordVerification/postgres,
// alternated: node and database CPU per verification 0.81 of two writers
// without the overlap with one, 1.19 with two).
func (s *Store) startPGBatching() {
	s.pgQueue = make(chan pgWrite, pgMaxBatch)
	s.pgClosed = make(chan struct{})
	go func() {
		defer close(s.pgClosed)
		s.pgWriter()
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
// outcome, and runs it again as write runs a transaction again (retry).
func (s *Store) pgSend(ctx context.Context, w pgWrite) error {
	err := s.retry(ctx, func() error { return s.pgSendOnce(ctx, w) })
	s.health.observe(err)
	return err
}

// pgSendOnce is one attempt of pgSend. Like writeBatched it waits even
// when ctx ends meanwhile: once queued, the write may commit, and the
// caller must not be told otherwise. The error is unclassified, for retry.
func (s *Store) pgSendOnce(ctx context.Context, w pgWrite) error {
	w.ctx, w.done = ctx, make(chan error, 1)
	select {
	case s.pgQueue <- w:
	case <-ctx.Done():
		return ctx.Err()
	}
	return <-w.done
}

// pgWriter is the group-commit writer. While writes keep coming, a batch
// costs one round trip: the pipeline that carries a decided batch's rows
// and COMMIT also carries the next batch's BEGIN, deciding statements and
// the head's lock, on the same connection. A batch that fails is run again
// by runPGBatch, which finds the failing write and tells it alone.
func (s *Store) pgWriter() {
	var carry []pgWrite // put off to the next batch
	var open *pgOpen    // decided, its transaction open
	closed := false
	for {
		ws := carry
		if len(ws) == 0 && open == nil && !closed {
			w, ok := <-s.pgQueue
			if ok {
				ws = append(ws, w)
			}
			closed = !ok
		}
	drain:
		for !closed && len(ws) < pgMaxBatch {
			select {
			case w, ok := <-s.pgQueue:
				if !ok {
					closed = true
					break drain
				}
				ws = append(ws, w)
			default:
				break drain
			}
		}
		ws, carry = oneWritePerHolder(ws)
		switch {
		case open != nil:
			open = s.commitAndDecide(open, ws)
		case len(ws) > 0:
			open = s.decide(ws)
		case closed:
			return
		}
	}
}

// pgOpen is a decided batch and the connection its transaction is open on.
type pgOpen struct {
	*pgDecided
	conn *pgxpool.Conn
}

// live tells the writes whose request has ended so, and returns the others.
func live(ws []pgWrite) []pgWrite {
	var out []pgWrite
	for _, w := range ws {
		if err := w.ctx.Err(); err != nil {
			w.done <- err
			continue
		}
		out = append(out, w)
	}
	return out
}

// decide sends a batch's first pipeline on a connection of its own and
// returns the batch decided, or nil when it failed and runPGBatch ran its
// writes instead.
func (s *Store) decide(ws []pgWrite) *pgOpen {
	ws = live(ws)
	if len(ws) == 0 {
		return nil
	}
	ctx, cancel := batchContext(ws)
	defer cancel()
	conn, err := s.pg.Acquire(ctx)
	if err != nil {
		for _, w := range ws {
			w.done <- beforeCommit(err)
		}
		return nil
	}
	var b pgx.Batch
	queueDecide(&b, ws)
	br := conn.SendBatch(ctx, &b)
	d, _, err := readDecide(br, ws)
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		rollback(ctx, conn)
		conn.Release()
		s.runAgain(ws)
		return nil
	}
	return &pgOpen{pgDecided: d, conn: conn}
}

// commitAndDecide sends the open batch's second pipeline and, in the same
// round trip, the first pipeline of ws, the next batch. It tells the open
// batch's writes their outcomes and returns the next batch decided, or
// nil.
func (s *Store) commitAndDecide(open *pgOpen, ws []pgWrite) *pgOpen {
	ws = live(ws)
	ctx, cancel := batchContext(append(slices.Clip(open.ws), ws...))
	defer cancel()
	var b pgx.Batch
	queueCommit(&b, open.pgDecided)
	if len(ws) > 0 {
		queueDecide(&b, ws)
	}
	br := open.conn.SendBatch(ctx, &b)
	_, err := readCommit(br, open.pgDecided)
	committed := err == nil
	var next *pgDecided
	if committed && len(ws) > 0 {
		next, _, err = readDecide(br, ws)
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if committed {
		s.pgCommits.Add(1)
		for k, w := range open.ws {
			w.done <- open.recs[k].outcome
		}
	}
	switch {
	case err == nil && next != nil:
		return &pgOpen{pgDecided: next, conn: open.conn}
	case err == nil:
		open.conn.Release()
		return nil
	case !committed && isConnectionFailure(err):
		// The COMMIT went out and its answer did not come back: the
		// open batch may have been made. The next one was not.
		for _, w := range open.ws {
			w.done <- pipelineOutcome(err)
		}
		open.conn.Conn().PgConn().Close(ctx)
		open.conn.Release()
		s.runAgain(ws)
		return nil
	}
	// A statement failed: PostgreSQL skipped the rest of the pipeline.
	// Whatever did not commit runs again, the failing write alone told.
	rollback(ctx, open.conn)
	open.conn.Release()
	if !committed {
		s.runAgain(open.ws)
	}
	s.runAgain(ws)
	return nil
}

// runAgain runs writes whose batch failed through runPGBatch, which tells
// the write that failed its error and commits the others.
func (s *Store) runAgain(ws []pgWrite) {
	if len(ws) == 0 {
		return
	}
	results := s.runPGBatch(ws)
	for i, w := range ws {
		w.done <- results[i]
	}
}

// rollback ends a connection's failed transaction, or closes the
// connection when that fails, and returns that failure. It uses the
// simple protocol: in a failed transaction PostgreSQL refuses to prepare
// any statement, and pgx would prepare ROLLBACK first.
func rollback(ctx context.Context, conn *pgxpool.Conn) error {
	_, err := conn.Conn().PgConn().Exec(ctx, "ROLLBACK").ReadAll()
	if err != nil {
		conn.Conn().PgConn().Close(ctx)
	}
	return err
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
// sent, but one sent with it must not be cut short by it), or until every
// write's request has ended — then no one waits for the batch, and a
// statement waiting for a lock is cancelled, as a single write's would be.
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
	ctx, cancel := context.WithDeadline(context.Background(), latest)
	var left atomic.Int64
	left.Store(int64(len(ws)))
	stops := make([]func() bool, len(ws))
	for i, w := range ws {
		stops[i] = context.AfterFunc(w.ctx, func() {
			if left.Add(-1) == 0 {
				cancel()
			}
		})
	}
	return ctx, func() {
		for _, stop := range stops {
			stop()
		}
		cancel()
	}
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
		// the transaction is rolled back.
		results[todo[failed]] = err
		todo = slices.Delete(slices.Clone(todo), failed, failed+1)
		if err := rollback(ctx, conn); err != nil {
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
	batch := make([]pgWrite, len(todo))
	for k, i := range todo {
		batch[k] = ws[i]
	}
	var b pgx.Batch
	queueDecide(&b, batch)
	br := conn.SendBatch(ctx, &b)
	d, failed, err := readDecide(br, batch)
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, failed, false, err
	}
	b = pgx.Batch{}
	queueCommit(&b, d)
	br = conn.SendBatch(ctx, &b)
	failed, err = readCommit(br, d)
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return d.recs, failed, true, err
}

// pgDecided is a batch whose first pipeline has been read: its writes
// decided, the chain's head read under its lock, the transaction open.
type pgDecided struct {
	ws   []pgWrite
	recs []pgRecord
	head chainHead
}

// queueDecide queues a batch's first pipeline: BEGIN, what decides each
// write, and the chain head's lock.
func queueDecide(b *pgx.Batch, ws []pgWrite) {
	b.Queue("BEGIN")
	for _, w := range ws {
		if w.decide != nil {
			w.decide(b)
		}
	}
	b.Queue(`SELECT seq, hash, last_id FROM audit_head WHERE id = 1 FOR UPDATE`)
}

// readDecide reads queueDecide's answers. On failure it returns the
// position in ws of the write whose statement or reading failed, or -1.
func readDecide(br pgx.BatchResults, ws []pgWrite) (*pgDecided, int, error) {
	d := &pgDecided{ws: ws, recs: make([]pgRecord, len(ws))}
	if _, err := br.Exec(); err != nil {
		return nil, -1, err
	}
	for k, w := range ws {
		var rows pgx.Batch
		rec, err := recordGuarded(w.record, br, &rows)
		if err != nil {
			return nil, k, err
		}
		rec.rows = rows.QueuedQueries
		d.recs[k] = rec
	}
	if err := br.QueryRow().Scan(&d.head.seq, &d.head.hash, &d.head.lastID); err != nil {
		return nil, -1, err
	}
	return d, -1, nil
}

// queueCommit queues a decided batch's second pipeline: each write's rows
// and its audit entries, linked from the head, then the new head and
// COMMIT.
func queueCommit(b *pgx.Batch, d *pgDecided) {
	head := d.head
	for _, rec := range d.recs {
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
	d.head = head
}

// readCommit reads queueCommit's answers, with the position in d.ws of
// the write whose statement or check failed, or -1.
func readCommit(br pgx.BatchResults, d *pgDecided) (int, error) {
	for k, rec := range d.recs {
		if err := readRecord(br, rec); err != nil {
			return k, err
		}
	}
	if d.head.dirty {
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
