package store

import (
	"context"
	"database/sql"
	"time"

	"tempid/internal/problem"
)

// SlipIssuance is everything needed to issue one slip atomically.
type SlipIssuance struct {
	// Certificate is the new certificate, its Channel ChannelWindow or
	// ChannelKiosk, with the slip's record and text filled in.
	Certificate Certificate
	// FaceCheck, for a kiosk, is the passed apply check the slip consumes.
	FaceCheck *FaceCheckUse
	// Now is the issuance time.
	Now time.Time
	// DayStart and DayEnd bound the day (China Standard Time) whose slips
	// of this channel are counted against DailyLimit; a DailyLimit of zero
	// or less means no cap.
	DayStart, DayEnd time.Time
	DailyLimit       int
	// RenewalWindow is R5's: an active certificate is superseded only
	// within it, unless an officer gives SupersedeReason (window only).
	RenewalWindow time.Duration
}

// IssueSlip issues a slip if the rules allow it, in one transaction: the
// kiosk's face check is consumed, the holder's row is locked (the same lock
// as app issuance, so one person's applications through any channel are
// serialised), the day's slips of the channel are counted against the cap,
// the active certificate — whatever its channel — is superseded when R5
// allows it or, at the window, when the officer gave a reason (else 409),
// and the certificate is inserted with its audit entries.
func (s *Store) IssueSlip(ctx context.Context, actor Actor, in SlipIssuance) (Issued, error) {
	var out Issued
	err := s.write(ctx, func(t *Tx) error {
		out = Issued{}
		c := in.Certificate
		now := in.Now
		faceCheckID := "none:" + c.ID
		if in.FaceCheck != nil {
			if _, err := t.useFaceCheck(ctx, *in.FaceCheck); err != nil {
				return err
			}
			faceCheckID = in.FaceCheck.ID
		}
		if _, err := t.exec(ctx, `INSERT INTO holders (id_index, version) VALUES ($1, 1)
			ON CONFLICT (id_index) DO UPDATE SET version = holders.version + 1`, c.HolderIndex); err != nil {
			return err
		}
		var active sql.NullString
		var activeExp sql.NullInt64
		var today int
		if err := t.queryRow(ctx, `SELECT a.id, a.expires_at,
			(SELECT count(*) FROM certificates WHERE holder_index = $1 AND channel = $5 AND issued_at >= $3 AND issued_at < $4)
			FROM (SELECT 1 AS one) x LEFT JOIN (SELECT id, expires_at FROM certificates
				WHERE holder_index = $1 AND status = 'active' AND expires_at > $2 ORDER BY expires_at DESC LIMIT 1) a ON true`,
			c.HolderIndex, ms(now), ms(in.DayStart), ms(in.DayEnd), c.Channel).Scan(&active, &activeExp, &today); err != nil {
			return err
		}
		if in.DailyLimit > 0 && today >= in.DailyLimit {
			return problem.New(problem.SlipLimitReached, "%d slips have been issued for this person today; the cap resets at %s",
				today, in.DayEnd.Format(time.RFC3339)).With("resets_at", in.DayEnd)
		}
		activeID := active.String
		if activeID != "" {
			renewable := fromMS(activeExp.Int64).Add(-in.RenewalWindow)
			early := now.Before(renewable)
			if early && (c.Channel != ChannelWindow || c.SupersedeReason == "") {
				return problem.New(problem.ActiveCertificateExists,
					"an active certificate exists; a new one can be issued from %s (at the window: with a supersede_reason)", renewable.Format(time.RFC3339)).
					With("renewable_at", renewable)
			}
			if !early {
				// Within R5's window no reason is needed, so none is kept.
				c.SupersedeReason = ""
			}
		} else {
			c.SupersedeReason = ""
		}
		if _, err := t.exec(ctx, `INSERT INTO certificates (`+certificateColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'active', $12, NULL, NULL, $13, $14, $15, $16, $17, $18, $19)`,
			c.ID, c.HolderIndex, c.AccountID, faceCheckID, c.NameCT, c.IDNumberCT, c.NameMasked, c.IDMasked,
			c.CityCode, ms(c.IssuedAt), ms(c.ExpiresAt), ms(now),
			c.Channel, c.StationCode, c.IssuedBy, c.Method, nullString(c.DocumentType), nullString(c.SupersedeReason), c.Slip); err != nil {
			return err
		}
		if activeID != "" {
			if _, err := t.exec(ctx, `UPDATE certificates SET status = 'superseded', status_at = $1, superseded_by = $2
				WHERE id = $3 AND status = 'active'`, ms(now), c.ID, activeID); err != nil {
				return err
			}
			detail := map[string]any{"superseded_by": c.ID, "channel": c.Channel}
			if c.SupersedeReason != "" {
				detail["reason"] = c.SupersedeReason
			}
			if err := t.audit(ctx, now, actor, "certificate.supersede", "certificate:"+activeID, detail); err != nil {
				return err
			}
		}
		detail := map[string]any{
			"holder": c.NameMasked, "id_number": c.IDMasked, "city": c.CityCode, "channel": c.Channel,
			"station": c.StationCode, "issued_by": c.IssuedBy, "method": c.Method,
			"expires_at": c.ExpiresAt, "slips_today": today + 1, "renews": activeID,
		}
		if c.DocumentType != "" {
			detail["document_type"] = c.DocumentType
		}
		if in.FaceCheck != nil {
			detail["face_check"] = in.FaceCheck.ID
		}
		if err := t.audit(ctx, now, actor, "certificate.issue", "certificate:"+c.ID, detail); err != nil {
			return err
		}
		c.Status, c.ChangedAt, c.FaceCheckID = StatusActive, now, faceCheckID
		out = Issued{Certificate: c, Superseded: activeID}
		// Under an Idempotency-Key the answer is recorded here, in the
		// issuing transaction (docs/design.md, "Retries without issuing
		// twice").
		return t.answer(ctx, out)
	})
	return out, err
}

// SlipUse is one recorded verification of a slip.
type SlipUse struct {
	At          time.Time
	StationCode string
	Operation   string
}

// SlipUses returns the last n verifications of a certificate, newest
// first, and whether the certificate was admitted (a valid entry) at a
// station other than station within window before now: the
// used_elsewhere warning for a slip, which is static and so never refused
// as a replay.
func (s *Store) SlipUses(ctx context.Context, certificateID, station string, now time.Time, window time.Duration, n int) ([]SlipUse, bool, error) {
	rows, err := s.query(ctx, `SELECT at, coalesce(station_code, ''), operation FROM verifications
		WHERE certificate_id = $1 AND step IS NULL ORDER BY at DESC, id DESC LIMIT $2`, certificateID, n)
	if err != nil {
		return nil, false, classify(err)
	}
	var out []SlipUse
	for rows.Next() {
		var u SlipUse
		var at int64
		if err := rows.Scan(&at, &u.StationCode, &u.Operation); err != nil {
			rows.Close()
			return nil, false, err
		}
		u.At = fromMS(at)
		out = append(out, u)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, false, classify(err)
	}
	var elsewhere int
	err = s.queryRow(ctx, `SELECT count(*) FROM verifications WHERE certificate_id = $1 AND step IS NULL AND operation = 'entry'
		AND verdict = 'valid' AND at >= $2 AND at <= $3 AND coalesce(station_code, '') <> $4`,
		certificateID, ms(now.Add(-window)), ms(now), station).Scan(&elsewhere)
	return out, elsewhere > 0, classify(err)
}

// NonconformingStations lists the station codes in use that are not three
// capital letters (migration 0008 upper-cased the ones that fit), so that
// an operator can fix them.
func (s *Store) NonconformingStations(ctx context.Context) ([]string, error) {
	rows, err := s.query(ctx, `SELECT station_code FROM accounts WHERE station_code IS NOT NULL AND station_code <> ''
		UNION SELECT station_code FROM terminals ORDER BY 1`)
	if err != nil {
		return nil, classify(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var code string
		if err := rows.Scan(&code); err != nil {
			return nil, err
		}
		if !validStation(code) {
			out = append(out, code)
		}
	}
	return out, rows.Err()
}

// validStation is credential.ValidStation, repeated so that the store does
// not import the wire format: [A-Z]{3}.
func validStation(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}
