// Package store is tempid's only storage: hand-written SQL over
// database/sql, on an embedded SQLite database (the default) or on
// PostgreSQL. The same statements run on both; the few differences live in
// the dialect struct. Rules that must hold under concurrency — the monthly
// quota, one-time face checks, replay detection — are enforced here, by the
// database, inside one transaction with the audit entry that records them.
package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"tempid/internal/problem"
)

// Options say which database to open.
type Options struct {
	// DSN is a postgres:// URL; empty means SQLite in DataDir.
	DSN string
	// DataDir holds the SQLite database file.
	DataDir string
	// MaxConns bounds the connection pool (PostgreSQL) or the reader pool
	// (SQLite); zero picks a default from the number of CPUs.
	MaxConns int
	// SQLiteSynchronous is SQLite's synchronous setting: "FULL" (the
	// default: a commit is on disk before it is acknowledged, so power
	// loss or an OS crash loses no acknowledged certificate) or "NORMAL"
	// (faster; power loss may lose the last acknowledged commits). Only
	// the benchmark that measures the difference sets NORMAL.
	SQLiteSynchronous string
	// CommitDelay is how long SQLite's group-commit writer may wait for
	// more writes to share a commit (batch.go): zero means
	// DefaultCommitDelay, a negative value never waits.
	CommitDelay time.Duration
}

// Store is an open database.
type Store struct {
	// w runs write transactions, r reads. On SQLite w has one connection:
	// SQLite allows one writer, and queueing in Go is far cheaper than
	// spinning on SQLITE_BUSY. On PostgreSQL both are database/sql over
	// pg, the one pool (see postgres.go).
	w, r    *sql.DB
	pg      *pgxpool.Pool
	dialect dialect
	// stmts caches prepared statements by query text (SQLite only: the
	// pgx driver caches its own). Parsing SQL was a tenth of the time of
	// a verification before the cache.
	stmts sync.Map // string -> *sql.Stmt
	// batch feeds the group-commit writer (SQLite only; see batch.go).
	batch  chan writeRequest
	closed chan struct{}
	// commitDelay is Options.CommitDelay, settled (negative: none).
	commitDelay time.Duration
	// pgQueue feeds the group-commit writer of the hot path (PostgreSQL
	// only; see postgres.go).
	pgQueue  chan pgWrite
	pgClosed chan struct{}
	// pgCommits counts the batches the writer committed.
	pgCommits atomic.Int64
	// health is whether writes succeed, for readiness (see health.go).
	health writeHealth
	// hot holds the reader connections kept for the hot path's reads
	// (SQLite only; see hotread.go).
	hot *hotPool
}

// dialect is the whole difference between the two databases, as seen by
// the queries.
type dialect struct {
	name string
	// lockRow is appended to a SELECT that must lock the row it reads.
	// SQLite has no row locks, and needs none: its write transactions are
	// serial (BEGIN IMMEDIATE).
	lockRow string
}

var (
	sqliteDialect   = dialect{name: "sqlite", lockRow: ""}
	postgresDialect = dialect{name: "postgres", lockRow: " FOR UPDATE"}
)

