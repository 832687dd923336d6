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
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
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
}

// Store is an open database.
type Store struct {
	// w runs write transactions, r reads. On SQLite w has one connection:
	// SQLite allows one writer, and queueing in Go is far cheaper than
	// spinning on SQLITE_BUSY. On PostgreSQL both are the same pool.
	w, r    *sql.DB
	dialect dialect
	// stmts caches prepared statements by query text (SQLite only: the
	// pgx driver caches its own). Parsing SQL was a tenth of the time of
	// a verification before the cache.
	stmts sync.Map // string -> *sql.Stmt
	// batch feeds the group-commit writer (SQLite only; see batch.go).
	batch  chan writeRequest
	closed chan struct{}
}

// dialect is the whole difference between the two databases, as seen by
// the queries.
type dialect struct {
	name string
	// lockRow is appended to a SELECT that must lock the row it reads.
	// SQLite has no row locks, and needs none: its write transactions are
	// serial (BEGIN IMMEDIATE).
	lockRow string
	// auditInsert writes an audit entry and its pending mark in one
	// statement: a data-modifying WITH on PostgreSQL, a trigger
	// (migration 0003) on SQLite.
	auditInsert string
}

var (
	sqliteDialect = dialect{name: "sqlite", lockRow: "",
		auditInsert: `INSERT INTO audit_events (at, actor, action, object, detail) VALUES ($1, $2, $3, $4, $5)`}
	postgresDialect = dialect{name: "postgres", lockRow: " FOR UPDATE", auditInsert: `WITH e AS (
		INSERT INTO audit_events (at, actor, action, object, detail) VALUES ($1, $2, $3, $4, $5) RETURNING id)
		INSERT INTO audit_pending (event_id) SELECT id FROM e`}
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
	if s.dialect.name == "sqlite" {
		s.startBatching()
	}
	return s, nil
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
		db, err := sql.Open("pgx", o.DSN)
		if err != nil {
			return nil, fmt.Errorf("database: %w", err)
		}
		db.SetMaxOpenConns(conns)
		db.SetMaxIdleConns(conns)
		db.SetConnMaxIdleTime(5 * time.Minute)
		return &Store{w: db, r: db, dialect: postgresDialect}, nil
	}
	dir := o.DataDir
	if dir == "" {
		dir = "data"
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	// busy_timeout first, so the pragmas after it wait for another process
	// (a CLI command next to a running server) instead of failing.
	base := "file:" + filepath.Join(dir, "tempid.db") +
		"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_pragma=temp_store(MEMORY)"
	w, err := sql.Open("sqlite", base+"&_txlock=immediate")
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
	return &Store{w: w, r: r, dialect: sqliteDialect}, nil
}

// Dialect names the database in use: "sqlite" or "postgres".
func (s *Store) Dialect() string { return s.dialect.name }

// Close closes the connection pools.
func (s *Store) Close() error {
	s.stopBatching()
	s.stmts.Range(func(_, st any) bool {
		st.(*sql.Stmt).Close()
		return true
	})
	err := s.w.Close()
	if s.r != s.w {
		err = errors.Join(err, s.r.Close())
	}
	return err
}

// Ping checks that the database answers, for readiness probes.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.r.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return unavailable(err)
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
	if st, ok := t.s.stmts.Load(q); ok {
		return t.tx.StmtContext(ctx, st.(*sql.Stmt))
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
// conflict (PostgreSQL 40001/40P01, or SQLite busy beyond busy_timeout).
const maxAttempts = 8

// write runs fn in a write transaction, committing when it returns nil
// and rolling everything back (audit entries included) when it does not.
// It retries on serialisation failures, so fn must not keep state between
// attempts beyond what it rebuilds.
func (s *Store) write(ctx context.Context, fn func(*Tx) error) error {
	return s.retry(ctx, func() error {
		if s.batch != nil {
			return s.writeBatched(ctx, fn)
		}
		return s.writeOnce(ctx, fn)
	})
}

// retry runs a write until it succeeds, fails for a reason other than a
// serialisation conflict, or has failed maxAttempts times.
func (s *Store) retry(ctx context.Context, run func() error) error {
	var err error
	for attempt := 1; ; attempt++ {
		err = run()
		if err == nil || !retryable(err) || attempt == maxAttempts {
			break
		}
		backoff := time.Duration(attempt*attempt) * time.Millisecond
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
	}
	return classify(err)
}

func (s *Store) writeOnce(ctx context.Context, fn func(*Tx) error) error {
	sqlTx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	t := &Tx{tx: sqlTx, s: s}
	defer func() {
		for _, q := range t.unprepared {
			s.prepared(ctx, s.w, q)
		}
	}()
	if err := fn(t); err != nil {
		sqlTx.Rollback()
		return err
	}
	return sqlTx.Commit()
}

// retryable tells whether a transaction failed only because of concurrent
// transactions and may succeed when run again.
func retryable(err error) bool {
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
