package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"tempid/internal/problem"
)

// What a passenger may see of their own data, and the deletion of their
// account (SPEC "Data protection and audit", data-subject rights).

// accountDevices selects the device keys that showed codes for an
// account: of the passes of the certificates it applied for, and of the
// passes shown in its sessions; per key the first and last pass, their
// number and the latest expiry of their certificates.
const accountDevices = `SELECT p.device_key_hash, min(p.issued_at) AS first_pass, max(p.issued_at) AS last_pass,
	count(*) AS passes, max(c.expires_at) AS expires_at
	FROM passes p JOIN certificates c ON c.id = p.certificate_id
	WHERE c.account_id = $1 OR p.session_id IN (SELECT id FROM sessions WHERE account_id = $1)
	GROUP BY p.device_key_hash`

// Device is a device key that showed an account's codes.
type Device struct {
	KeyHash []byte
	// FirstPass and LastPass are when it was first and last given a pass.
	FirstPass time.Time
	LastPass  time.Time
	Passes    int
	// RevokedAt is when it was put on the revocation list (logout, the
	// account's deletion); zero while it is not.
	RevokedAt time.Time
}

// DevicesOf lists the device keys that showed an account's codes, first
// authorised first.
func (s *Store) DevicesOf(ctx context.Context, accountID string) ([]Device, error) {
	return queryAll(ctx, s, func(row interface{ Scan(...any) error }) (Device, error) {
		var d Device
		var first, last int64
		var revoked sql.NullInt64
		err := row.Scan(&d.KeyHash, &first, &last, &d.Passes, &revoked)
		d.FirstPass, d.LastPass, d.RevokedAt = fromMS(first), fromMS(last), nullMS(revoked)
		return d, err
	}, `SELECT d.device_key_hash, d.first_pass, d.last_pass, d.passes, r.revoked_at
		FROM (`+accountDevices+`) AS d
		LEFT JOIN revoked_devices r ON r.device_key_hash = d.device_key_hash
		ORDER BY d.first_pass, d.device_key_hash`, accountID)
}

// SessionsOf lists an account's login sessions, newest first. The token
// is not among them: only its hash is stored, and it is not shown.
func (s *Store) SessionsOf(ctx context.Context, accountID string) ([]Session, error) {
	return queryAll(ctx, s, func(row interface{ Scan(...any) error }) (Session, error) {
		se := Session{AccountID: accountID}
		var created, expires int64
		var ended sql.NullInt64
		err := row.Scan(&se.ID, &created, &expires, &ended)
		se.CreatedAt, se.ExpiresAt, se.EndedAt = fromMS(created), fromMS(expires), nullMS(ended)
		return se, err
	}, `SELECT id, created_at, expires_at, ended_at FROM sessions WHERE account_id = $1 ORDER BY created_at DESC, id`, accountID)
}

// FaceChecksOf lists an account's face checks, newest first: their
// results, never an image (none is stored).
func (s *Store) FaceChecksOf(ctx context.Context, accountID string) ([]FaceCheck, error) {
	return queryAll(ctx, s, scanFaceCheck, `SELECT `+faceCheckColumns+` FROM face_checks WHERE account_id = $1 ORDER BY created_at DESC, id`, accountID)
}

// AllCertificatesOfAccount lists every certificate an account applied
// for, newest first.
func (s *Store) AllCertificatesOfAccount(ctx context.Context, accountID string) ([]Certificate, error) {
	return s.certificates(ctx, `SELECT `+certificateColumns+` FROM certificates WHERE account_id = $1 ORDER BY issued_at DESC`, accountID)
}

// AccountDeletion is what deleting an account ended and erased.
type AccountDeletion struct {
	SessionsEnded     int64
	DevicesRevoked    int
	TravellersRemoved int64
	FaceChecksEnded   int64
}

// DeletedUsername is the username a deleted account keeps: sign-up
// refuses its characters, so no one can log in with it or take it, and
// the username the passenger chose is free again.
func DeletedUsername(id string) string { return "(deleted:" + id + ")" }

