package verify

import (
	"time"

	"tempid/internal/credential"
)

// ReasonStaffedLane: a valid slip shown at a fixed gate; paper is checked
// at staffed lanes, where a clerk compares the printed identity with the
// ticket.
const ReasonStaffedLane Reason = "staffed_lane"

// verifySlip checks a paper certificate (CREDENTIAL.md, slip) at now,
// giving the first failure in the reason order: malformed (prefix, Base45,
// strict parse, the bound on cert_exp) → unknown_key, bad_signature (the
// key valid at issued_at, the slip's own signing context) → wrong_purpose →
// staffed_lane (a gate) → revoked → certificate_expired, not_yet_valid.
// There is no device signature and no step; a slip is never a replay.
func (v Verifier) verifySlip(text string, now time.Time, t *Trust) Verdict {
	s, err := credential.ParseSlip(text)
	if err != nil {
		return Verdict{Reason: ReasonMalformed}
	}
	if t != nil && t.Stale {
		// Garbage is malformed even with a stale bundle; a slip that
		// parses is stale_bundle before anything else (Reason order).
		return Verdict{Reason: ReasonStaleBundle}
	}
	fail := func(r Reason) Verdict { return Verdict{Reason: r, Slip: s} }
	if t == nil {
		return fail(ReasonUnknownKey)
	}
	if r := t.issuer(s.IssuerKID, s.IssuedAt, s.VerifyIssuer); r != "" {
		return fail(r)
	}
	if s.Purpose != credential.PurposeRailway {
		return fail(ReasonWrongPurpose)
	}
	if v.Gate {
		return fail(ReasonStaffedLane)
	}
	if r := slipRevocation(t.Revoked, s.CertID); r != "" {
		return fail(r)
	}
	skew := v.skew()
	switch {
	case now.After(s.CertExpiry.Add(skew)):
		return fail(ReasonCertificateExpired)
	case now.Before(s.IssuedAt.Add(-skew)):
		return fail(ReasonNotYetValid)
	}
	verdict := Verdict{Valid: true, Reason: ReasonValid, Slip: s}
	if sd := s.Sealed; sd != nil {
		if key, ok := t.SealKeys[sd.KID]; ok {
			if id, err := sd.Open(key, s.CertID); err == nil {
				verdict.IDNumber = id
			}
		}
	}
	return verdict
}

// slipRevocation asks step 8 for a slip: only its certificate, since a
// slip has no device key (the zero hash names no device). Online the
// answer may be the certificate's status in the database (superseded).
func slipRevocation(r Revocations, certID [16]byte) Reason {
	if r == nil {
		return ""
	}
	if reason := r.Revocation(certID, [32]byte{}); reason != ReasonDeviceRevoked {
		return reason
	}
	return ""
}
