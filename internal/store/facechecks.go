package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"time"

	"tempid/internal/problem"
)

// FaceCheck is a face-check session: started for a subject (apply) or a
// certificate (view) and a device key, completed with a provider's result,
// used at most once. No capture is ever stored, only the result.
type FaceCheck struct {
	ID            string
	AccountID     string
	SessionID     string
	Purpose       string // "apply" or "view"
	SubjectIndex  []byte // blind index of the subject's ID number
	NameIndex     []byte // blind index of the subject's name
	NameMasked    string
	CertificateID string // view checks only
	DeviceKey     []byte // 33-byte compressed P-256 key
	DeviceKeyHash []byte
	Provider      string
	Status        string // "pending", "passed", "failed"
	Reason        string
	Score         float64
	ProviderRef   string
	ConsentAt     time.Time
	CreatedAt     time.Time
	ExpiresAt     time.Time // a pending check must be completed before this
	CompletedAt   time.Time
	UsedAt        time.Time
	// SubjectSealed is the subject's name and ID number sealed for the
	// provider that needs them to complete the check; cleared when it
	// completes.
	SubjectSealed []byte
	// ProviderToken is a hosted provider's session token (the vendor's
	// page completes the check); empty for checks completed by a capture.
	ProviderToken string
	// RedirectURL is where a hosted check sends the passenger; it is
	// answered when the check starts and not stored.
	RedirectURL string
}

// Face-check statuses and purposes.
const (
	FacePending = "pending"
	FacePassed  = "passed"
	FaceFailed  = "failed"

	PurposeApply = "apply"
	PurposeView  = "view"
)

const faceCheckColumns = `id, account_id, session_id, purpose, subject_index, name_index, name_masked, certificate_id,
	device_key, device_key_hash, provider, status, reason, score, provider_ref, consent_at, created_at, expires_at,
	completed_at, used_at, subject_sealed, provider_token`

