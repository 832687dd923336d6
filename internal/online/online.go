// Package online answers, online, whether a scanned code lets its
// holder through a railway operation: the steps of CREDENTIAL.md (package
// verify) with the server's published keys and the database's revocations,
// then the certificate's status in the database, then the one-time use of
// the code, recorded with its audit entry. An invalid code is an answer,
// not an error.
package online

import (
	"context"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"tempid/internal/clock"
	"tempid/internal/credential"
	"tempid/internal/issuance"
	"tempid/internal/keys"
	"tempid/internal/problem"
	"tempid/internal/store"
	"tempid/internal/verify"
)

// Operations a code may be presented for (API.md).
const (
	TicketPurchase       = "ticket_purchase"
	Refund               = "refund"
	Change               = "change"
	ReimbursementVoucher = "reimbursement_voucher"
	IDCheck              = "id_check"
	Entry                = "entry"
	TicketCheck          = "ticket_check"
)

// isCounterOperation holds every operation, true for the counter
// operations: the ones at a ticket counter that must match the full ID
// number against the ticketing system; only they are shown it (R6). An
// operation missing from it is not an operation.
var isCounterOperation = map[string]bool{
	TicketPurchase: true, Refund: true, Change: true, ReimbursementVoucher: true,
	IDCheck: false, Entry: false, TicketCheck: false,
}

// CounterOperation tells whether op is shown the full ID number.
func CounterOperation(op string) bool { return isCounterOperation[op] }

// Operations lists every operation, in API.md's order.
func Operations() []string {
	return []string{TicketPurchase, Refund, Change, ReimbursementVoucher, IDCheck, Entry, TicketCheck}
}

// Service verifies codes online.
type Service struct {
	Store    *store.Store
	Signing  *keys.Service
	Issuance *issuance.Service
	Clock    clock.Clock
	Verifier verify.Verifier
}

// Request is one scanned code.
type Request struct {
	Code      string
	Operation string
	// StationCode is where the code was scanned, if known.
	StationCode string
	// Verifier is the terminal or staff member scanning; a code belongs to
	// the first verifier that presents it.
	Verifier store.Actor
}

// Result is the answer to a Request.
type Result struct {
	Valid  bool
	Reason verify.Reason
	Replay bool
	// Certificate is the certificate the code names, when the issuer
	// signed the pass and the certificate is known.
	Certificate *store.Certificate
	// NameMasked and IDMasked are set whenever the issuer signed the pass,
	// so staff can see whose code failed.
	NameMasked string
	IDMasked   string
	// IDNumber is the full number, only for a valid code presented for a
	// counter operation.
	IDNumber     string
	PassNotAfter time.Time
	VerifiedAt   time.Time
}

// signedReasons are the failures about a pass the issuer really signed:
// after them the pass's fields can be believed and recorded.
func signed(r verify.Reason) bool {
	switch r {
	case verify.ReasonMalformed, verify.ReasonUnknownKey, verify.ReasonBadSignature:
		return false
	}
	return true
}

