package store

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"tempid/internal/problem"
)

// TestStorageFailuresAreClassifiedByCause: each storage failure becomes
// 503 unavailable with a Retry-After and its cause; a client that went
// away and ordinary errors are not storage failures.
func TestStorageFailuresAreClassifiedByCause(t *testing.T) {
	pg := func(code string) error { return fmt.Errorf("exec: %w", &pgconn.PgError{Code: code}) }
	for _, tc := range []struct {
		name  string
		err   error
		cause string
	}{
		{"PostgreSQL disk full", pg("53100"), CauseDiskFull},
		{"PostgreSQL out of memory", pg("53200"), CauseResources},
		{"PostgreSQL too many connections", pg("53300"), CauseResources},
		{"PostgreSQL I/O error", pg("58030"), CauseIOError},
		{"PostgreSQL read-only transaction (a standby)", pg("25006"), CauseReadOnly},
		{"PostgreSQL lock timeout", pg("55P03"), CauseLockTimeout},
		{"PostgreSQL serialisation failure past retries", pg("40001"), CauseLockTimeout},
		{"PostgreSQL query cancelled", pg("57014"), CauseTimeout},
		{"PostgreSQL admin shutdown", pg("57P01"), CauseConnection},
		{"PostgreSQL connection failure", pg("08006"), CauseConnection},
		{"connection refused", fmt.Errorf("dial: %w", syscall.ECONNREFUSED), CauseConnection},
		{"no space on the device", fmt.Errorf("write: %w", syscall.ENOSPC), CauseDiskFull},
		{"read-only file system", fmt.Errorf("open: %w", syscall.EROFS), CauseReadOnly},
		{"I/O error", fmt.Errorf("write: %w", syscall.EIO), CauseIOError},
		{"the request's deadline", fmt.Errorf("begin: %w", context.DeadlineExceeded), CauseTimeout},
		{"the client went away", fmt.Errorf("begin: %w", context.Canceled), ""},
		{"a unique violation", pg("23505"), ""},
		{"a plain error", errors.New("bug"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := classify(tc.err)
			if got := CauseOf(err); got != tc.cause {
				t.Fatalf("cause %q, want %q", got, tc.cause)
			}
			p, ok := problem.As(err)
			if tc.cause == "" {
				if ok {
					t.Fatalf("%v became the refusal %s", tc.err, p.Code)
				}
				return
			}
			if !ok || p.Code != problem.Unavailable || p.RetryAfter <= 0 {
				t.Fatalf("%v: %v, want unavailable with a Retry-After", tc.err, err)
			}
		})
	}
}
