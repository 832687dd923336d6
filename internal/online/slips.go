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
	trust := s.Signing.Trust(now)
	trust.SealKeys = nil
	rev := &dbRevocations{ctx: ctx, store: s.Store, now: now}
	trust.Revoked = rev
	v := s.Verifier
	v.Gate = r.Gate
	verdict := v.Verify(r.Code, now, trust)
	if rev.err != nil {
		return Result{}, rev.err
	}
	res := Result{Valid: verdict.Valid, Reason: verdict.Reason, VerifiedAt: now, Kind: KindSlip}
	rec := store.Verification{
		ID: store.NewID(), Operation: r.Operation, Verifier: string(r.Verifier), StationCode: r.StationCode, At: now,
	}
	if sl := verdict.Slip; sl != nil && signed(verdict.Reason) {
		rec.CertificateID = hex.EncodeToString(sl.CertID[:])
		res.NameMasked, res.IDMasked = sl.NameMasked, sl.IDMasked
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
			res.Valid, res.Reason = false, verify.ReasonRevoked
		case cert == nil:
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
			window, listed := defaultUsedElsewhereWindow, defaultUsesListed
			if s.UsedElsewhereWindow > 0 {
				window = s.UsedElsewhereWindow
			}
			if s.UsesListed > 0 {
				listed = s.UsesListed
			}
			// The uses before this one: the answer tells the clerk where
			// the slip has been, and warns when it was admitted elsewhere.
			uses, elsewhere, err := s.Store.SlipUses(ctx, cert.ID, r.StationCode, now, window, listed)
			if err != nil {
				return Result{}, err
			}
			res.Uses = uses
			res.UsedElsewhere = elsewhere && res.Valid
		}
		rec.NameMasked, rec.IDMasked = res.NameMasked, res.IDMasked
	}
	rec.Verdict, rec.Reason = store.VerdictInvalid, string(res.Reason)
	if res.Valid {
		rec.Verdict, rec.Reason = store.VerdictValid, ""
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
