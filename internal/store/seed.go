package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// seedRowsPerStatement bounds one multi-row INSERT: 15 columns × 500 rows
// stays far below the bind-parameter limits of both databases (65535 on
// PostgreSQL, 32766 on SQLite).
const seedRowsPerStatement = 500

// SeedCertificates inserts synthetic certificates — for scale measurements
// on test databases only — in one transaction, with their holders rows and
// a single audit entry for the whole batch. It bypasses the rules on
// purpose (no face check, no quota): it stands for months of past
// issuance, not for an application. Each certificate's FaceCheckID must be
// unique, as the schema demands, though no such face check exists.
func (s *Store) SeedCertificates(ctx context.Context, actor Actor, certs []Certificate, now time.Time) error {
	if len(certs) == 0 {
		return nil
	}
	return s.write(ctx, func(t *Tx) error {
		for start := 0; start < len(certs); start += seedRowsPerStatement {
			part := certs[start:min(start+seedRowsPerStatement, len(certs))]
			var q strings.Builder
			q.WriteString(`INSERT INTO certificates (` + certificateColumns + `) VALUES `)
			args := make([]any, 0, 13*len(part))
			for i, c := range part {
				if i > 0 {
					q.WriteString(", ")
				}
				n := len(args)
				fmt.Fprintf(&q, "($%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, 'active', $%d, NULL, NULL, 'app', NULL, NULL, NULL, NULL, NULL, NULL)",
					n+1, n+2, n+3, n+4, n+5, n+6, n+7, n+8, n+9, n+10, n+11, n+12)
				args = append(args, c.ID, c.HolderIndex, c.AccountID, c.FaceCheckID, c.NameCT, c.IDNumberCT,
					c.NameMasked, c.IDMasked, c.CityCode, ms(c.IssuedAt), ms(c.ExpiresAt), ms(c.IssuedAt))
			}
			if _, err := t.exec(ctx, q.String(), args...); err != nil {
				return err
			}
			q.Reset()
			q.WriteString(`INSERT INTO holders (id_index, version) VALUES `)
			hargs := make([]any, 0, len(part))
			for i, c := range part {
				if i > 0 {
					q.WriteString(", ")
				}
				fmt.Fprintf(&q, "($%d, 1)", i+1)
				hargs = append(hargs, c.HolderIndex)
			}
			q.WriteString(` ON CONFLICT (id_index) DO NOTHING`)
			if _, err := t.exec(ctx, q.String(), hargs...); err != nil {
				return err
			}
		}
		return t.audit(ctx, now, actor, "certificate.seed", "certificates", map[string]any{
			"count": len(certs), "first": certs[0].ID, "last": certs[len(certs)-1].ID,
		})
	})
}

// CountCertificates counts every certificate in the database, whatever its
// status: what load and crash tests reconcile against the 201s they saw.
func (s *Store) CountCertificates(ctx context.Context) (int64, error) {
	var n int64
	err := s.queryRow(ctx, `SELECT count(*) FROM certificates`).Scan(&n)
	return n, classify(err)
}

// SizeBytes is the space the database takes: on SQLite the main file
// after a WAL checkpoint (free pages included), on PostgreSQL the total
// size of the tables of the current schema with their indexes and TOAST.
func (s *Store) SizeBytes(ctx context.Context) (int64, error) {
	var n int64
	if s.dialect.name == "sqlite" {
		// The checkpoint moves the WAL into the main file, so the page
		// count is the whole database.
		if _, err := s.w.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
			return 0, err
		}
		var pages, size int64
		if err := s.queryRow(ctx, `PRAGMA page_count`).Scan(&pages); err != nil {
			return 0, err
		}
		if err := s.queryRow(ctx, `PRAGMA page_size`).Scan(&size); err != nil {
			return 0, err
		}
		return pages * size, nil
	}
	err := s.queryRow(ctx, `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = current_schema() AND c.relkind = 'r'`).Scan(&n)
	return n, classify(err)
}
