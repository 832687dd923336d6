package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"

	"tempid/internal/problem"
)

// ErrNotFound is returned when a row asked for does not exist.
var ErrNotFound = errors.New("store: not found")

// classify turns a failure to reach the database into the API's
// "unavailable" refusal, so that clients are told to retry rather than
// receiving an internal error. Refusals and other errors pass unchanged.
func classify(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := problem.As(err); ok {
		return err
	}
	if errors.As(err, new(*outcomeUnknown)) {
		return errors.Join(problem.New(problem.Unavailable,
			"the database did not confirm the change, which may have been made; retry with the same Idempotency-Key where the request takes one, or check before trying again"), err)
	}
	if isConnectionFailure(err) {
		return unavailable(err)
	}
	return err
}

func unavailable(err error) error {
	return errors.Join(problem.New(problem.Unavailable, "the database is unavailable; nothing was changed, try again"), err)
}

func isConnectionFailure(err error) bool {
	// A connection closed under a read ends in (unexpected) EOF: pgx
	// returns it unwrapped when the server goes away mid-answer.
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
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
