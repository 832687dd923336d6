package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"tempid/internal/audit"
	"tempid/internal/problem"
)

// Verification is one online verification of a scanned code, as recorded.
type Verification struct {
	// ID is NewVerificationID(At): verifications are stored in id order,
	// and the statistics find a time range as the range of ids made in it.
	ID string
	// CertificateID and Step name the code; empty and zero when the text
	// was not a code the issuer signed. A slip has a certificate and no
	// step (zero).
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

// NewVerificationID returns a new identifier for a verification made at
// at: NewIDAt's, and greater than the last one this process made in the
// same millisecond, so that verifications of one millisecond keep the
// order they were made in (a slip's uses are listed newest first). The
// first of a millisecond has 80 random bits; the next ones count up from
// it. A verification's id names a record, never grants anything.
func NewVerificationID(at time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(at.UnixMilli())<<16)
	rand.Read(b[6:])
	lastVerificationID.Lock()
	last := &lastVerificationID.b
	if [6]byte(b[:6]) == [6]byte(last[:6]) && bytes.Compare(b[6:], last[6:]) <= 0 {
		b = *last
		for i := 15; i >= 6; i-- {
			b[i]++
			if b[i] != 0 {
				break
			}
		}
	}
	*last = b
	lastVerificationID.Unlock()
	return hex.EncodeToString(b[:])
}

var lastVerificationID struct {
	sync.Mutex
	b [16]byte
}

// Verdicts as stored.
const (
	VerdictValid   = "valid"
	VerdictInvalid = "invalid"
	// ReasonReplayed is the reason of a code used twice.
	ReasonReplayed = "replayed"
)

// operationBits number the operations of API.md for code_claims.operations
// (migration 0003 spells the same numbers).
var operationBits = map[string]int64{
	"ticket_purchase": 1, "refund": 2, "change": 4, "reimbursement_voucher": 8,
	"id_check": 16, "entry": 32, "ticket_check": 64,
}

// RecordVerification records a verification and its audit entry
// atomically. When claim is set (the code passed every other check) the
// code is claimed too, and the verdict becomes a replay if
//
//   - another verifier claimed the same code (certificate and step) —
//     one code is one presentation, at one gate or counter — or
//   - this verifier already used it for the same operation.
//
// The claim is one upsert on the primary key (step, certificate_id), so the
// database, not a read-then-write in Go, decides which of two parallel
// scans is first: on PostgreSQL the second upsert waits for the first's
// transaction and then evaluates its condition against the committed row;
// on SQLite writers are serial.
func (s *Store) RecordVerification(ctx context.Context, actor Actor, v Verification, claim bool) (Verification, error) {
	var bit int64
	if claim {
		var ok bool
		if bit, ok = operationBits[v.Operation]; !ok {
			return Verification{}, fmt.Errorf("record verification: unknown operation %q", v.Operation)
		}
	}
	if s.pg != nil {
		var out Verification
		w := verificationWrite(actor, v, bit, &out)
		err := s.pgSend(ctx, w)
		return out, err
	}
	// On SQLite the statements run under the request's context without
	// its end: the writer skips a write whose request has already ended,
	// and once it runs, its few statements on primary keys take
	// microseconds; a context that cannot end spares the driver a watcher
	// goroutine and a progress callback per statement, and database/sql
	// one more goroutine per query.
	stmtCtx := context.WithoutCancel(ctx)
	if !claim {
		return v, s.write(ctx, func(t *Tx) error { return t.recordVerification(stmtCtx, actor, v) })
	}
	var out Verification
	err := s.write(ctx, func(t *Tx) error {
		var first int
		err := t.queryRow(stmtCtx, claimCode, v.CertificateID, v.Step, v.Verifier, bit).Scan(&first)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			out = v.asReplay()
		case err != nil:
			return err
		default:
			out = v
		}
		return t.recordVerification(stmtCtx, actor, out)
	})
	return out, err
}

// asReplay is v recorded as the replay of a code already used.
func (v Verification) asReplay() Verification {
	v.Verdict, v.Reason, v.Replay = VerdictInvalid, ReasonReplayed, true
	return v
}

