package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"tempid/internal/problem"
)

// ErrNotFound is returned when a row asked for does not exist.
var ErrNotFound = errors.New("store: not found")

// Causes of a storage failure, as StorageError.Cause and as the cause
// label of the storage error metric. Every one of them means the same to a
// client: nothing was changed, try again later.
const (
	// CauseDiskFull: the disk (SQLite) or the server's disk (PostgreSQL
	// 53100) is full.
	CauseDiskFull = "disk_full"
	// CauseIOError: the operating system failed a read or write
	// (SQLITE_IOERR, SQLITE_CANTOPEN, PostgreSQL class 58).
	CauseIOError = "io_error"
	// CauseReadOnly: the file system or the database accepts no writes
	// (SQLITE_READONLY, EROFS, PostgreSQL 25006 on a standby).
	CauseReadOnly = "read_only"
	// CauseLockTimeout: another writer held the lock too long (SQLite
	// busy beyond its timeout and retries, PostgreSQL 55P03, or
	// serialisation conflicts that never resolved).
	CauseLockTimeout = "lock_timeout"
	// CauseTimeout: the request's deadline passed while it waited for the
	// database: the writer queue, a lock, the pool or a query (PostgreSQL
	// 57014 when it cancelled the query).
	CauseTimeout = "timeout"
	// CauseConnection: the database cannot be reached or is shutting down
	// (PostgreSQL class 08, 57P01–57P03).
	CauseConnection = "connection"
	// CauseResources: the database server is out of memory or connections
	// (PostgreSQL class 53 but 53100).
	CauseResources = "resources"
)

// StorageError is a failure of the storage itself, not of the request:
// classify joins it to an "unavailable" refusal so that callers can count
// and log faults by cause without parsing driver errors.
type StorageError struct {
	Cause string
	Err   error
}

func (e *StorageError) Error() string { return "storage " + e.Cause + ": " + e.Err.Error() }

func (e *StorageError) Unwrap() error { return e.Err }

// CauseOf returns the storage cause in err, or "" when err is no storage
// failure.
func CauseOf(err error) string {
	var se *StorageError
	if errors.As(err, &se) {
		return se.Cause
	}
	return ""
}

// classify turns a failure of the storage — unreachable, full, broken,
// read-only, locked too long, too slow for the request's deadline — into
// the API's "unavailable" refusal with a Retry-After, so that clients are
// told nothing was changed and to retry rather than receiving an internal
// error. Refusals, a client that went away (context.Canceled) and other
// errors pass unchanged.
func classify(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := problem.As(err); ok {
		return err
	}
	if errors.As(err, new(*outcomeUnknown)) {
		// Not "nothing was changed": the COMMIT went out and its answer
		// was lost. Counted as a connection failure all the same.
		return errors.Join(problem.New(problem.Unavailable,
			"the database did not confirm the change, which may have been made; retry with the same Idempotency-Key where the request takes one, or check before trying again").Retry(time.Second),
			&StorageError{Cause: CauseConnection, Err: err})
	}
	if cause := storageCause(err); cause != "" {
		return unavailable(cause, err)
	}
	return err
}

// retryAfter is what a client is told to wait, by cause: a full or broken
// disk needs an operator, a lock or a lost connection usually clears in
// moments.
func retryAfter(cause string) time.Duration {
	switch cause {
	case CauseDiskFull, CauseIOError, CauseReadOnly, CauseResources:
		return 5 * time.Second
	}
	return time.Second
}

func unavailable(cause string, err error) error {
	return errors.Join(problem.New(problem.Unavailable, "the database is unavailable; nothing was changed, try again").Retry(retryAfter(cause)),
		&StorageError{Cause: cause, Err: err})
}

// storageCause names the storage failure err is, or "" if it is none.
func storageCause(err error) string {
	if errors.Is(err, context.Canceled) {
		return "" // the caller gave up; nothing is wrong with the storage
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return CauseTimeout
	}
	var lite *sqlite.Error
	if errors.As(err, &lite) {
		switch lite.Code() & 0xff {
		case sqlite3.SQLITE_FULL:
			return CauseDiskFull
		case sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN:
			return CauseIOError
		case sqlite3.SQLITE_READONLY:
			return CauseReadOnly
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return CauseLockTimeout
		case sqlite3.SQLITE_INTERRUPT:
			return CauseTimeout
		}
		return ""
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		switch {
		case pg.Code == "53100":
			return CauseDiskFull
		case pg.Code[:2] == "53":
			return CauseResources
		case pg.Code[:2] == "58":
			return CauseIOError
		case pg.Code == "25006":
			return CauseReadOnly
		case pg.Code == "55P03", pg.Code == "40001", pg.Code == "40P01":
			return CauseLockTimeout
		case pg.Code == "57014":
			return CauseTimeout
		case pg.Code[:2] == "08", pg.Code == "57P01", pg.Code == "57P02", pg.Code == "57P03":
			return CauseConnection
		}
		return ""
	}
	switch {
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return CauseDiskFull
	case errors.Is(err, syscall.EROFS):
		return CauseReadOnly
	case errors.Is(err, syscall.EIO):
		return CauseIOError
	}
	if isConnectionFailure(err) {
		return CauseConnection
	}
	return ""
}

func isConnectionFailure(err error) bool {
	// A connection closed under a read ends in (unexpected) EOF: pgx
	// returns it unwrapped when the server goes away mid-answer.
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		// Class 08: connection exception; 57P0x: the server is shutting
		// down or not yet accepting connections; 25006: a write reached a
		// node that is no longer the primary (it refuses writes, and the
		// connection to it is as useless as a lost one).
		return pg.Code[:2] == "08" || pg.Code == "57P01" || pg.Code == "57P02" || pg.Code == "57P03" || pg.Code == "25006"
	}
	return pgconn.SafeToRetry(err)
}