// Open connects to the database and applies pending migrations.
func Open(ctx context.Context, o Options) (*Store, error) {
	s, err := open(o)
	if err != nil {
		return nil, err
	}
	if err := s.Migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.start(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// start starts what a migrated store runs beside its connections: on
// SQLite the hot readers and the group-commit writer, on PostgreSQL its
// group-commit writer.
func (s *Store) start(ctx context.Context) error {
	if s.dialect.name != "sqlite" {
		s.startPGBatching()
		return nil
	}
	if err := s.startHotReads(ctx); err != nil {
		return err
	}
	s.startBatching()
	return nil
}

func open(o Options) (*Store, error) {
	conns := o.MaxConns
	if conns <= 0 {
		conns = max(8, 4*runtime.GOMAXPROCS(0))
	}
	if o.DSN != "" {
		if !strings.HasPrefix(o.DSN, "postgres://") && !strings.HasPrefix(o.DSN, "postgresql://") {
			return nil, errors.New("database: want a postgres:// URL")
		}
		return openPostgres(o.DSN, conns)
	}
	dir := o.DataDir
	if dir == "" {
		dir = "data"
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	synchronous := strings.ToUpper(o.SQLiteSynchronous)
	switch synchronous {
	case "":
		synchronous = "FULL"
	case "FULL", "NORMAL":
	default:
		return nil, fmt.Errorf("database: synchronous must be FULL or NORMAL, not %q", o.SQLiteSynchronous)
	}
	// busy_timeout first, so the pragmas after it wait for another process
	// (a CLI command next to a running server) instead of failing.
	// synchronous(FULL) in WAL mode syncs the WAL at every commit (one
	// fsync per group commit): an acknowledged write survives power loss.
	file := "file:" + filepath.Join(dir, "tempid.db")
	pragmas := "&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(" + synchronous + ")&_pragma=temp_store(MEMORY)"
	base := file + "?_pragma=busy_timeout(10000)" + pragmas
	// The writer waits for another process's write lock at most
	// writerBusyTimeout per attempt, and write retries only while the
	// request's deadline allows: a request must never wait in SQLite's
	// busy loop past its deadline (and the server's write timeout).
	w, err := sql.Open("sqlite", file+"?_pragma=busy_timeout("+strconv.Itoa(int(writerBusyTimeout/time.Millisecond))+")"+pragmas+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	r, err := sql.Open("sqlite", base+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("database: %w", err)
	}
	r.SetMaxOpenConns(conns)
	r.SetMaxIdleConns(conns)
	delay := o.CommitDelay
	if delay == 0 {
		delay = DefaultCommitDelay
	}
	return &Store{w: w, r: r, dialect: sqliteDialect, commitDelay: delay}, nil
}

// connectTimeout bounds each connection attempt to one host of a DSN that
// sets no connect_timeout. Without it a host that is gone (a machine off,
// packets dropped) holds every new connection for the kernel's SYN retries,
// about two minutes, before the next host of a multi-host DSN is tried.
const connectTimeout = "5"

// withDefaults completes a PostgreSQL DSN: a connect_timeout when it sets
// none, and target_session_attrs=read-write when it names several hosts
// without saying which to use, since tempid writes and only a cluster's
// primary accepts writes. pgx tries the hosts in order and keeps the first
// that passes, so after a failover new connections find the new primary.
func withDefaults(dsn string) string {
	base, rawQuery, _ := strings.Cut(dsn, "?")
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return dsn // pgx reports the error
	}
	add := url.Values{}
	if !q.Has("connect_timeout") {
		add.Set("connect_timeout", connectTimeout)
	}
	hosts := strings.TrimPrefix(strings.TrimPrefix(base, "postgresql://"), "postgres://")
	hosts, _, _ = strings.Cut(hosts, "/")
	if _, h, ok := strings.Cut(hosts, "@"); ok {
		hosts = h
	}
	if strings.Contains(hosts, ",") && !q.Has("target_session_attrs") {
		add.Set("target_session_attrs", "read-write")
	}
	if len(add) == 0 {
		return dsn
	}
	if rawQuery == "" {
		return base + "?" + add.Encode()
	}
	return dsn + "&" + add.Encode()
}

// Dialect names the database in use: "sqlite" or "postgres".
func (s *Store) Dialect() string { return s.dialect.name }

// Close closes the connection pools.
func (s *Store) Close() error {
	s.stopBatching()
	s.stopPGBatching()
	s.stopHotReads()
	s.stmts.Range(func(_, st any) bool {
		st.(*sql.Stmt).Close()
		return true
	})
	err := s.w.Close()
	if s.r != s.w {
		err = errors.Join(err, s.r.Close())
	}
	if s.pg != nil {
		s.pg.Close()
	}
	return err
}

// Ping checks that the database answers, for readiness probes.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.r.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		cause := storageCause(err)
		if cause == "" {
			cause = CauseConnection
		}
		return unavailable(cause, err)
	}
	return nil
}

// Tx is a write transaction. Every change made through it is audited by
// the method that makes it.
type Tx struct {
	tx *sql.Tx
	s  *Store
	// unprepared are statements to prepare once the transaction is over.
	unprepared []string
	// bound are the cached statements bound to this transaction, by
	// query: a batch of verifications runs the same few statements once
	// per write, and binding one is an allocation and a lookup of the
	// connection each time.
	bound map[string]*sql.Stmt
	// chain is the audit chain's head as this transaction left it
	// (SQLite; see appendAudit).
	chain chainHead
}

func (t *Tx) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if st := t.stmt(ctx, q); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return t.tx.ExecContext(ctx, q, args...)
}

func (t *Tx) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if st := t.stmt(ctx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return t.tx.QueryContext(ctx, q, args...)
}

func (t *Tx) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	if st := t.stmt(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return t.tx.QueryRowContext(ctx, q, args...)
}

