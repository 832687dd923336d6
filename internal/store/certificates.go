package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"tempid/internal/audit"
	"tempid/internal/problem"
)

// Certificate statuses as stored. "expired" is never stored: a certificate
// expires by time, and Certificate.StatusAt derives it.
const (
	StatusActive     = "active"
	StatusSuperseded = "superseded"
	StatusRevoked    = "revoked"
	StatusExpired    = "expired"
)

// Certificate is an issued electronic temporary boarding identity
// certificate. Name and ID number are sealed; the masked forms are for
// display.
type Certificate struct {
	ID           string
	HolderIndex  []byte
	AccountID    string
	FaceCheckID  string
	NameCT       []byte
	IDNumberCT   []byte
	NameMasked   string
	IDMasked     string
	CityCode     string
	IssuedAt     time.Time
	ExpiresAt    time.Time
	Status       string // as stored: active, superseded or revoked
	ChangedAt    time.Time
	SupersededBy string
	RevokeReason string
	// Channel is ChannelApp, ChannelWindow or ChannelKiosk.
	Channel string
	// The slip's record (window and kiosk only): the issuing station, the
	// officer's account or the kiosk's terminal, how the officer
	// confirmed the person (MethodFaceCheck at a kiosk), the document
	// shown with MethodDocument, the reason an officer gave to supersede
	// an active certificate early, and the slip's text for reprints.
	StationCode     string
	IssuedBy        string
	Method          string
	DocumentType    string
	SupersedeReason string
	Slip            string
}

// Channels a certificate is issued through.
const (
	ChannelApp    = "app"
	ChannelWindow = "window"
	ChannelKiosk  = "kiosk"
)

// How a slip's holder was confirmed: at the window by the registry's
// reference photo, another document or questions; at a kiosk by a face
// check.
const (
	MethodRegistryPhoto = "registry_photo"
	MethodDocument      = "document"
	MethodQuestions     = "questions"
	MethodFaceCheck     = "face_check"
)

// KioskAccountID is the account row every kiosk slip and kiosk face check
// belongs to (migration 0008): a certificate needs an account, and a
// kiosk's customers have none. The kiosk itself is in IssuedBy.
const KioskAccountID = "00000000000000000000000000000001"

// GuestAccountID is the account row that stands for every passenger
// without an account (migration 0009): guests' face checks and
// certificates belong to it. It cannot log in.
const GuestAccountID = "00000000000000000000000000000000"

// Applicants: who applied for a certificate, as audit and statistics
// count them. Not to be confused with a certificate's channel (app,
// window, kiosk).
const (
	ApplicantAccount = "account"
	ApplicantGuest   = "guest"
)

// Applicant says whether a logged-in account or a guest applied for the
// certificate.
func (c Certificate) Applicant() string {
	if c.AccountID == GuestAccountID {
		return ApplicantGuest
	}
	return ApplicantAccount
}

// StatusAt is the certificate's status at a moment: an active certificate
// past its expiry is expired.
func (c Certificate) StatusAt(now time.Time) string {
	if c.Status == StatusActive && !now.Before(c.ExpiresAt) {
		return StatusExpired
	}
	return c.Status
}

const certificateColumns = `id, holder_index, account_id, face_check_id, name_ct, id_number_ct, name_masked, id_masked,
	city_code, issued_at, expires_at, status, status_at, superseded_by, revoke_reason,
	channel, station_code, issued_by, method, document_type, supersede_reason, slip`

// scanCertificate scans certificateColumns, then into extra the columns
// selected after them.
func scanCertificate(row interface{ Scan(...any) error }, extra ...any) (Certificate, error) {
	var c Certificate
	var issued, expires, statusAt int64
	var by, reason, station, issuedBy, method, docType, supersede, slip sql.NullString
	err := row.Scan(append([]any{&c.ID, &c.HolderIndex, &c.AccountID, &c.FaceCheckID, &c.NameCT, &c.IDNumberCT, &c.NameMasked, &c.IDMasked,
		&c.CityCode, &issued, &expires, &c.Status, &statusAt, &by, &reason,
		&c.Channel, &station, &issuedBy, &method, &docType, &supersede, &slip}, extra...)...)
	if errors.Is(err, sql.ErrNoRows) {
		return c, ErrNotFound
	}
	c.IssuedAt, c.ExpiresAt, c.ChangedAt = fromMS(issued), fromMS(expires), fromMS(statusAt)
	c.SupersededBy, c.RevokeReason = by.String, reason.String
	c.StationCode, c.IssuedBy, c.Method, c.DocumentType = station.String, issuedBy.String, method.String, docType.String
	c.SupersedeReason, c.Slip = supersede.String, slip.String
	return c, err
}