// claimCode claims a code for a verifier and an operation. It returns a
// row when the code is new or only this verifier has used it, for other
// operations; no row means a replay. On a conflict the condition is
// evaluated against the row as the first verifier's transaction left it.
const claimCode = `INSERT INTO code_claims AS c (certificate_id, step, verifier, operations) VALUES ($1, $2, $3, $4)
	ON CONFLICT (step, certificate_id) DO UPDATE SET operations = c.operations | $4
	WHERE c.verifier = $3 AND c.operations & $4 = 0
	RETURNING 1`

func (t *Tx) recordVerification(ctx context.Context, actor Actor, v Verification) error {
	if _, err := t.exec(ctx, insertVerification, v.insertArgs()...); err != nil {
		return err
	}
	return t.audit(ctx, v.At, actor, "verification", v.auditObject(), v.auditDetail())
}

const insertVerification = `INSERT INTO verifications (id, certificate_id, step, operation, verifier, station_code, verdict, reason, replay, at)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`

// insertArgs are insertVerification's arguments for v.
func (v Verification) insertArgs() []any {
	// A slip's verification has a certificate and no step.
	var step sql.NullInt64
	if v.CertificateID != "" && v.Step != 0 {
		step = sql.NullInt64{Int64: v.Step, Valid: true}
	}
	return []any{v.ID, nullString(v.CertificateID), step, v.Operation, v.Verifier, nullString(v.StationCode),
		v.Verdict, nullString(v.Reason), v.Replay, ms(v.At)}
}

// verificationWrite is RecordVerification on PostgreSQL, as a write for
// the group-commit writer (postgres.go): the claim, when bit names the
// operation, decides whether the code was replayed; the verification and
// its audit entry are then recorded. out is set to the record.
func verificationWrite(actor Actor, v Verification, bit int64, out *Verification) pgWrite {
	var decide func(*pgx.Batch)
	if bit != 0 {
		decide = func(b *pgx.Batch) { b.Queue(claimCode, v.CertificateID, v.Step, v.Verifier, bit) }
	}
	record := func(r pgx.BatchResults, b *pgx.Batch) (pgRecord, error) {
		*out = v
		if bit != 0 {
			var first int
			err := r.QueryRow().Scan(&first)
			switch {
			case errors.Is(err, pgx.ErrNoRows):
				*out = v.asReplay()
			case err != nil:
				return pgRecord{}, err
			}
		}
		b.Queue(insertVerification, out.insertArgs()...)
		e, err := newEntry(out.At, actor, "verification", out.auditObject(), out.auditDetail())
		return pgRecord{entries: []audit.Entry{e}}, err
	}
	return pgWrite{decide: decide, record: record}
}

func (v Verification) auditObject() string {
	if v.CertificateID != "" {
		return "certificate:" + v.CertificateID
	}
	return "verification:" + v.ID
}

// verificationDetail is the audit detail of a verification, online or
// offline. Its members are in the order of their names, as a map's were,
// so the detail reads as before.
type verificationDetail struct {
	AfterTheFact  string    `json:"after_the_fact,omitempty"`
	Holder        string    `json:"holder,omitempty"`
	IDNumber      string    `json:"id_number,omitempty"`
	Offline       bool      `json:"offline,omitempty"`
	Operation     string    `json:"operation"`
	Reason        string    `json:"reason,omitempty"`
	Replay        bool      `json:"replay"`
	ScannedAt     time.Time `json:"scanned_at,omitzero"`
	ServerReason  string    `json:"server_reason,omitempty"`
	ServerVerdict string    `json:"server_verdict,omitempty"`
	Station       string    `json:"station,omitempty"`
	Verdict       string    `json:"verdict"`
	Verification  string    `json:"verification"`
}

func (v Verification) auditDetail() verificationDetail {
	return verificationDetail{Verification: v.ID, Verdict: v.Verdict, Operation: v.Operation, Replay: v.Replay,
		Reason: v.Reason, Station: v.StationCode, Holder: v.NameMasked, IDNumber: v.IDMasked}
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