// DeleteAccount deletes a passenger's account at their request, in one
// transaction with its audit entry:
//
//   - every session of the account ends;
//   - the device keys that showed its codes (DevicesOf) go on the
//     revocation list until their certificates expire, so their codes
//     answer device_revoked;
//   - its pending face checks expire, and its standing consent is
//     withdrawn;
//   - its saved travellers and its stored Idempotency-Key answers (which
//     hold a sealed pass) are deleted;
//   - the account's sealed name, ID number and phone, its blind index, its
//     masked identity and its password hash are erased, its username is
//     replaced by DeletedUsername, and it is disabled and marked deleted.
//
// The certificates it applied for stay, as retention keeps every
// certificate: they count for the monthly quota (R2) and are purged of
// personal data at the retention horizon like any other. Face-check
// results stay too (their blind indexes keep the failure throttle), with
// nothing sealed left in them.
func (s *Store) DeleteAccount(ctx context.Context, actor Actor, accountID string, now time.Time) (AccountDeletion, error) {
	var out AccountDeletion
	err := s.write(ctx, func(t *Tx) error {
		out = AccountDeletion{}
		var role string
		var deleted sql.NullInt64
		err := t.queryRow(ctx, `SELECT role, deleted_at FROM accounts WHERE id = $1`+s.dialect.lockRow, accountID).Scan(&role, &deleted)
		if errors.Is(err, sql.ErrNoRows) || deleted.Valid {
			return problem.New(problem.NotFound, "no such account")
		}
		if err != nil {
			return err
		}
		if role != RolePassenger || accountID == GuestAccountID || accountID == KioskAccountID {
			return problem.New(problem.Forbidden, "only a passenger account can be deleted by its holder")
		}
		// The device keys first: they are found through the sessions too.
		n, err := t.revokeDevices(ctx, now, `SELECT device_key_hash, expires_at FROM (`+accountDevices+`) AS d`, accountID)
		if err != nil {
			return err
		}
		out.DevicesRevoked = n
		res, err := t.exec(ctx, `UPDATE sessions SET ended_at = $1 WHERE account_id = $2 AND ended_at IS NULL`, ms(now), accountID)
		if err != nil {
			return err
		}
		out.SessionsEnded, _ = res.RowsAffected()
		if out.FaceChecksEnded, err = t.endPendingFaceChecks(ctx, accountID, now); err != nil {
			return err
		}
		if _, err := t.exec(ctx, `UPDATE face_checks SET subject_sealed = NULL, provider_token = NULL
			WHERE account_id = $1 AND (subject_sealed IS NOT NULL OR provider_token IS NOT NULL)`, accountID); err != nil {
			return err
		}
		if _, err := t.exec(ctx, `UPDATE consents SET withdrawn_at = $1 WHERE account_id = $2 AND withdrawn_at IS NULL`, ms(now), accountID); err != nil {
			return err
		}
		res, err = t.exec(ctx, `DELETE FROM travellers WHERE account_id = $1`, accountID)
		if err != nil {
			return err
		}
		out.TravellersRemoved, _ = res.RowsAffected()
		if _, err := t.exec(ctx, `DELETE FROM idempotency_keys WHERE scope = $1`, "account:"+accountID); err != nil {
			return err
		}
		if _, err := t.exec(ctx, `UPDATE accounts SET username = $1, password_hash = '', name_ct = NULL, id_number_ct = NULL,
			id_index = NULL, phone_ct = NULL, name_masked = '', id_masked = '', disabled_at = $2, deleted_at = $2 WHERE id = $3`,
			DeletedUsername(accountID), ms(now), accountID); err != nil {
			return err
		}
		return t.audit(ctx, now, actor, "account.delete", "account:"+accountID, map[string]any{
			"sessions_ended": out.SessionsEnded, "devices_revoked": out.DevicesRevoked,
			"travellers_removed": out.TravellersRemoved, "face_checks_ended": out.FaceChecksEnded,
		})
	})
	return out, err
}

// revokeDevices puts the device keys a query selects (each key's hash and
// the latest expiry of its certificates) on the revocation list until that
// expiry, keeping a later one already
// there; keys whose certificates have all expired need no entry. It
// returns how many keys it listed.
func (t *Tx) revokeDevices(ctx context.Context, now time.Time, q string, args ...any) (int, error) {
	rows, err := t.query(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	type dev struct {
		hash    []byte
		expires int64
	}
	var devs []dev
	for rows.Next() {
		var d dev
		if err := rows.Scan(&d.hash, &d.expires); err != nil {
			rows.Close()
			return 0, err
		}
		if d.expires > ms(now) {
			devs = append(devs, d)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	for _, d := range devs {
		if _, err := t.exec(ctx, `INSERT INTO revoked_devices (device_key_hash, revoked_at, expires_at) VALUES ($1, $2, $3)
			ON CONFLICT (device_key_hash) DO UPDATE SET expires_at = CASE WHEN excluded.expires_at > revoked_devices.expires_at
			THEN excluded.expires_at ELSE revoked_devices.expires_at END`, d.hash, ms(now), d.expires); err != nil {
			return 0, err
		}
	}
	return len(devs), nil
}
