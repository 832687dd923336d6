package store

import (
	"context"
	"strconv"
	"time"
)

// Stats are the operator dashboard's figures for a time range.
type Stats struct {
	Issuance      []Count        // certificates issued per bucket
	Verifications []VerifyCount  // verifications per bucket
	Failures      []ReasonCount  // invalid verifications by reason
	FaceFailures  []ReasonCount  // failed face checks by reason
	Cities        []CityCount    // certificates by city
	Channels      []ReasonCount  // certificates by channel (Reason is the channel)
	Officers      []OfficerCount // window slips per officer, most first
	// Applicants counts the app's certificates by who applied: a
	// logged-in account or a guest (Certificate.Applicant), in Reason.
	Applicants []ReasonCount
}

// OfficerCount is the number of slips one officer issued at the window,
// so that an officer issuing unusually many stands out.
type OfficerCount struct {
	AccountID string
	Username  string
	Station   string
	Slips     int64
}

// Count is a number in a time bucket.
type Count struct {
	At    time.Time `json:"at"`
	Count int64     `json:"count"`
}

// VerifyCount is verifications in a time bucket, by verdict, and how many
// of them terminals made offline (counted by the time of the scan). Of
// the invalid ones, Replayed were codes shown again and Malformed were
// scans that are no code at all (a misread, another QR); the rest,
// Invalid − Replayed − Malformed, are real rejections.
type VerifyCount struct {
	At        time.Time `json:"at"`
	Valid     int64     `json:"valid"`
	Invalid   int64     `json:"invalid"`
	Offline   int64     `json:"offline"`
	Replayed  int64     `json:"replayed"`
	Malformed int64     `json:"malformed"`
}

// ReasonCount is a number of failures with one reason.
type ReasonCount struct {
	Reason string `json:"reason"`
	Count  int64  `json:"count"`
}

// CityCount is a number of certificates from one city.
type CityCount struct {
	Code  string `json:"code"`
	Count int64  `json:"count"`
}

