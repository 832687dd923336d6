package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"tempid/internal/problem"
)

// Verification is one online verification of a scanned code, as recorded.
type Verification struct {
	ID string
	// CertificateID and Step name the code; empty and zero when the text
	// was not a code the issuer signed.
	CertificateID string
	Step          int64
	Operation     string
	Verifier      string // the actor: "terminal:<id>" or "account:<id>"
	StationCode   string
	Verdict       string // "valid" or "invalid"
	Reason        string // empty when valid
	Replay        bool
	At            time.Time
	// NameMasked and IDMasked go to the audit entry; nothing else about
	// the holder does.
	NameMasked string
	IDMasked   string
}

// Verdicts as stored.
const (
	VerdictValid   = "valid"
	VerdictInvalid = "invalid"
	// ReasonReplayed is the reason of a code used twice.
	ReasonReplayed = "replayed"
)

// RecordVerification records a verification and its audit entry in one
// transaction. When claim is set (the code passed every other check) the
// code is first claimed, and the verdict becomes a replay if
//
//   - another verifier claimed the same code (certificate and step) —
//     one code is one presentation, at one gate or counter — or
//   - this verifier already used it for the same operation.
//
// Both are primary keys with ON CONFLICT DO NOTHING, so the database, not
// a read-then-write in Go, decides which of two parallel scans is first:
// on PostgreSQL the second insert waits for the first transaction and then
// reads its row; on SQLite writers are serial.
func (s *Store) RecordVerification(ctx context.Context, actor Actor, v Verification, claim bool) (Verification, error) {
	var out Verification
	err := s.write(ctx, func(t *Tx) error {
		out = v
		if claim {
			replay, err := t.claimCode(ctx, v.CertificateID, v.Step, v.Verifier, v.Operation)
			if err != nil {
				return err
			}
			if replay {
				out.Verdict, out.Reason, out.Replay = VerdictInvalid, ReasonReplayed, true
			}
		}
		var step sql.NullInt64
		if out.CertificateID != "" {
			step = sql.NullInt64{Int64: out.Step, Valid: true}
		}
		if _, err := t.exec(ctx, `INSERT INTO verifications (id, certificate_id, step, operation, verifier, station_code, verdict, reason, replay, at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			out.ID, nullString(out.CertificateID), step, out.Operation, out.Verifier, nullString(out.StationCode),
			out.Verdict, nullString(out.Reason), out.Replay, ms(out.At)); err != nil {
			return err
		}
		object := "verification:" + out.ID
		if out.CertificateID != "" {
			object = "certificate:" + out.CertificateID
		}
		detail := map[string]any{
			"verification": out.ID, "verdict": out.Verdict, "operation": out.Operation, "replay": out.Replay,
		}
		for k, v := range map[string]string{"reason": out.Reason, "station": out.StationCode, "holder": out.NameMasked, "id_number": out.IDMasked} {
			if v != "" {
				detail[k] = v
			}
		}
		return t.audit(ctx, out.At, actor, "verification", object, detail)
	})
	return out, err
}

// claimCode claims a code for a verifier and an operation and tells
// whether it was a replay.
func (t *Tx) claimCode(ctx context.Context, certID string, step int64, verifier, operation string) (bool, error) {
	// The no-op update makes the statement return the row whoever wrote
	// it: ours, or the first verifier's (after its transaction commits).
	var owner string
	if err := t.queryRow(ctx, `INSERT INTO code_claims (certificate_id, step, verifier) VALUES ($1, $2, $3)
		ON CONFLICT (certificate_id, step) DO UPDATE SET verifier = code_claims.verifier RETURNING verifier`,
		certID, step, verifier).Scan(&owner); err != nil {
		return false, err
	}
	if owner != verifier {
		return true, nil
	}
	res, err := t.exec(ctx, `INSERT INTO code_uses (certificate_id, step, operation) VALUES ($1, $2, $3)
		ON CONFLICT (certificate_id, step, operation) DO NOTHING`, certID, step, operation)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, err
	}
	return n == 0, nil
}

// IssuePass records a pass shown after a view face check: the check is
// consumed and the pass recorded in one transaction, so one check yields
// one pass, and only for a certificate that is still active when the
// transaction runs (a revocation that commits first wins).
func (s *Store) IssuePass(ctx context.Context, actor Actor, use FaceCheckUse, p Pass) error {
	return s.write(ctx, func(t *Tx) error {
		if _, err := t.useFaceCheck(ctx, use); err != nil {
			return err
		}
		var status string
		var expires int64
		err := t.queryRow(ctx, `SELECT status, expires_at FROM certificates WHERE id = $1`, p.CertificateID).Scan(&status, &expires)
		if errors.Is(err, sql.ErrNoRows) {
			return problem.New(problem.NotFound, "no such certificate")
		}
		if err != nil {
			return err
		}
		c := Certificate{Status: status, ExpiresAt: fromMS(expires)}
		if st := c.StatusAt(use.Now); st != StatusActive {
			return problem.New(problem.ValidationFailed, "the certificate is %s and cannot be shown", st)
		}
		return t.insertPass(ctx, actor, p)
	})
}
