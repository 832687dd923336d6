package store

import (
	"context"
	"errors"
	"strings"
)

// DumpForTest renders every row of every PostgreSQL table as text, for tests that
// search the database for data that must not be there (face images, full
// ID numbers). Byte columns appear in PostgreSQL's hex form.
func DumpForTest(s *Store) (string, error) {
	if s.dialect.name != "postgres" {
		return "", errors.New("DumpForTest: PostgreSQL only; read the SQLite files instead")
	}
	ctx := context.Background()
	rows, err := s.r.QueryContext(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()`)
	if err != nil {
		return "", err
	}
	var tables []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			rows.Close()
			return "", err
		}
		tables = append(tables, t)
	}
	rows.Close()
	var b strings.Builder
	for _, t := range tables {
		rs, err := s.r.QueryContext(ctx, `SELECT t::text FROM `+t+` t`)
		if err != nil {
			return "", err
		}
		for rs.Next() {
			var v string
			if err := rs.Scan(&v); err != nil {
				rs.Close()
				return "", err
			}
			b.WriteString(v)
			b.WriteByte('\n')
		}
		rs.Close()
	}
	return b.String(), nil
}

// ScanForTest reads one row of a query into dest, for tests that look at
// what is stored (a sealed column, a cleared one) rather than at what the
// API answers. The query uses the $1 placeholders of both dialects.
func ScanForTest(s *Store, q string, args []any, dest ...any) error {
	return s.r.QueryRowContext(context.Background(), q, args...).Scan(dest...)
}