// verifiedColumns are the columns of a certificate that a verification
// reads (CertificateAndDevice): its status and expiry for step 8, the
// masked holder for the answer and the audit entry, and the sealed name
// and ID number, opened for the counter operations and a slip's staffed
// lane. Not the id, which the query is given, nor the holder index, the
// issuing details or a slip's text; the time of the status only as of a
// past instant (CertificateAndDeviceAsOf).
const verifiedColumns = `name_ct, id_number_ct, name_masked, id_masked, expires_at, status`

// scanVerified scans verifiedColumns of the certificate id, then into
// extra the columns selected after them.
func scanVerified(row interface{ Scan(...any) error }, id string, extra ...any) (Certificate, error) {
	c := Certificate{ID: id}
	var expires int64
	err := row.Scan(append([]any{&c.NameCT, &c.IDNumberCT, &c.NameMasked, &c.IDMasked, &expires, &c.Status}, extra...)...)
	if errors.Is(err, sql.ErrNoRows) {
		return Certificate{}, ErrNotFound
	}
	c.ExpiresAt = fromMS(expires)
	return c, err
}

// Issuance is everything needed to issue one certificate atomically.
type Issuance struct {
	Certificate Certificate
	// FaceCheck is the passed apply check the certificate consumes.
	FaceCheck FaceCheckUse
	// Pass, if set, is the first pass, recorded in the same transaction.
	Pass *Pass
	// The rule inputs, from the policy.
	MonthStart, MonthEnd time.Time
	MonthlyLimit         int
	RenewalWindow        time.Duration
}

// Issued is the outcome of an issuance.
type Issued struct {
	Certificate Certificate
	// Superseded is the id of the certificate this one replaced, if any.
	Superseded string
	// UsedThisMonth counts this certificate.
	UsedThisMonth int
}

// issueDetail is the audit detail of an app certificate's issue, its
// members in the order of their names.
type issueDetail struct {
	Applicant     string    `json:"applicant"`
	City          string    `json:"city"`
	ExpiresAt     time.Time `json:"expires_at"`
	FaceCheck     string    `json:"face_check"`
	Holder        string    `json:"holder"`
	IDNumber      string    `json:"id_number"`
	Renews        string    `json:"renews"`
	UsedThisMonth int       `json:"used_this_month"`
}

