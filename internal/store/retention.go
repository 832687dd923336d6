package store

import (
	"context"
	"time"
)

// PurgePersonalData removes the sealed name and ID number of certificates
// that expired before the retention horizon, keeping the masked forms, the
// dates and the counts. It purges at most limit certificates and returns
// how many; run it until it returns less than limit.
func (s *Store) PurgePersonalData(ctx context.Context, actor Actor, expiredBefore, now time.Time, limit int) (int, error) {
	purged := 0
	err := s.write(ctx, func(t *Tx) error {
		rows, err := t.query(ctx, `SELECT id FROM certificates WHERE expires_at < $1 AND purged_at IS NULL ORDER BY expires_at LIMIT $2`,
			ms(expiredBefore), limit)
		if err != nil {
			return err
		}
		var ids []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, id := range ids {
			if _, err := t.exec(ctx, `UPDATE certificates SET name_ct = NULL, id_number_ct = NULL, purged_at = $1 WHERE id = $2`, ms(now), id); err != nil {
				return err
			}
		}
		purged = len(ids)
		if purged == 0 {
			return nil
		}
		return t.audit(ctx, now, actor, "retention.purge", "certificates", map[string]any{
			"count": purged, "expired_before": expiredBefore,
		})
	})
	return purged, err
}

// PurgeCodeClaims forgets the replay records of codes whose step is older
// than beforeStep: a code is accepted for two or three minutes at most, so
// older claims can never match again and only grow the table.
func (s *Store) PurgeCodeClaims(ctx context.Context, beforeStep int64) error {
	return s.write(ctx, func(t *Tx) error {
		_, err := t.exec(ctx, `DELETE FROM code_claims WHERE step < $1`, beforeStep)
		return err
	})
}

// PurgeThrottle forgets throttle failures recorded before a time, and the
// keys last used before it: the throttles only count failures inside their
// windows.
func (s *Store) PurgeThrottle(ctx context.Context, before time.Time) error {
	return s.write(ctx, func(t *Tx) error {
		if _, err := t.exec(ctx, `DELETE FROM throttle_events WHERE at < $1`, ms(before)); err != nil {
			return err
		}
		_, err := t.exec(ctx, `DELETE FROM throttle_keys WHERE last_at < $1`, ms(before))
		return err
	})
}

// PurgeAbandonedFaceChecks clears the sealed subject (name and ID number)
// of face checks that expired pending before a time: nobody can complete
// them any more, so their provider needs it no longer. Completed checks
// clear it when they complete. It returns how many were cleared.
func (s *Store) PurgeAbandonedFaceChecks(ctx context.Context, expiredBefore time.Time) (int, error) {
	var n int64
	err := s.write(ctx, func(t *Tx) error {
		res, err := t.exec(ctx, `UPDATE face_checks SET subject_sealed = NULL
			WHERE status = 'pending' AND expires_at < $1 AND subject_sealed IS NOT NULL`, ms(expiredBefore))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}