// Verify checks a code and records its use.
func (s *Service) Verify(ctx context.Context, r Request) (Result, error) {
	if _, ok := isCounterOperation[r.Operation]; !ok {
		return Result{}, problem.New(problem.ValidationFailed, "operation: one of %s", strings.Join(Operations(), ", "))
	}
	if r.Code == "" || len(r.Code) > credential.MaxCodeLen {
		return Result{}, problem.New(problem.ValidationFailed, "code: 1 to %d characters", credential.MaxCodeLen)
	}
	now := s.Clock.Now()
	trust := s.Signing.Trust(now)
	// The verifier has no use for seal keys online: the full number comes
	// from the database, and only for counter operations.
	trust.SealKeys = nil
	rev := &dbRevocations{ctx: ctx, store: s.Store, now: now}
	trust.Revoked = rev
	v := s.Verifier.Verify(r.Code, now, trust)
	if rev.err != nil {
		return Result{}, rev.err
	}
	res := Result{Valid: v.Valid, Reason: v.Reason, VerifiedAt: now}
	rec := store.Verification{
		ID: store.NewID(), Operation: r.Operation, Verifier: string(r.Verifier), StationCode: r.StationCode, At: now,
	}
	if v.Code != nil && signed(v.Reason) {
		p := v.Code.Pass
		rec.CertificateID, rec.Step = hex.EncodeToString(p.CertID[:]), int64(v.Code.Step)
		res.NameMasked, res.IDMasked, res.PassNotAfter = p.NameMasked, p.IDMasked, p.NotAfter
		cert := rev.cert
		if cert == nil {
			c, err := s.Store.Certificate(ctx, rec.CertificateID)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return Result{}, err
			}
			if err == nil {
				cert = &c
			}
		}
		res.Certificate = cert
		switch {
		case cert == nil && res.Valid:
			// A pass the issuer signed for a certificate the database does
			// not know (a restored backup, a purged record): refuse rather
			// than trust a pass whose certificate cannot be checked.
			res.Valid, res.Reason = false, verify.ReasonRevoked
		case cert == nil:
			// Keep the failure verify found; there is no status to add.
		case res.Reason == verify.ReasonRevoked && cert.Status == store.StatusSuperseded:
			res.Reason = verify.ReasonSuperseded
		case res.Valid:
			switch cert.StatusAt(now) {
			case store.StatusSuperseded:
				res.Valid, res.Reason = false, verify.ReasonSuperseded
			case store.StatusRevoked:
				res.Valid, res.Reason = false, verify.ReasonRevoked
			case store.StatusExpired:
				res.Valid, res.Reason = false, verify.ReasonCertificateExpired
			}
		}
		if cert != nil {
			res.NameMasked, res.IDMasked = cert.NameMasked, cert.IDMasked
		}
		rec.NameMasked, rec.IDMasked = res.NameMasked, res.IDMasked
	}
	rec.Verdict, rec.Reason = store.VerdictInvalid, string(res.Reason)
	if res.Valid {
		rec.Verdict, rec.Reason = store.VerdictValid, ""
	}
	stored, err := s.Store.RecordVerification(ctx, r.Verifier, rec, res.Valid)
	if err != nil {
		return Result{}, err
	}
	if stored.Replay {
		res.Valid, res.Reason, res.Replay = false, verify.ReasonReplayed, true
	}
	if res.Valid && CounterOperation(r.Operation) {
		id, err := s.Issuance.OpenIDNumber(*res.Certificate)
		if err != nil {
			return Result{}, err
		}
		res.IDNumber = id
	}
	return res, nil
}

// dbRevocations answers verify's step 8 from the database, the
// certificate's status and the device's revocation in one query. verify's
// interface has no error, so a failed query is remembered and answered
// "revoked" (failing closed); Verify then returns the error instead of the
// verdict. The certificate read here is kept for the status check after.
type dbRevocations struct {
	ctx   context.Context
	store *store.Store
	now   time.Time
	cert  *store.Certificate
	err   error
}

func (d *dbRevocations) Revoked(certID [16]byte, deviceHash [32]byte) bool {
	c, deviceRevoked, err := d.store.CertificateAndDevice(d.ctx, hex.EncodeToString(certID[:]), deviceHash[:], d.now)
	if errors.Is(err, store.ErrNotFound) {
		// Verify refuses a code whose certificate the database does not
		// know, whatever the device.
		return false
	}
	if err != nil {
		d.err = err
		return true
	}
	d.cert = &c
	return c.Status == store.StatusRevoked || c.Status == store.StatusSuperseded || deviceRevoked
}

// ValidStation tells whether a station code is well formed: 1 to 16 ASCII
// letters or digits.
func ValidStation(code string) bool {
	if code == "" || len(code) > 16 {
		return false
	}
	return strings.IndexFunc(code, func(r rune) bool {
		return !('0' <= r && r <= '9' || 'A' <= r && r <= 'Z' || 'a' <= r && r <= 'z')
	}) < 0
}

// CertificateOfCode returns the certificate a current code names, for the
// phone that drew it (a guest's app, which has no session to ask with):
// the code proves that the caller holds a pass of that certificate and
// its device key. Every step of CREDENTIAL.md but the revocation check
// must pass; the certificate's status is the answer, so a revoked or
// superseded certificate is what the app learns here. Nothing is
// recorded: the code stays usable at a gate.
func (s *Service) CertificateOfCode(ctx context.Context, code string) (store.Certificate, error) {
	if code == "" || len(code) > credential.MaxCodeLen {
		return store.Certificate{}, problem.New(problem.ValidationFailed, "code: 1 to %d characters", credential.MaxCodeLen)
	}
	trust := s.Signing.Trust(s.Clock.Now())
	trust.SealKeys, trust.Revoked = nil, nil
	v := s.Verifier.Verify(code, s.Clock.Now(), trust)
	if !v.Valid {
		return store.Certificate{}, problem.New(problem.ValidationFailed, "code: not a current code of a pass (%s)", v.Reason).
			With("reason", string(v.Reason))
	}
	c, err := s.Store.Certificate(ctx, hex.EncodeToString(v.Code.Pass.CertID[:]))
	if errors.Is(err, store.ErrNotFound) {
		return store.Certificate{}, problem.New(problem.NotFound, "no such certificate")
	}
	return c, err
}