// StatsOf computes the dashboard figures for [from, to) in buckets.
func (s *Store) StatsOf(ctx context.Context, from, to time.Time, bucket time.Duration) (Stats, error) {
	var st Stats
	b := bucket.Milliseconds()
	rows, err := s.query(ctx, `SELECT issued_at / $1, count(*) FROM certificates
		WHERE issued_at >= $2 AND issued_at < $3 GROUP BY issued_at / $1 ORDER BY 1`, b, ms(from), ms(to))
	if err != nil {
		return st, classify(err)
	}
	for rows.Next() {
		var k, n int64
		if err := rows.Scan(&k, &n); err != nil {
			rows.Close()
			return st, err
		}
		st.Issuance = append(st.Issuance, Count{At: fromMS(k * b), Count: n})
	}
	rows.Close()

	rows, err = s.query(ctx, `SELECT at / $1,
			sum(CASE WHEN verdict = 'valid' THEN 1 ELSE 0 END), sum(CASE WHEN verdict = 'valid' THEN 0 ELSE 1 END),
			sum(CASE WHEN offline THEN 1 ELSE 0 END),
			sum(CASE WHEN verdict <> 'valid' AND (replay OR reason = 'replayed') THEN 1 ELSE 0 END),
			sum(CASE WHEN verdict <> 'valid' AND reason = 'malformed' THEN 1 ELSE 0 END)
		FROM verifications WHERE at >= $2 AND at < $3 GROUP BY at / $1 ORDER BY 1`, b, ms(from), ms(to))
	if err != nil {
		return st, classify(err)
	}
	for rows.Next() {
		var k, v, i, o, rp, ml int64
		if err := rows.Scan(&k, &v, &i, &o, &rp, &ml); err != nil {
			rows.Close()
			return st, err
		}
		st.Verifications = append(st.Verifications, VerifyCount{At: fromMS(k * b), Valid: v, Invalid: i, Offline: o, Replayed: rp, Malformed: ml})
	}
	rows.Close()

	for _, q := range []struct {
		sql string
		out *[]ReasonCount
	}{
		{`SELECT coalesce(reason, ''), count(*) FROM verifications WHERE verdict <> 'valid' AND at >= $1 AND at < $2 GROUP BY reason ORDER BY 2 DESC`, &st.Failures},
		{`SELECT coalesce(reason, ''), count(*) FROM face_checks WHERE status = 'failed' AND completed_at >= $1 AND completed_at < $2 GROUP BY reason ORDER BY 2 DESC`, &st.FaceFailures},
		{`SELECT channel, count(*) FROM certificates WHERE issued_at >= $1 AND issued_at < $2 GROUP BY channel ORDER BY 2 DESC`, &st.Channels},
		{`SELECT CASE WHEN account_id = $3 THEN '` + ApplicantGuest + `' ELSE '` + ApplicantAccount + `' END, count(*) FROM certificates
			WHERE channel = 'app' AND issued_at >= $1 AND issued_at < $2 GROUP BY 1 ORDER BY 1`, &st.Applicants},
	} {
		args := []any{ms(from), ms(to)}
		if q.out == &st.Applicants {
			args = append(args, GuestAccountID)
		}
		rows, err := s.query(ctx, q.sql, args...)
		if err != nil {
			return st, classify(err)
		}
		for rows.Next() {
			var rc ReasonCount
			if err := rows.Scan(&rc.Reason, &rc.Count); err != nil {
				rows.Close()
				return st, err
			}
			*q.out = append(*q.out, rc)
		}
		rows.Close()
	}

	rows, err = s.query(ctx, `SELECT c.issued_by, a.username, coalesce(c.station_code, ''), count(*) FROM certificates c
		JOIN accounts a ON a.id = c.issued_by
		WHERE c.channel = 'window' AND c.issued_at >= $1 AND c.issued_at < $2
		GROUP BY c.issued_by, a.username, c.station_code ORDER BY 4 DESC, 2 LIMIT 50`, ms(from), ms(to))
	if err != nil {
		return st, classify(err)
	}
	for rows.Next() {
		var o OfficerCount
		if err := rows.Scan(&o.AccountID, &o.Username, &o.Station, &o.Slips); err != nil {
			rows.Close()
			return st, err
		}
		st.Officers = append(st.Officers, o)
	}
	rows.Close()

	rows, err = s.query(ctx, `SELECT city_code, count(*) FROM certificates WHERE issued_at >= $1 AND issued_at < $2
		GROUP BY city_code ORDER BY 2 DESC LIMIT 50`, ms(from), ms(to))
	if err != nil {
		return st, classify(err)
	}
	for rows.Next() {
		var c CityCount
		if err := rows.Scan(&c.Code, &c.Count); err != nil {
			rows.Close()
			return st, err
		}
		st.Cities = append(st.Cities, c)
	}
	rows.Close()
	return st, rows.Err()
}

// RecordAudit writes an audit entry for an action that changes nothing
// else but must be on record, such as an administrator's search of
// personal data.
func (s *Store) RecordAudit(ctx context.Context, actor Actor, action, object string, detail map[string]any, now time.Time) error {
	return s.write(ctx, func(t *Tx) error { return t.audit(ctx, now, actor, action, object, detail) })
}

// SearchCertificates lists certificates issued in [from, to), of one holder
// when holderIndex is set, with the given status at now when status is
// set, newest first, at most limit.
func (s *Store) SearchCertificates(ctx context.Context, holderIndex []byte, status string, from, to, now time.Time, limit int) ([]Certificate, error) {
	q := `SELECT ` + certificateColumns + ` FROM certificates WHERE issued_at >= $1 AND issued_at < $2`
	args := []any{ms(from), ms(to)}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if holderIndex != nil {
		q += ` AND holder_index = ` + arg(holderIndex)
	}
	// The status is filtered here, before the limit, so that a search for
	// the rare revoked certificate is not cut short by the common ones.
	// "expired" is not stored: it is an active certificate past its time.
	switch status {
	case "":
	case StatusActive:
		q += ` AND status = 'active' AND expires_at > ` + arg(ms(now))
	case StatusExpired:
		q += ` AND status = 'active' AND expires_at <= ` + arg(ms(now))
	default:
		q += ` AND status = ` + arg(status)
	}
	q += ` ORDER BY issued_at DESC LIMIT ` + arg(max(limit, 0))
	return s.certificates(ctx, q, args...)
}
