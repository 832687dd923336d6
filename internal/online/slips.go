package online

import (
	"context"
	"encoding/hex"
	"errors"
	"time"

	"tempid/internal/credential"
	"tempid/internal/store"
	"tempid/internal/verify"
)

// Kinds of credential a verification names.
const (
	KindCode = "code"
	KindSlip = "slip"
)

// KindOf tells a slip's text from a code's by its prefix.
func KindOf(text string) string {
	if credential.IsSlip(text) {
		return KindSlip
	}
	return KindCode
}

// FullIdentity tells whether a verification for op shows the holder's
// full name and ID number (API.md): the counter operations and the
// staffed-lane id_check, where a clerk compares them with the booking.
func FullIdentity(op string) bool { return CounterOperation(op) || op == IDCheck }

// Defaults for the slip rules when the service is built without a policy.
const (
	defaultUsedElsewhereWindow = 2 * time.Hour
	defaultUsesListed          = 10
)

// verifySlip checks a slip (CREDENTIAL.md, slip) and records its use. A
// slip is static, so a second use is not a replay: the answer lists its
// recent uses and warns (used_elsewhere) when it was admitted — a valid
// entry — at another station within two hours; the verdict stays valid.
func (s *Service) verifySlip(ctx context.Context, r Request, now time.Time) (Result, error) {
	res, rec, err := s.checkSlip(ctx, r.Code, r.Gate, now, false)
	if err != nil {
		return Result{}, err
	}
	rec.ID, rec.Operation, rec.Verifier, rec.StationCode, rec.At = store.NewVerificationID(now), r.Operation, string(r.Verifier), r.StationCode, now
	if cert := res.Certificate; cert != nil {
		// The uses before this one: the answer tells the clerk where the
		// slip has been, and warns when it was admitted elsewhere.
		uses, elsewhere, err := s.Store.SlipUses(ctx, cert.ID, r.StationCode, now, s.SlipWindow(), s.usesListed())
		if err != nil {
			return Result{}, err
		}
		res.Uses = uses
		res.UsedElsewhere = elsewhere && res.Valid
	}
	if _, err := s.Store.RecordVerification(ctx, r.Verifier, rec, false); err != nil {
		return Result{}, err
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

// SlipWindow is how long a slip's admission at one station makes an
// admission at another used_elsewhere: the policy's, or 2 h.
func (s *Service) SlipWindow() time.Duration {
	if s.UsedElsewhereWindow > 0 {
		return s.UsedElsewhereWindow
	}
	return defaultUsedElsewhereWindow
}

func (s *Service) usesListed() int {
	if s.UsesListed > 0 {
		return s.UsesListed
	}
	return defaultUsesListed
}

// CheckSlipAt re-verifies a slip as of at, with the certificate's status
// as it stood then, for a terminal (a gate when gate is set) that scanned
// it offline. Like CheckAt it records nothing: the Verification holds the
// verdict and the slip's certificate (no step: a slip has none, and is
// never claimed as a replay).
func (s *Service) CheckSlipAt(ctx context.Context, code string, at time.Time, gate bool) (Result, store.Verification, error) {
	return s.checkSlip(ctx, code, gate, at, true)
}

// checkSlip verifies a slip at now and fills the verdict, the certificate
// and the masked holder of a Verification for the caller to complete;
// with asOf the certificate's status is taken as it stood at now.
func (s *Service) checkSlip(ctx context.Context, code string, gate bool, now time.Time, asOf bool) (Result, store.Verification, error) {
	trust := s.Signing.Trust(now)
	trust.SealKeys = nil
	rev := &dbRevocations{ctx: ctx, store: s.Store, now: now, asOf: asOf}
	trust.Revoked = rev
	v := s.Verifier
	v.Gate = gate
	verdict := v.Verify(code, now, trust)
	if rev.err != nil {
		return Result{}, store.Verification{}, rev.err
	}
	res := Result{Valid: verdict.Valid, Reason: verdict.Reason, VerifiedAt: now, Kind: KindSlip}
	var rec store.Verification
	if sl := verdict.Slip; sl != nil && signed(verdict.Reason) {
		rec.CertificateID = hex.EncodeToString(sl.CertID[:])
		res.NameMasked, res.IDMasked = sl.NameMasked, sl.IDMasked
		cert := rev.cert
		if cert == nil {
			c, err := s.Store.Certificate(ctx, rec.CertificateID)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return Result{}, store.Verification{}, err
			}
			if err == nil {
				cert = &c
			}
		}
		res.Certificate = cert
		switch {
		case cert == nil && res.Valid:
			res.Valid, res.Reason = false, verify.ReasonRevoked
		case cert == nil:
		case res.Reason == verify.ReasonRevoked && cert.Status == store.StatusSuperseded:
			res.Reason = verify.ReasonSuperseded
		case res.Valid && !asOf:
			// dbRevocations answered step 8 already; as of now the
			// status is read again in case it is not active. As of a
			// past instant dbRevocations' answer is the one that counts.
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
	return res, rec, nil
}
