package store

import (
	"context"
	"database/sql"
	"time"
)

// ConsentFaceRecognition is the consent to face recognition (PIPL art.
// 28–29): the passenger's face is compared for a check and not kept.
const ConsentFaceRecognition = "face_recognition"

// Consent is one consent of an account: given at a time, standing until
// it is withdrawn.
type Consent struct {
	ID          string
	AccountID   string
	Purpose     string
	GivenAt     time.Time
	WithdrawnAt time.Time
}

// giveFaceConsent records that an account consented to face recognition,
// unless a consent of it still stands. Guests and kiosk customers consent
// with each check and have no account to record it on.
func (t *Tx) giveFaceConsent(ctx context.Context, actor Actor, accountID string, now time.Time) error {
	if accountID == GuestAccountID || accountID == KioskAccountID {
		return nil
	}
	id := NewIDAt(now)
	res, err := t.exec(ctx, `INSERT INTO consents (id, account_id, purpose, given_at, withdrawn_at)
		SELECT $1, $2, $3, $4, NULL WHERE NOT EXISTS (
			SELECT 1 FROM consents WHERE account_id = $2 AND purpose = $3 AND withdrawn_at IS NULL)`,
		id, accountID, ConsentFaceRecognition, ms(now))
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil
	}
	return t.audit(ctx, now, actor, "consent.give", "account:"+accountID, map[string]any{"purpose": ConsentFaceRecognition, "consent": id})
}

// WithdrawFaceConsent withdraws an account's consent to face recognition:
// the standing consent ends now, and the account's pending face checks
// expire now, their sealed subject and provider session cleared, so that
// no check started under the consent can be completed after it. The next
// check needs consent again. It returns whether a consent stood; the
// withdrawal is audited either way.
func (s *Store) WithdrawFaceConsent(ctx context.Context, actor Actor, accountID string, now time.Time) (bool, error) {
	stood := false
	err := s.write(ctx, func(t *Tx) error {
		res, err := t.exec(ctx, `UPDATE consents SET withdrawn_at = $1 WHERE account_id = $2 AND purpose = $3 AND withdrawn_at IS NULL`,
			ms(now), accountID, ConsentFaceRecognition)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		stood = n > 0
		ended, err := t.endPendingFaceChecks(ctx, accountID, now)
		if err != nil {
			return err
		}
		return t.audit(ctx, now, actor, "consent.withdraw", "account:"+accountID, map[string]any{
			"purpose": ConsentFaceRecognition, "stood": stood, "pending_checks_ended": ended,
		})
	})
	return stood, err
}

// endPendingFaceChecks makes an account's pending face checks expire now
// and clears what they kept for their provider.
func (t *Tx) endPendingFaceChecks(ctx context.Context, accountID string, now time.Time) (int64, error) {
	res, err := t.exec(ctx, `UPDATE face_checks SET expires_at = $1, subject_sealed = NULL, provider_token = NULL
		WHERE account_id = $2 AND status = 'pending' AND expires_at > $1`, ms(now), accountID)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// ConsentsOf lists an account's consents, oldest first (of two given in
// the same millisecond, the withdrawn one first: it was given first).
func (s *Store) ConsentsOf(ctx context.Context, accountID string) ([]Consent, error) {
	return queryAll(ctx, s, func(row interface{ Scan(...any) error }) (Consent, error) {
		c := Consent{AccountID: accountID}
		var given int64
		var withdrawn sql.NullInt64
		err := row.Scan(&c.ID, &c.Purpose, &given, &withdrawn)
		c.GivenAt, c.WithdrawnAt = fromMS(given), nullMS(withdrawn)
		return c, err
	}, `SELECT id, purpose, given_at, withdrawn_at FROM consents WHERE account_id = $1
		ORDER BY given_at, withdrawn_at IS NULL, id`, accountID)
}
