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
	// UsedElsewhereWindow and UsesListed are the slip rules of the policy
	// (zero: 2 h and 10).
	UsedElsewhereWindow time.Duration
	UsesListed          int
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
	// Gate marks a terminal of kind gate: a slip there is staffed_lane.
	Gate bool
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
	// IDNumber is the full number, only for a valid code or slip
	// presented for an operation that shows the full identity
	// (FullIdentity).
	IDNumber     string
	PassNotAfter time.Time
	VerifiedAt   time.Time
	// Kind is KindCode or KindSlip.
	Kind string
	// Name is the holder's full name, when IDNumber is set.
	Name string
	// Uses are a slip's last uses before this one, newest first, and
	// UsedElsewhere warns that it was admitted at another station within
	// two hours (the verdict stays valid).
	Uses          []store.SlipUse
	UsedElsewhere bool
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
	if KindOf(r.Code) == KindSlip {
		return s.verifySlip(ctx, r, now)
	}
	res, rec, err := s.check(ctx, r.Code, now, false)
	if err != nil {
		return Result{}, err
	}
	res.Kind = KindCode
	rec.ID, rec.Operation, rec.Verifier, rec.StationCode, rec.At = store.NewVerificationID(now), r.Operation, string(r.Verifier), r.StationCode, now
	stored, err := s.Store.RecordVerification(ctx, r.Verifier, rec, res.Valid)
	if err != nil {
		return Result{}, err
	}
	if stored.Replay {
		res.Valid, res.Reason, res.Replay = false, verify.ReasonReplayed, true
	}
	if res.Valid && FullIdentity(r.Operation) {
		id, err := s.Issuance.OpenIDNumber(*res.Certificate)
		if err != nil {
			return Result{}, err
		}
		name, err := s.Issuance.OpenName(*res.Certificate)
		if err != nil {
			return Result{}, err
		}
		res.IDNumber, res.Name = id, name
	}
	return res, nil
}

// CheckAt runs the steps of CREDENTIAL.md on code as of the instant at,
// with the keys published then and the database's revocations and
// certificate statuses as they stood then (a revocation made after at
// does not count): how the server re-verifies a scan a terminal made
// offline. It records nothing; the returned Verification holds the
// verdict and the code's certificate and step, for the caller to complete
// and record. The replay check is the caller's, since it is a write.
func (s *Service) CheckAt(ctx context.Context, code string, at time.Time) (Result, store.Verification, error) {
	if credential.IsSlip(code) {
		return s.CheckSlipAt(ctx, code, at, false)
	}
	return s.check(ctx, code, at, true)
}

// check verifies code at now; with asOf, the database's facts are taken
// as of now rather than as they are.
func (s *Service) check(ctx context.Context, code string, now time.Time, asOf bool) (Result, store.Verification, error) {
	rev := &dbRevocations{ctx: ctx, store: s.Store, now: now, asOf: asOf}
	// No seal keys: the verifier has no use for them online, where the
	// full number comes from the database, and only for counter operations.
	trust := &verify.Trust{IssuerKeys: s.Signing.Published(now), Revoked: rev}
	v := s.Verifier.Verify(code, now, trust)
	if rev.err != nil {
		return Result{}, store.Verification{}, rev.err
	}
	res := Result{Valid: v.Valid, Reason: v.Reason, VerifiedAt: now}
	var rec store.Verification
	if v.Code != nil && signed(v.Reason) {
		p := v.Code.Pass
		rec.CertificateID, rec.Step = hex.EncodeToString(p.CertID[:]), int64(v.Code.Step)
		res.NameMasked, res.IDMasked, res.PassNotAfter = p.NameMasked, p.IDMasked, p.NotAfter
		cert := rev.cert
		if cert == nil && !rev.missing {
			// The code failed before step 8; the certificate is read
			// only to show whose code it was.
			c, err := s.Store.Certificate(ctx, rec.CertificateID)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return Result{}, store.Verification{}, err
			}
			if err == nil {
				cert = &c
			}
		}
		res.Certificate = cert
		if cert != nil {
			res.NameMasked, res.IDMasked = cert.NameMasked, cert.IDMasked
		}
		rec.NameMasked, rec.IDMasked = res.NameMasked, res.IDMasked
	}
	rec.Verdict, rec.Reason = store.VerdictInvalid, string(res.Reason)
	if res.Valid {
		rec.Verdict, rec.Reason = store.VerdictValid, ""
	}
	return res, rec, nil
}

// dbRevocations answers verify's step 8 from the database, the
// certificate's status and the device's revocation in one query, so that
// the reason order of CREDENTIAL.md holds online too: the certificate's
// database status (revoked, superseded, expired) comes where revoked does,
// before device_revoked and before the pass's times and the step. A
// certificate the database does not know (a restored backup, a purged
// record) is revoked: a pass whose certificate cannot be checked is not
// trusted. verify's interface has no error, so a failed query is
// remembered and answered "revoked" (failing closed); check then returns
// the error instead of the verdict. The certificate read here is kept for
// the answer.
type dbRevocations struct {
	ctx   context.Context
	store *store.Store
	now   time.Time
	// asOf takes the facts as they stood at now: revocations and
	// supersessions made later are not counted.
	asOf    bool
	cert    *store.Certificate
	missing bool
	err     error
}

func (d *dbRevocations) Revocation(certID [16]byte, deviceHash [32]byte) verify.Reason {
	id := hex.EncodeToString(certID[:])
	var c store.Certificate
	var deviceRevoked bool
	var err error
	if d.asOf {
		c, deviceRevoked, err = d.store.CertificateAndDeviceAsOf(d.ctx, id, deviceHash[:], d.now)
	} else {
		c, deviceRevoked, err = d.store.CertificateAndDevice(d.ctx, id, deviceHash[:], d.now)
	}
	if errors.Is(err, store.ErrNotFound) {
		d.missing = true
		return verify.ReasonRevoked
	}
	if err != nil {
		d.err = err
		return verify.ReasonRevoked
	}
	d.cert = &c
	status := c.StatusAt(d.now)
	if d.asOf && c.Status != store.StatusActive && c.ChangedAt.After(d.now) {
		// Revoked or superseded after the scan: active then, unless it had
		// expired by time.
		was := c
		was.Status = store.StatusActive
		status = was.StatusAt(d.now)
	}
	switch status {
	case store.StatusRevoked:
		return verify.ReasonRevoked
	case store.StatusSuperseded:
		return verify.ReasonSuperseded
	case store.StatusExpired:
		return verify.ReasonCertificateExpired
	}
	if deviceRevoked {
		return verify.ReasonDeviceRevoked
	}
	return ""
}

// ValidStation tells whether a station code is well formed: its
// three-letter telegraph code, [A-Z]{3} (SPEC: accounts, staff, terminals).
func ValidStation(code string) bool { return credential.ValidStation(code) }

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
	now := s.Clock.Now()
	v := s.Verifier.Verify(code, now, &verify.Trust{IssuerKeys: s.Signing.Published(now)})
	if !v.Valid || v.Code == nil {
		return store.Certificate{}, problem.New(problem.ValidationFailed, "code: not a current code of a pass (%s)", v.Reason).
			With("reason", string(v.Reason))
	}
	c, err := s.Store.Certificate(ctx, hex.EncodeToString(v.Code.Pass.CertID[:]))
	if errors.Is(err, store.ErrNotFound) {
		return store.Certificate{}, problem.New(problem.NotFound, "no such certificate")
	}
	return c, err
}
