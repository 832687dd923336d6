package store

import (
	"context"
	"errors"
	"time"
)

// ExecForTest runs raw SQL, for tests that play an attacker with database
// access.
func ExecForTest(s *Store, q string, args ...any) error {
	_, err := s.w.ExecContext(context.Background(), q, args...)
	return err
}

// CountForTest counts the rows of a table.
func CountForTest(s *Store, table string) (int, error) {
	var n int
	err := s.r.QueryRowContext(context.Background(), `SELECT count(*) FROM `+table).Scan(&n)
	return n, err
}

// RowsForTest reads every row of a query: its column names, and each row
// as the values the driver gives.
func RowsForTest(s *Store, q string, args ...any) ([]string, [][]any, error) {
	rows, err := s.r.QueryContext(context.Background(), q, args...)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, nil, err
	}
	var all [][]any
	for rows.Next() {
		row := make([]any, len(cols))
		dest := make([]any, len(cols))
		for i := range row {
			dest[i] = &row[i]
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, nil, err
		}
		all = append(all, row)
	}
	return cols, all, rows.Err()
}

// OpenAtForTest opens a store migrated only up to a version ("0014" is
// every migration before 0014), to test the migrations after it on data
// written before them, by raw SQL or through the store as Open's writes.
func OpenAtForTest(ctx context.Context, o Options, upTo string) (*Store, error) {
	s, err := open(o)
	if err != nil {
		return nil, err
	}
	if err := s.migrate(ctx, upTo); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.start(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// AuditForTest writes one audit entry in a write of its own, and when fail
// is set makes that write fail after the entry is linked.
func AuditForTest(ctx context.Context, s *Store, fail bool) error {
	return s.write(ctx, func(t *Tx) error {
		if err := t.audit(ctx, time.Now(), CLI, "test.write", "test", struct {
			Fail bool `json:"fail"`
		}{fail}); err != nil {
			return err
		}
		if fail {
			return errFailedForTest
		}
		return nil
	})
}

var errFailedForTest = errors.New("failed as the test asked")

// RecordInOneBatchForTest records claimed verifications (PostgreSQL only)
// through one run of the group-commit writer, all in one batch, and
// returns each one's outcome, unretried, as the API would tell it.
func RecordInOneBatchForTest(s *Store, actor Actor, vs []Verification) []error {
	ws := make([]pgWrite, len(vs))
	for i, v := range vs {
		ws[i] = verificationWrite(actor, v, operationBits[v.Operation], new(Verification))
		ws[i].ctx = context.Background()
	}
	errs := s.runPGBatch(ws)
	for i, err := range errs {
		errs[i] = classify(err)
	}
	return errs
}

// GroupCommitsForTest counts the batches the PostgreSQL group-commit
// writer committed.
func GroupCommitsForTest(s *Store) int64 { return s.pgCommits.Load() }

// AuditInOneBatchForTest runs writes like AuditForTest's (SQLite only)
// through one run of the group-commit writer, all in one batch, a write
// failing where fail says, and returns each one's outcome.
func AuditInOneBatchForTest(s *Store, fail []bool) []error {
	reqs := make([]writeRequest, len(fail))
	for i, f := range fail {
		reqs[i] = writeRequest{ctx: context.Background(), done: make(chan error, 1), fn: func(t *Tx) error {
			if err := t.audit(context.Background(), time.Now(), CLI, "test.write", "test", struct {
				Fail bool `json:"fail"`
			}{f}); err != nil {
				return err
			}
			if f {
				return errFailedForTest
			}
			return nil
		}}
	}
	s.runBatch(reqs)
	errs := make([]error, len(reqs))
	for i, r := range reqs {
		errs[i] = <-r.done
	}
	return errs
}

// HoldHotReadersForTest takes every hot reader (SQLite) until the returned
// func gives them back, as reads that never end would.
func HoldHotReadersForTest(s *Store) (release func()) {
	held := make([]*hotReader, 0, cap(s.hot.tokens))
	for range cap(s.hot.tokens) {
		h, _ := s.hot.get(context.Background())
		held = append(held, h)
	}
	return func() {
		for _, h := range held {
			s.hot.put(h)
		}
	}
}
