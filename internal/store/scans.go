package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// OfflineScan is a scan a terminal verified offline and uploaded: what the
// terminal answered, and the server's re-verification of the code as of
// the scan's time.
type OfflineScan struct {
	// ClientID is the terminal's unique id of the scan.
	ClientID string
	// Verification is the scan as recorded: At is the scan's time, Verdict
	// and Reason the terminal's answer, CertificateID and Step the code's
	// when the server found the pass signed by the issuer.
	Verification Verification
	// ServerVerdict and ServerReason are the server's re-verification.
	ServerVerdict string
	ServerReason  string
	// Claim is set when the code was used: the terminal let it through and
	// the server agrees it was valid then. The code is then claimed as an
	// online verification claims it, and a code already claimed makes the
	// scan an after-the-fact replay.
	Claim bool
	// Slip marks a scan of a paper slip: it has no step and is never
	// claimed. Admitted marks a slip admitted, a valid entry by the
	// terminal and by the server: it is then used_elsewhere when the same
	// certificate was admitted at another station within ElsewhereWindow
	// before or after it (offline scans arrive late and in any order).
	Slip            bool
	Admitted        bool
	ElsewhereWindow time.Duration
}

// ScanOutcome is what became of one uploaded scan.
type ScanOutcome struct {
	ClientID string
	// Duplicate is set when the terminal had uploaded this scan before;
	// the fields below are then the scan as first stored.
	Duplicate bool
	// Replay is set for an after-the-fact replay.
	Replay bool
	// UsedElsewhere is set for an admitted slip that was admitted at
	// another station within the window.
	UsedElsewhere bool
	ServerVerdict string
	ServerReason  string

	verificationID string // of a duplicate: the scan as first stored
}

// RecordOfflineScans records the scans a terminal uploaded, in order, in
// one transaction with an audit entry each. A scan whose client id the
// terminal used before is not stored again but reported as a duplicate,
// however often and however concurrently its batch is sent: the key
// (terminal, client id) is inserted first, and on PostgreSQL a second
// transaction inserting the same key waits for the first and then finds
// it. A scan to claim is claimed with the same upsert as an online
// verification (RecordVerification), so an offline use and an online one
// of the same code are told apart by the database alone.
func (s *Store) RecordOfflineScans(ctx context.Context, actor Actor, terminalID string, scans []OfflineScan, now time.Time) ([]ScanOutcome, error) {
	var out []ScanOutcome
	err := s.write(ctx, func(t *Tx) error {
		out = make([]ScanOutcome, 0, len(scans))
		for _, sc := range scans {
			o, err := t.recordOfflineScan(ctx, actor, terminalID, sc, now)
			if err != nil {
				return err
			}
			out = append(out, o)
		}
		return nil
	})
	return out, err
}

func (t *Tx) recordOfflineScan(ctx context.Context, actor Actor, terminalID string, sc OfflineScan, now time.Time) (ScanOutcome, error) {
	v := sc.Verification
	o := ScanOutcome{ClientID: sc.ClientID, ServerVerdict: sc.ServerVerdict, ServerReason: sc.ServerReason}
	var id string
	err := t.queryRow(ctx, `INSERT INTO terminal_scans (terminal_id, client_id, verification_id) VALUES ($1, $2, $3)
		ON CONFLICT (terminal_id, client_id) DO NOTHING RETURNING verification_id`, terminalID, sc.ClientID, v.ID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		o, err := t.storedScan(ctx, terminalID, sc.ClientID)
		if err == nil && sc.Slip && sc.Admitted {
			o.UsedElsewhere, err = t.slipUsedElsewhere(ctx, sc, o.verificationID)
		}
		return o, err
	}
	if err != nil {
		return o, err
	}
	if sc.Claim && !sc.Slip {
		bit, ok := operationBits[v.Operation]
		if !ok {
			return o, fmt.Errorf("record offline scan: unknown operation %q", v.Operation)
		}
		var first int
		err := t.queryRow(ctx, claimCode, v.CertificateID, v.Step, v.Verifier, bit).Scan(&first)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			v.Replay, o.Replay = true, true
		case err != nil:
			return o, err
		}
	}
	var step sql.NullInt64
	if v.CertificateID != "" && !sc.Slip {
		step = sql.NullInt64{Int64: v.Step, Valid: true}
	}
	if _, err := t.exec(ctx, `INSERT INTO verifications (id, certificate_id, step, operation, verifier, station_code, verdict, reason, replay, at,
			offline, server_verdict, server_reason, recorded_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, TRUE, $11, $12, $13)`,
		v.ID, nullString(v.CertificateID), step, v.Operation, v.Verifier, nullString(v.StationCode),
		v.Verdict, nullString(v.Reason), v.Replay, ms(v.At), sc.ServerVerdict, nullString(sc.ServerReason), ms(now)); err != nil {
		return o, err
	}
	detail := v.auditDetail()
	detail.Offline, detail.ScannedAt, detail.ServerVerdict, detail.ServerReason = true, v.At, sc.ServerVerdict, sc.ServerReason
	if v.Replay {
		detail.AfterTheFact = ReasonReplayed
	}
	if sc.Slip && sc.Admitted {
		if o.UsedElsewhere, err = t.slipUsedElsewhere(ctx, sc, v.ID); err != nil {
			return o, err
		}
		if o.UsedElsewhere {
			detail.AfterTheFact = "used_elsewhere"
		}
	}
	return o, t.audit(ctx, now, actor, "verification", v.auditObject(), detail)
}