// stmt returns the transaction's copy of the cached statement of q. A
// statement not yet cached runs unprepared this time and is prepared after
// the transaction: preparing now would wait for the writer connection this
// transaction holds.
func (t *Tx) stmt(ctx context.Context, q string) *sql.Stmt {
	if t.s.dialect.name != "sqlite" {
		return nil
	}
	if st, ok := t.bound[q]; ok {
		return st
	}
	if st, ok := t.s.stmts.Load(q); ok {
		if t.bound == nil {
			t.bound = make(map[string]*sql.Stmt)
		}
		// ctx serves the copy's preparation only, not its executions.
		bound := t.tx.StmtContext(ctx, st.(*sql.Stmt))
		t.bound[q] = bound
		return bound
	}
	t.unprepared = append(t.unprepared, q)
	return nil
}

// query and queryRow read outside a transaction, from the reader pool.
func (s *Store) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if st := s.prepared(ctx, s.r, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return s.r.QueryContext(ctx, q, args...)
}

func (s *Store) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	if st := s.prepared(ctx, s.r, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return s.r.QueryRowContext(ctx, q, args...)
}

// queryAll reads every row of a query (run as query runs it) with scan.
func queryAll[T any](ctx context.Context, s *Store, scan func(interface{ Scan(...any) error }) (T, error), q string, args ...any) ([]T, error) {
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, classify(err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// prepared returns the cached prepared statement of q on db, preparing it
// on first use, or nil where statements are not cached (PostgreSQL) or
// cannot be prepared (the caller then runs q directly and reports the
// error). database/sql keeps one copy per connection and reuses it.
func (s *Store) prepared(ctx context.Context, db *sql.DB, q string) *sql.Stmt {
	if s.dialect.name != "sqlite" {
		return nil
	}
	key := q
	if db == s.r {
		key = "r\x00" + q // the reader pool has its own copies
	}
	if st, ok := s.stmts.Load(key); ok {
		return st.(*sql.Stmt)
	}
	st, err := db.PrepareContext(ctx, q)
	if err != nil {
		return nil
	}
	if prev, loaded := s.stmts.LoadOrStore(key, st); loaded {
		st.Close()
		return prev.(*sql.Stmt)
	}
	return st
}

// maxAttempts bounds retries of a transaction that lost a serialisation
// conflict (PostgreSQL 40001/40P01, or SQLite busy beyond busy_timeout)
// when the caller set no deadline; with a deadline, retries go on until
// it passes.
const maxAttempts = 8

// writerBusyTimeout is how long one attempt of a SQLite write waits for
// another process's write lock. Short, because the wait inside SQLite
// cannot be interrupted by the request's deadline; write retries after it
// as long as the deadline allows.
const writerBusyTimeout = time.Second

// reconnectFor bounds how long a write whose connection was lost before
// its commit keeps retrying: long enough to ride out a pool of dead
// connections and a short outage, short enough that the client hears 503
// unavailable and retries itself during a failover (Patroni takes seconds).
const reconnectFor = 3 * time.Second

// write runs fn in a write transaction, committing when it returns nil
// and rolling everything back (audit entries included) when it does not.
// It runs fn again after a serialisation failure, and after a lost
// connection when the COMMIT had not been sent, so fn must not keep state
// between attempts beyond what it rebuilds. A write whose COMMIT was sent
// but not answered is never run again: it may have committed (see
// outcomeUnknown).
func (s *Store) write(ctx context.Context, fn func(*Tx) error) error {
	err := s.retry(ctx, func() error {
		if s.batch != nil {
			return s.writeBatched(ctx, fn)
		}
		return s.writeOnce(ctx, fn)
	})
	s.health.observe(err)
	return err
}

// retry runs a write until it succeeds, fails for a reason that running it
// again cannot mend, has failed maxAttempts times on conflicts, or has lost
// its connection for longer than reconnectFor.
func (s *Store) retry(ctx context.Context, run func() error) error {
	var err error
	_, hasDeadline := ctx.Deadline()
	start := time.Now()
	for attempt, lost := 1, 0; ; attempt++ {
		if cerr := ctx.Err(); cerr != nil {
			// Never start an attempt past the deadline: the request
			// is answered 503 with nothing begun, let alone committed.
			return classify(cerr)
		}
		err = run()
		if err == nil || !retryable(err) {
			break
		}
		var backoff time.Duration
		if errors.As(err, new(*lostBeforeCommit)) {
			if time.Since(start) >= reconnectFor {
				break
			}
			lost++
			backoff = min(25*time.Millisecond<<lost, 500*time.Millisecond)
		} else {
			if !hasDeadline && attempt >= maxAttempts {
				break
			}
			backoff = time.Duration(min(attempt*attempt, 100)) * time.Millisecond
		}
		select {
		case <-ctx.Done():
			return classify(ctx.Err())
		case <-time.After(backoff):
		}
	}
	return classify(err)
}

func (s *Store) writeOnce(ctx context.Context, fn func(*Tx) error) error {
	sqlTx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return beforeCommit(err)
	}
	t := &Tx{tx: sqlTx, s: s}
	defer func() {
		for _, q := range t.unprepared {
			s.prepared(ctx, s.w, q)
		}
	}()
	if err := fn(t); err != nil {
		sqlTx.Rollback()
		return beforeCommit(err)
	}
	if err := t.sealChain(ctx); err != nil {
		sqlTx.Rollback()
		return beforeCommit(err)
	}
	return s.commitOutcome(sqlTx.Commit())
}

// lostBeforeCommit is a connection failure that ended a transaction
// before its COMMIT was sent, or a statement before it was sent: nothing
// was committed, so the whole transaction may run again, on a new
// connection (after a failover, to the new primary).
type lostBeforeCommit struct{ err error }

func (e *lostBeforeCommit) Error() string { return e.err.Error() }
func (e *lostBeforeCommit) Unwrap() error { return e.err }

// outcomeUnknown is a connection failure after a COMMIT (or a statement
// that commits on its own) was sent and before its answer came: the
// change may or may not have been made, and on a cluster with synchronous
// replication it may be on the new primary. Running the transaction again
// could make the change twice, so it is reported, never retried; each
// write's own idempotency makes the client's retry safe (docs/design.md,
// "Writes across a failover").
type outcomeUnknown struct{ err error }

func (e *outcomeUnknown) Error() string { return "commit outcome unknown: " + e.err.Error() }
func (e *outcomeUnknown) Unwrap() error { return e.err }

// beforeCommit marks a failure that happened before COMMIT was sent: a
// lost connection there is safe to retry.
func beforeCommit(err error) error {
	if _, ok := problem.As(err); !ok && isConnectionFailure(err) {
		return &lostBeforeCommit{err}
	}
	return err
}

// commitOutcome classifies the error of a COMMIT. PostgreSQL's answer (an
// error, or ROLLBACK for an aborted transaction) means nothing was
// committed; any other failure leaves the outcome unknown. pgconn's
// SafeToRetry is not asked: when the connection drops after the COMMIT
// went out, pgx v5.12 reports "conn closed", which it calls safe to retry,
// although the server may have committed (TestAWriteWhoseCommitWasNotAnsweredIsNotRunAgain
// shows it). SQLite is in this process: its answer is always known.
func (s *Store) commitOutcome(err error) error {
	if err == nil || s.dialect.name != "postgres" {
		return err
	}
	if errors.As(err, new(*pgconn.PgError)) || errors.Is(err, pgx.ErrTxCommitRollback) || errors.Is(err, sql.ErrTxDone) {
		return err
	}
	return &outcomeUnknown{err}
}

// retryable tells whether a transaction failed only because of concurrent
// transactions, or lost its connection before committing, and may succeed
// when run again.
func retryable(err error) bool {
	if errors.As(err, new(*lostBeforeCommit)) {
		return true
	}
	if errors.As(err, new(*outcomeUnknown)) {
		return false
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code == "40001" || pg.Code == "40P01"
	}
	var lite *sqlite.Error
	if errors.As(err, &lite) {
		c := lite.Code() & 0xff
		return c == sqlite3.SQLITE_BUSY || c == sqlite3.SQLITE_LOCKED
	}
	return errors.Is(err, errBatchAborted)
}

// isUniqueViolation tells whether err is a unique or primary key conflict.
func isUniqueViolation(err error) bool {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code == "23505"
	}
	var lite *sqlite.Error
	if errors.As(err, &lite) {
		return lite.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || lite.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// NewID returns a new 128-bit identifier in lowercase hex: the Unix time
// in milliseconds in the first 48 bits, then 80 random bits. Identifiers
// made later sort after earlier ones, so new rows land at the end of every
// index keyed by them, in pages already in cache, instead of on a random
// page of an index that grows with the database; 80 random bits keep them
// unguessable. (The time they reveal is never secret: a certificate's
// issue time is printed in its pass.)
func NewID() string { return NewIDAt(time.Now()) }

// NewIDAt returns a new identifier for a row made at t: what tempid-dev seed
// gives the certificates it dates in the past, so that a seeded database
// has its identifiers in the order a live one would.
func NewIDAt(t time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(t.UnixMilli())<<16)
	rand.Read(b[6:])
	return hex.EncodeToString(b[:])
}

// ms and fromMS convert between times and the stored Unix milliseconds.
func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

func nullMS(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return fromMS(v.Int64)
}