// IssueCertificate issues a certificate if the rules allow it, all in one
// transaction: the face check is consumed, the holder's row is locked so
// that applications for one person are serialised (across connections,
// processes and nodes), the active certificate is checked for renewal
// (R5), the month's certificates are counted against the limit (R2), the
// old certificate is superseded and the new one inserted, with the audit
// entries. Any refusal rolls back everything. On PostgreSQL the
// transaction is the group-commit writer's (issuanceWrite).
func (s *Store) IssueCertificate(ctx context.Context, actor Actor, in Issuance) (Issued, error) {
	var out Issued
	if s.pg != nil {
		w := issuanceWrite(ctx, actor, in, &out)
		err := s.pgSend(ctx, w)
		return out, err
	}
	// As a verification's (RecordVerification): the writer skips a write
	// whose request has ended, and once it runs its statements take
	// microseconds, so they run under a context that cannot end.
	stmtCtx := context.WithoutCancel(ctx)
	err := s.write(ctx, func(t *Tx) error {
		ctx := stmtCtx
		out = Issued{}
		c := in.Certificate
		if _, err := t.useFaceCheck(ctx, in.FaceCheck); err != nil {
			return err
		}
		// The lock: every application for this person updates this row,
		// so a second one waits here until the first commits, and then
		// sees its certificate in the queries below.
		if _, err := t.exec(ctx, lockHolder, c.HolderIndex); err != nil {
			return err
		}
		// The active certificate (R5) and the month's count (R2), in one
		// query: the row locked above makes both current.
		var active sql.NullString
		var activeExp sql.NullInt64
		var used int
		if err := t.queryRow(ctx, activeAndMonth, in.activeAndMonthArgs()...).Scan(&active, &activeExp, &used); err != nil {
			return err
		}
		if err := in.refusal(active.String, activeExp.Int64, used); err != nil {
			return err
		}
		out = in.issued(active.String, used)
		entries, err := in.entries(actor, out)
		if err != nil {
			return err
		}
		if _, err := t.exec(ctx, insertIssued, in.insertArgs()...); err != nil {
			return err
		}
		if out.Superseded != "" {
			if _, err := t.exec(ctx, supersede, out.supersedeArgs()...); err != nil {
				return err
			}
		}
		if p := in.Pass; p != nil {
			if _, err := t.exec(ctx, insertPass, p.insertArgs()...); err != nil {
				return err
			}
		}
		for _, e := range entries {
			if err := t.appendAudit(ctx, e); err != nil {
				return fmt.Errorf("audit %s: %w", e.Action, err)
			}
		}
		// A request with an Idempotency-Key: its answer commits with
		// the certificate, or neither does.
		return t.answer(ctx, out)
	})
	return out, err
}