// slipUsedElsewhere tells whether the certificate of an admitted slip scan
// was admitted (a valid entry) at another station within the window around
// the scan, the scan's own record (self) aside.
func (t *Tx) slipUsedElsewhere(ctx context.Context, sc OfflineScan, self string) (bool, error) {
	v := sc.Verification
	var n int
	err := t.queryRow(ctx, `SELECT count(*) FROM verifications WHERE certificate_id = $1 AND step IS NULL AND operation = 'entry'
		AND verdict = 'valid' AND at >= $2 AND at <= $3 AND coalesce(station_code, '') <> $4 AND id <> $5`,
		v.CertificateID, ms(v.At.Add(-sc.ElsewhereWindow)), ms(v.At.Add(sc.ElsewhereWindow)), v.StationCode, self).Scan(&n)
	return n > 0, err
}

// storedScan reads back a scan stored before, for a duplicate upload.
func (t *Tx) storedScan(ctx context.Context, terminalID, clientID string) (ScanOutcome, error) {
	o := ScanOutcome{ClientID: clientID, Duplicate: true}
	var reason sql.NullString
	err := t.queryRow(ctx, `SELECT v.id, v.replay, v.server_verdict, v.server_reason FROM terminal_scans s
		JOIN verifications v ON v.id = s.verification_id WHERE s.terminal_id = $1 AND s.client_id = $2`,
		terminalID, clientID).Scan(&o.verificationID, &o.Replay, &o.ServerVerdict, &reason)
	o.ServerReason = reason.String
	return o, err
}

// AfterTheFactReplay is an offline scan found, on upload, to have used a
// code that had already been used: at another terminal or counter, or at
// the same terminal for the same operation.
type AfterTheFactReplay struct {
	VerificationID string
	At             time.Time // when the terminal scanned the code
	RecordedAt     time.Time // when the scan reached the server
	StationCode    string
	TerminalID     string
	TerminalName   string
	Operation      string
	CertificateID  string
	Step           int64
	// Certificate is the certificate as it is now, for its status and
	// masked holder; zero when the database no longer knows it.
	Certificate Certificate
}

// AfterTheFactReplays lists the after-the-fact replays scanned in [from,
// to), newest first, at most limit.
func (s *Store) AfterTheFactReplays(ctx context.Context, from, to time.Time, limit int) ([]AfterTheFactReplay, error) {
	rows, err := s.query(ctx, `SELECT v.id, v.at, v.recorded_at, v.station_code, v.verifier, coalesce(tm.name, ''), v.operation,
			v.certificate_id, v.step, coalesce(c.status, ''), coalesce(c.expires_at, 0), coalesce(c.name_masked, ''), coalesce(c.id_masked, '')
		FROM verifications v
		LEFT JOIN terminals tm ON v.verifier = 'terminal:' || tm.id
		LEFT JOIN certificates c ON c.id = v.certificate_id
		WHERE v.offline AND v.replay AND v.at >= $1 AND v.at < $2
		ORDER BY v.at DESC, v.id DESC LIMIT $3`, ms(from), ms(to), max(limit, 0))
	if err != nil {
		return nil, classify(err)
	}
	defer rows.Close()
	var out []AfterTheFactReplay
	for rows.Next() {
		var r AfterTheFactReplay
		var at, expires int64
		var recorded sql.NullInt64
		var station, cert sql.NullString
		var step sql.NullInt64
		var verifier string
		if err := rows.Scan(&r.VerificationID, &at, &recorded, &station, &verifier, &r.TerminalName, &r.Operation,
			&cert, &step, &r.Certificate.Status, &expires, &r.Certificate.NameMasked, &r.Certificate.IDMasked); err != nil {
			return nil, err
		}
		r.At, r.RecordedAt, r.StationCode = fromMS(at), nullMS(recorded), station.String
		r.TerminalID = terminalOf(verifier)
		r.CertificateID, r.Step = cert.String, step.Int64
		if r.Certificate.Status != "" {
			r.Certificate.ID, r.Certificate.ExpiresAt = cert.String, fromMS(expires)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func terminalOf(verifier string) string {
	const prefix = "terminal:"
	if len(verifier) > len(prefix) && verifier[:len(prefix)] == prefix {
		return verifier[len(prefix):]
	}
	return ""
}