func scanFaceCheck(row interface{ Scan(...any) error }) (FaceCheck, error) {
	var f FaceCheck
	var cert, reason, ref, token sql.NullString
	var score sql.NullFloat64
	var consent, created, expires int64
	var completed, used sql.NullInt64
	err := row.Scan(&f.ID, &f.AccountID, &f.SessionID, &f.Purpose, &f.SubjectIndex, &f.NameIndex, &f.NameMasked, &cert,
		&f.DeviceKey, &f.DeviceKeyHash, &f.Provider, &f.Status, &reason, &score, &ref, &consent, &created, &expires,
		&completed, &used, &f.SubjectSealed, &token)
	if errors.Is(err, sql.ErrNoRows) {
		return f, ErrNotFound
	}
	if err != nil {
		return f, err
	}
	f.CertificateID, f.Reason, f.ProviderRef, f.Score = cert.String, reason.String, ref.String, score.Float64
	f.ProviderToken = token.String
	f.ConsentAt, f.CreatedAt, f.ExpiresAt = fromMS(consent), fromMS(created), fromMS(expires)
	f.CompletedAt, f.UsedAt = nullMS(completed), nullMS(used)
	return f, nil
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// CreateFaceCheck records a new pending face check with its consent, and
// the account's standing consent to face recognition when none stands
// (a withdrawal ended it).
func (s *Store) CreateFaceCheck(ctx context.Context, actor Actor, f FaceCheck) error {
	return s.write(ctx, func(t *Tx) error {
		_, err := t.exec(ctx, `INSERT INTO face_checks (`+faceCheckColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, NULL, NULL, NULL, $13, $14, $15, NULL, NULL, $16, $17)`,
			f.ID, f.AccountID, f.SessionID, f.Purpose, f.SubjectIndex, f.NameIndex, f.NameMasked, nullString(f.CertificateID),
			f.DeviceKey, f.DeviceKeyHash, f.Provider, FacePending, ms(f.ConsentAt), ms(f.CreatedAt), ms(f.ExpiresAt),
			f.SubjectSealed, nullString(f.ProviderToken))
		if err != nil {
			return err
		}
		if err := t.giveFaceConsent(ctx, actor, f.AccountID, f.ConsentAt); err != nil {
			return err
		}
		return t.audit(ctx, f.CreatedAt, actor, "face_check.start", "face_check:"+f.ID, map[string]any{
			"purpose": f.Purpose, "subject": f.NameMasked, "provider": f.Provider, "consent_at": f.ConsentAt,
			"certificate": f.CertificateID,
		})
	})
}

// FaceCheck returns one face check.
func (s *Store) FaceCheck(ctx context.Context, id string) (FaceCheck, error) {
	// An application reads its face check first: a hot read.
	f, err := scanFaceCheck(s.hotRead(ctx, `SELECT `+faceCheckColumns+` FROM face_checks WHERE id = $1`, id))
	return f, classify(err)
}

// FaceResult is what a provider concluded.
type FaceResult struct {
	Passed    bool
	Score     float64
	Reason    string
	Reference string
}

// CompleteFaceCheck stores the result of a pending check. Only a pending,
// unexpired check of the same account can be completed, once.
func (s *Store) CompleteFaceCheck(ctx context.Context, actor Actor, id, accountID string, r FaceResult, now time.Time) (FaceCheck, error) {
	var out FaceCheck
	err := s.write(ctx, func(t *Tx) error {
		f, err := scanFaceCheck(t.queryRow(ctx, `SELECT `+faceCheckColumns+` FROM face_checks WHERE id = $1`+s.dialect.lockRow, id))
		if errors.Is(err, ErrNotFound) || (err == nil && f.AccountID != accountID) {
			return problem.New(problem.NotFound, "no such face check")
		}
		if err != nil {
			return err
		}
		if f.Status != FacePending {
			return problem.New(problem.FaceCheckUsed, "this face check already has a result; start a new one")
		}
		if !now.Before(f.ExpiresAt) {
			return problem.New(problem.FaceCheckExpired, "this face check has expired; start a new one")
		}
		status := FaceFailed
		if r.Passed {
			status = FacePassed
		}
		res, err := t.exec(ctx, `UPDATE face_checks SET status = $1, reason = $2, score = $3, provider_ref = $4, completed_at = $5,
			subject_sealed = NULL WHERE id = $6 AND status = 'pending'`, status, nullString(r.Reason), r.Score, nullString(r.Reference), ms(now), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return problem.New(problem.FaceCheckUsed, "this face check already has a result; start a new one")
		}
		f.Status, f.Reason, f.Score, f.ProviderRef, f.CompletedAt = status, r.Reason, r.Score, r.Reference, now
		f.SubjectSealed = nil
		out = f
		return t.audit(ctx, now, actor, "face_check."+status, "face_check:"+id, map[string]any{
			"purpose": f.Purpose, "subject": f.NameMasked, "reason": r.Reason, "score": r.Score,
		})
	})
	return out, err
}

// FaceCheckUse says what a face check must be to authorise an action.
type FaceCheckUse struct {
	ID            string
	AccountID     string
	Purpose       string
	SubjectIndex  []byte // apply: the subject of the application
	NameIndex     []byte // apply: the name of the application
	CertificateID string // view: the certificate to be viewed
	// HolderIndex, for a view check that names a person rather than a
	// certificate (a guest's), is the holder of the certificate to be
	// viewed: the check's subject must be that person.
	HolderIndex []byte
	Now         time.Time
	// Window is how long after passing the check may be used.
	Window time.Duration
}

// useFaceCheck consumes a passed face check inside a transaction. The
// conditional UPDATE is what makes the use one-time: of two transactions
// using the same check, only one changes the row.
func (t *Tx) useFaceCheck(ctx context.Context, u FaceCheckUse) (FaceCheck, error) {
	// Mark the check used and read it back in one statement; if it is not
	// usable after all, the caller's error rolls the mark back. Only when
	// nothing was marked is the check read again, to say why.
	f, err := scanFaceCheck(t.queryRow(ctx, `UPDATE face_checks SET used_at = $1
		WHERE id = $2 AND account_id = $3 AND status = 'passed' AND used_at IS NULL
		RETURNING `+faceCheckColumns, ms(u.Now), u.ID, u.AccountID))
	if errors.Is(err, ErrNotFound) {
		f, err = scanFaceCheck(t.queryRow(ctx, `SELECT `+faceCheckColumns+` FROM face_checks WHERE id = $1`, u.ID))
		if errors.Is(err, ErrNotFound) || (err == nil && f.AccountID != u.AccountID) {
			return f, problem.New(problem.NotFound, "no such face check")
		}
		if err != nil {
			return f, err
		}
		if err := faceCheckUsable(f, u); err != nil {
			return f, err
		}
		// Usable when read, so another transaction used it first.
		return f, problem.New(problem.FaceCheckUsed, "this face check has already been used; verify your face again")
	}
	if err != nil {
		return f, err
	}
	// The row as it was: faceCheckUsable judges the check, not our mark.
	f.UsedAt = time.Time{}
	if err := faceCheckUsable(f, u); err != nil {
		return f, err
	}
	f.UsedAt = u.Now
	return f, nil
}

// UsableFor explains why the check, as read, cannot authorise u, if it
// cannot: what a guest's pass request must know before it may say whether
// the person has a certificate. Using the check is still decided in the
// transaction that consumes it.
func (f FaceCheck) UsableFor(u FaceCheckUse) error { return faceCheckUsable(f, u) }

// faceCheckUsable explains why a check cannot authorise u, if it cannot.
func faceCheckUsable(f FaceCheck, u FaceCheckUse) error {
	switch {
	case f.Status != FacePassed:
		return problem.New(problem.FaceCheckNotPassed, "the face check has not passed")
	case !f.UsedAt.IsZero():
		return problem.New(problem.FaceCheckUsed, "this face check has already been used; verify your face again")
	case u.Now.Sub(f.CompletedAt) > u.Window:
		return problem.New(problem.FaceCheckExpired, "the face check passed more than %s ago; verify your face again", u.Window)
	case f.Purpose != u.Purpose:
		return problem.New(problem.FaceCheckMismatch, "the face check was made to %s, not to %s", f.Purpose, u.Purpose)
	case u.Purpose == PurposeApply && (!bytes.Equal(f.SubjectIndex, u.SubjectIndex) || !bytes.Equal(f.NameIndex, u.NameIndex)):
		return problem.New(problem.FaceCheckMismatch, "the face check was made for another person")
	case u.Purpose == PurposeView && u.HolderIndex != nil && (f.CertificateID != "" || !bytes.Equal(f.SubjectIndex, u.HolderIndex)):
		return problem.New(problem.FaceCheckMismatch, "the face check was made for another person")
	case u.Purpose == PurposeView && u.HolderIndex == nil && f.CertificateID != u.CertificateID:
		return problem.New(problem.FaceCheckMismatch, "the face check was made for another certificate")
	}
	return nil
}

// FaceFailures summarises a subject's recent failed face checks, for the
// throttle: failures since the last pass, the time of the last failure, and
// failures since a point in time.
type FaceFailures struct {
	Consecutive int
	LastFailure time.Time
	InWindow    int
	// OldestInWindow is the earliest failure counted in InWindow.
	OldestInWindow time.Time
}

// FaceFailuresOf counts a subject's failures.
func (s *Store) FaceFailuresOf(ctx context.Context, subjectIndex []byte, since time.Time) (FaceFailures, error) {
	var f FaceFailures
	var lastPass, lastFail, oldest sql.NullInt64
	err := s.queryRow(ctx, `SELECT
			(SELECT max(completed_at) FROM face_checks WHERE subject_index = $1 AND status = 'passed'),
			(SELECT max(completed_at) FROM face_checks WHERE subject_index = $1 AND status = 'failed'),
			(SELECT count(*) FROM face_checks WHERE subject_index = $1 AND status = 'failed' AND completed_at >= $2),
			(SELECT min(completed_at) FROM face_checks WHERE subject_index = $1 AND status = 'failed' AND completed_at >= $2)`,
		subjectIndex, ms(since)).Scan(&lastPass, &lastFail, &f.InWindow, &oldest)
	if err != nil {
		return f, classify(err)
	}
	f.LastFailure, f.OldestInWindow = nullMS(lastFail), nullMS(oldest)
	after := int64(-1)
	if lastPass.Valid {
		after = lastPass.Int64
	}
	err = s.queryRow(ctx, `SELECT count(*) FROM face_checks WHERE subject_index = $1 AND status = 'failed' AND completed_at > $2`,
		subjectIndex, after).Scan(&f.Consecutive)
	return f, classify(err)
}