// The statements of an issuance.
const (
	// lockHolder takes the holder's lock: every application for a person
	// updates the person's row.
	lockHolder = `INSERT INTO holders (id_index, version) VALUES ($1, 1)
		ON CONFLICT (id_index) DO UPDATE SET version = holders.version + 1`
	// activeAndMonth reads the holder's active certificate (R5) and
	// counts the month's app certificates (R2), in one query: the
	// holder's lock taken before makes both current.
	activeAndMonth = `SELECT a.id, a.expires_at,
		(SELECT count(*) FROM certificates WHERE holder_index = $1 AND issued_at >= $3 AND issued_at < $4 AND channel = 'app')
		FROM (SELECT 1 AS one) x LEFT JOIN (SELECT id, expires_at FROM certificates
			WHERE holder_index = $1 AND status = 'active' AND expires_at > $2 ORDER BY expires_at DESC LIMIT 1) a ON true`
	insertIssued = `INSERT INTO certificates (` + certificateColumns + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'active', $12, NULL, NULL, 'app', NULL, NULL, NULL, NULL, NULL, NULL)`
	supersede = `UPDATE certificates SET status = 'superseded', status_at = $1, superseded_by = $2
		WHERE id = $3 AND status = 'active'`
)

func (in Issuance) activeAndMonthArgs() []any {
	return []any{in.Certificate.HolderIndex, ms(in.FaceCheck.Now), ms(in.MonthStart), ms(in.MonthEnd)}
}

// refusal is the rules' refusal of the issuance, if any, given the
// holder's active certificate (its id and expiry, or "") and the month's
// count, read under the holder's lock.
func (in Issuance) refusal(activeID string, activeExp int64, used int) error {
	now := in.FaceCheck.Now
	if activeID != "" {
		renewable := fromMS(activeExp).Add(-in.RenewalWindow)
		if now.Before(renewable) {
			return problem.New(problem.ActiveCertificateExists,
				"an active certificate exists; a new one can be applied for from %s", renewable.Format(time.RFC3339)).
				With("renewable_at", renewable)
		}
	}
	if used >= in.MonthlyLimit {
		return problem.New(problem.QuotaExhausted, "%d certificates have been issued for this person this month; the quota resets at %s",
			used, in.MonthEnd.Format(time.RFC3339)).With("resets_at", in.MonthEnd)
	}
	return nil
}

// issued is the outcome of an issuance the rules allow.
func (in Issuance) issued(activeID string, used int) Issued {
	c := in.Certificate
	c.Status, c.ChangedAt, c.FaceCheckID, c.Channel = StatusActive, in.FaceCheck.Now, in.FaceCheck.ID, ChannelApp
	return Issued{Certificate: c, Superseded: activeID, UsedThisMonth: used + 1}
}

func (in Issuance) insertArgs() []any {
	c := in.Certificate
	return []any{c.ID, c.HolderIndex, c.AccountID, in.FaceCheck.ID, c.NameCT, c.IDNumberCT, c.NameMasked, c.IDMasked,
		c.CityCode, ms(c.IssuedAt), ms(c.ExpiresAt), ms(in.FaceCheck.Now)}
}

func (out Issued) supersedeArgs() []any {
	return []any{ms(out.Certificate.ChangedAt), out.Certificate.ID, out.Superseded}
}

// entries are the audit entries of an issuance, in order: the superseded
// certificate's, if any, then the issue's, then the pass's, if any.
func (in Issuance) entries(actor Actor, out Issued) ([]audit.Entry, error) {
	c, now := out.Certificate, in.FaceCheck.Now
	var entries []audit.Entry
	add := func(action, object string, detail any) error {
		e, err := newEntry(now, actor, action, object, detail)
		entries = append(entries, e)
		return err
	}
	if out.Superseded != "" {
		if err := add("certificate.supersede", "certificate:"+out.Superseded, struct {
			SupersededBy string `json:"superseded_by"`
		}{c.ID}); err != nil {
			return nil, err
		}
	}
	if err := add("certificate.issue", "certificate:"+c.ID, issueDetail{
		Holder: c.NameMasked, IDNumber: c.IDMasked, City: c.CityCode, FaceCheck: in.FaceCheck.ID,
		ExpiresAt: c.ExpiresAt, UsedThisMonth: out.UsedThisMonth, Renews: out.Superseded, Applicant: c.Applicant(),
	}); err != nil {
		return nil, err
	}
	if p := in.Pass; p != nil {
		e, err := newEntry(p.IssuedAt, actor, "pass.issue", "certificate:"+p.CertificateID, p.auditDetail())
		if err != nil {
			return nil, err
		}
		entries = append(entries, e)
	}
	return entries, nil
}

// issuanceWrite is IssueCertificate on PostgreSQL, as a write for the
// group-commit writer (postgres.go). Its deciding statements mark the
// face check used and read it as it was, take the holder's lock, and read
// the active certificate and the month's count; the rules then decide in
// Go. A refusal after the mark undoes it in the same transaction, so a
// refused application leaves its check unused, as a rolled-back one did.
// The writer never puts two issuances for one holder in one batch: the
// second's count would not see the first's certificate. out is set to the
// outcome.
func issuanceWrite(ctx context.Context, actor Actor, in Issuance, out *Issued) pgWrite {
	u := in.FaceCheck
	decide := func(b *pgx.Batch) {
		b.Queue(markFaceCheck, ms(u.Now), u.ID, u.AccountID)
		b.Queue(lockHolder, in.Certificate.HolderIndex)
		b.Queue(activeAndMonth, in.activeAndMonthArgs()...)
	}
	record := func(r pgx.BatchResults, b *pgx.Batch) (pgRecord, error) {
		*out = Issued{}
		var marked bool
		f, ferr := scanFaceCheck(extraColumns{r.QueryRow(), []any{&marked}})
		if ferr != nil && !errors.Is(ferr, ErrNotFound) {
			return pgRecord{}, ferr
		}
		if _, err := r.Exec(); err != nil {
			return pgRecord{}, err
		}
		var active sql.NullString
		var activeExp sql.NullInt64
		var used int
		if err := r.QueryRow().Scan(&active, &activeExp, &used); err != nil {
			return pgRecord{}, err
		}
		switch {
		case ferr != nil || f.AccountID != u.AccountID:
			return pgRecord{outcome: problem.New(problem.NotFound, "no such face check")}, nil
		case !marked:
			// Usable as read, so another transaction used it first.
			refusal := faceCheckUsable(f, u)
			if refusal == nil {
				refusal = problem.New(problem.FaceCheckUsed, "this face check has already been used; verify your face again")
			}
			return pgRecord{outcome: refusal}, nil
		}
		refusal := faceCheckUsable(f, u)
		if refusal == nil {
			refusal = in.refusal(active.String, activeExp.Int64, used)
		}
		if refusal != nil {
			b.Queue(unmarkFaceCheck, u.ID)
			return pgRecord{outcome: refusal}, nil
		}
		*out = in.issued(active.String, used)
		entries, err := in.entries(actor, *out)
		if err != nil {
			return pgRecord{}, err
		}
		b.Queue(insertIssued, in.insertArgs()...)
		if out.Superseded != "" {
			b.Queue(supersede, out.supersedeArgs()...)
		}
		if p := in.Pass; p != nil {
			b.Queue(insertPass, p.insertArgs()...)
		}
		rec := pgRecord{entries: entries}
		q, args, err := answerUpdate(ctx, *out)
		if err != nil {
			return pgRecord{}, err
		}
		if q != "" {
			b.Queue(q, args...)
			rows := b.Len()
			rec.check = func(r pgx.BatchResults) error {
				for range rows - 1 {
					if _, err := r.Exec(); err != nil {
						return err
					}
				}
				tag, err := r.Exec()
				if err != nil {
					return err
				}
				return answered(tag.RowsAffected())
			}
		}
		return rec, nil
	}
	return pgWrite{holder: string(in.Certificate.HolderIndex), decide: decide, record: record}
}

// markFaceCheck marks a passed, unused check of the account used, and
// reads the check as it was before, with whether it was marked: the
// SELECT sees the statement's snapshot, not the UPDATE's change.
const markFaceCheck = `WITH u AS (UPDATE face_checks SET used_at = $1
		WHERE id = $2 AND account_id = $3 AND status = 'passed' AND used_at IS NULL RETURNING 1)
	SELECT ` + faceCheckColumns + `, EXISTS (SELECT 1 FROM u) FROM face_checks WHERE id = $2`

// unmarkFaceCheck undoes markFaceCheck in the same transaction.
const unmarkFaceCheck = `UPDATE face_checks SET used_at = NULL WHERE id = $1`

// extraColumns scans a row into the columns a scanner knows and then into
// extra, the columns selected after them.
type extraColumns struct {
	row   interface{ Scan(...any) error }
	extra []any
}

func (x extraColumns) Scan(dest ...any) error { return x.row.Scan(append(dest, x.extra...)...) }

// Certificate returns one certificate.
func (s *Store) Certificate(ctx context.Context, id string) (Certificate, error) {
	c, err := scanCertificate(s.queryRow(ctx, `SELECT `+certificateColumns+` FROM certificates WHERE id = $1`, id))
	return c, classify(err)
}

// CertificateAndDevice reads a certificate's verifiedColumns (the rest of
// the Certificate is left zero) and tells, in the same query, whether a
// device key is on the revocation list: what an online verification needs
// from the database before it records the code's use. A certificate that
// does not exist is ErrNotFound, and then the device is not looked up.
func (s *Store) CertificateAndDevice(ctx context.Context, id string, deviceHash []byte, now time.Time) (c Certificate, deviceRevoked bool, err error) {
	c, err = scanVerified(s.hotRead(ctx, `SELECT `+verifiedColumns+`,
		EXISTS (SELECT 1 FROM revoked_devices WHERE device_key_hash = $2 AND expires_at > $3)
		FROM certificates WHERE id = $1`, id, deviceHash, ms(now)), id, &deviceRevoked)
	return c, deviceRevoked, classify(err)
}

// CertificatesOfAccount lists the certificates an account applied for,
// issued in [from, to), newest first.
func (s *Store) CertificatesOfAccount(ctx context.Context, accountID string, from, to time.Time) ([]Certificate, error) {
	return s.certificates(ctx, `SELECT `+certificateColumns+` FROM certificates
		WHERE account_id = $1 AND issued_at >= $2 AND issued_at < $3 ORDER BY issued_at DESC`, accountID, ms(from), ms(to))
}

// ActiveCertificateOf returns a person's active certificate at now (the
// one with the latest expiry, should a race have left two), or
// ErrNotFound.
func (s *Store) ActiveCertificateOf(ctx context.Context, holderIndex []byte, now time.Time) (Certificate, error) {
	c, err := scanCertificate(s.queryRow(ctx, `SELECT `+certificateColumns+` FROM certificates
		WHERE holder_index = $1 AND status = 'active' AND expires_at > $2 ORDER BY expires_at DESC LIMIT 1`, holderIndex, ms(now)))
	return c, classify(err)
}

// CertificatesOfHolder lists a person's certificates issued in [from, to),
// newest first.
func (s *Store) CertificatesOfHolder(ctx context.Context, holderIndex []byte, from, to time.Time) ([]Certificate, error) {
	return s.certificates(ctx, `SELECT `+certificateColumns+` FROM certificates
		WHERE holder_index = $1 AND issued_at >= $2 AND issued_at < $3 ORDER BY issued_at DESC`, holderIndex, ms(from), ms(to))
}

func (s *Store) certificates(ctx context.Context, q string, args ...any) ([]Certificate, error) {
	return queryAll(ctx, s, func(row interface{ Scan(...any) error }) (Certificate, error) { return scanCertificate(row) }, q, args...)
}

// CountIssued counts a person's app certificates issued in [from, to): the
// monthly quota's "used". Slips do not count (SPEC: the window is the way
// for those over the quota).
func (s *Store) CountIssued(ctx context.Context, holderIndex []byte, from, to time.Time) (int, error) {
	var n int
	err := s.queryRow(ctx, `SELECT count(*) FROM certificates WHERE holder_index = $1 AND issued_at >= $2 AND issued_at < $3 AND channel = 'app'`,
		holderIndex, ms(from), ms(to)).Scan(&n)
	return n, classify(err)
}

// AccountAppliedFor tells whether an account has applied for a person.
func (s *Store) AccountAppliedFor(ctx context.Context, accountID string, holderIndex []byte) (bool, error) {
	var n int
	err := s.queryRow(ctx, `SELECT count(*) FROM certificates WHERE account_id = $1 AND holder_index = $2`,
		accountID, holderIndex).Scan(&n)
	return n > 0, classify(err)
}

// RevokeCertificate revokes an active or superseded certificate with a
// reason (its code, which the passenger is shown) and an optional note,
// which only the audit entry keeps. It still counts against the quota.
// Revoking a revoked certificate changes nothing and is not an error.
func (s *Store) RevokeCertificate(ctx context.Context, actor Actor, id, reason, note string, now time.Time) (Certificate, error) {
	var out Certificate
	err := s.write(ctx, func(t *Tx) error {
		c, err := scanCertificate(t.queryRow(ctx, `SELECT `+certificateColumns+` FROM certificates WHERE id = $1`+s.dialect.lockRow, id))
		if errors.Is(err, ErrNotFound) {
			return problem.New(problem.NotFound, "no such certificate")
		}
		if err != nil {
			return err
		}
		if c.Status == StatusRevoked {
			out = c
			return nil
		}
		if _, err := t.exec(ctx, `UPDATE certificates SET status = 'revoked', status_at = $1, revoke_reason = $2 WHERE id = $3`,
			ms(now), reason, id); err != nil {
			return err
		}
		// The status before the revocation, read before it changes: an
		// active certificate past its time was expired.
		previous := c.StatusAt(now)
		c.Status, c.ChangedAt, c.RevokeReason = StatusRevoked, now, reason
		out = c
		detail := map[string]any{"reason": reason, "previous_status": previous}
		if note != "" {
			detail["note"] = note
		}
		return t.audit(ctx, now, actor, "certificate.revoke", "certificate:"+id, detail)
	})
	return out, err
}

// RevokedCertificates lists certificates that no longer verify (revoked or
// superseded) but have not yet expired: what a trust bundle must carry.
func (s *Store) RevokedCertificates(ctx context.Context, now time.Time) ([]string, error) {
	rows, err := s.query(ctx, `SELECT id FROM certificates WHERE status <> 'active' AND expires_at > $1 ORDER BY id`, ms(now))
	if err != nil {
		return nil, classify(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}
