// Package verify decides whether a scanned code is valid, following the
// numbered steps of CREDENTIAL.md. The server and offline terminals both
// call Verify, so a code cannot be valid at a gate and invalid at a counter
// (or the reverse) because two implementations drifted apart.
package verify

import (
	"crypto/ed25519"
	"time"

	"tempid/internal/credential"
)

// Reason is the stable code of a verdict, shown to staff and recorded in
// the audit log; messages may change, reasons do not.
type Reason string

// Every reason a verdict can carry, in the order of the steps that yield
// them. The online-only reasons are defined here too so that there is one
// list.
const (
	// ReasonValid is the reason of a valid verdict.
	ReasonValid Reason = "valid"
	// ReasonMalformed: the text is not a well-formed code, or its pass
	// breaks the policy's bounds (steps 1, 2 and 9).
	ReasonMalformed Reason = "malformed"
	// ReasonUnknownKey: no trusted issuer key with the pass's kid was valid
	// at pass_nbf (step 3).
	ReasonUnknownKey Reason = "unknown_key"
	// ReasonBadSignature: no such key verifies the issuer signature (step 3).
	ReasonBadSignature Reason = "bad_signature"
	// ReasonWrongPurpose: the pass is not for railway use (step 4).
	ReasonWrongPurpose Reason = "wrong_purpose"
	// ReasonNotYetValid: now is before pass_nbf - skew (step 5).
	ReasonNotYetValid Reason = "not_yet_valid"
	// ReasonCertificateExpired: now is after cert_exp + skew (step 5).
	ReasonCertificateExpired Reason = "certificate_expired"
	// ReasonPassExpired: now is after pass_exp + skew (step 5); the holder
	// needs a new face check.
	ReasonPassExpired Reason = "pass_expired"
	// ReasonBadDeviceSignature: the device key did not sign the code (step 6).
	ReasonBadDeviceSignature Reason = "bad_device_signature"
	// ReasonCodeExpired: the code's step is outside the window (step 7).
	ReasonCodeExpired Reason = "code_expired"
	// ReasonRevoked: the certificate is revoked (step 8).
	ReasonRevoked Reason = "revoked"
	// ReasonDeviceRevoked: the pass's device key is revoked (step 8): the
	// holder logged out or cleared the app's storage (R4), and shows a new
	// code after a new face check.
	ReasonDeviceRevoked Reason = "device_revoked"
	// ReasonStaleBundle: an offline verifier's trust bundle is too old to
	// say "valid" (Trust.Stale, set by package bundle).
	ReasonStaleBundle Reason = "stale_bundle"
	// ReasonSuperseded: a newer certificate replaced this one (online only).
	ReasonSuperseded Reason = "superseded"
	// ReasonReplayed: the code was already used (online only).
	ReasonReplayed Reason = "replayed"
)

// DefaultSkew is the clock difference tolerated between phone, issuer and
// verifier.
const DefaultSkew = 30 * time.Second

// IssuerKey is an issuer public key and the window in which it may sign
// passes. A pass verifies under the key only if NotBefore <= pass_nbf <=
// NotAfter, so a retired key — or a stolen one — cannot mint passes dated
// after its retirement.
type IssuerKey struct {
	// KID is credential.KeyID(Public); it is carried separately because the
	// bundle names keys by it.
	KID [4]byte
	// Public is the Ed25519 public key.
	Public ed25519.PublicKey
	// NotBefore is the first pass_nbf the key may sign.
	NotBefore time.Time
	// NotAfter is the last pass_nbf the key may sign.
	NotAfter time.Time
}

// Revocations answers step 8: whether a certificate or a device key is
// revoked. Both are asked at once, so that an online verifier can look
// both up in one query.
type Revocations interface {
	// Revocation returns "" when neither the certificate with this cert_id
	// nor the device key with this SHA-256 of its compressed form (logout,
	// R4) is revoked. Otherwise it returns the reason: ReasonRevoked for
	// the certificate (online also ReasonSuperseded, or the reason of the
	// certificate's status in the database), which comes first, else
	// ReasonDeviceRevoked.
	Revocation(certID [16]byte, deviceHash [32]byte) Reason
}

// RevocationList is an in-memory Revocations, what an offline terminal
// builds from its trust bundle.
type RevocationList struct {
	// Certificates holds revoked cert_ids.
	Certificates map[[16]byte]struct{}
	// Devices holds SHA-256 hashes of revoked compressed device keys.
	Devices map[[32]byte]struct{}
}

var _ Revocations = RevocationList{}

// Revocation tells whether the certificate or the device is in the list,
// the certificate first.
func (l RevocationList) Revocation(certID [16]byte, deviceHash [32]byte) Reason {
	if _, ok := l.Certificates[certID]; ok {
		return ReasonRevoked
	}
	if _, ok := l.Devices[deviceHash]; ok {
		return ReasonDeviceRevoked
	}
	return ""
}

// Trust is what a verifier believes: the issuer keys, the revocations and,
// for terminals granted offline verification, the seal keys.
type Trust struct {
	// IssuerKeys are the keys that may have signed a pass.
	IssuerKeys []IssuerKey
	// Revoked is consulted at step 8; nil means nothing is revoked.
	Revoked Revocations
	// SealKeys maps seal key IDs to AES-256 keys; nil for verifiers that may
	// only see masked fields (R6).
	SealKeys map[uint16][]byte
	// Stale marks an offline verifier's trust as older than its freshness
	// limit: every well-formed code is then stale_bundle, never valid.
	Stale bool
}

// Verifier runs the verification steps. Its zero value is ready to use.
type Verifier struct {
	// Skew is the tolerated clock difference; zero or negative means
	// DefaultSkew, so that an unset configuration is never stricter than the
	// phones' clocks allow.
	Skew time.Duration
	// Gate marks a fixed, unattended gate: a slip there is staffed_lane,
	// since paper is checked where a clerk compares the printed identity
	// with the ticket.
	Gate bool
}

// Verdict is the outcome of verifying one code.
type Verdict struct {
	// Valid is true only when every step passed.
	Valid bool
	// Reason is ReasonValid or the reason of the first step that failed.
	Reason Reason
	// Code is the parsed code, nil when the text was malformed (or, in
	// package bundle, when the bundle was stale). It is set for other
	// failures so staff can see whose code failed.
	Code *credential.Code
	// Slip is the parsed slip when the text was a slip (TIDS1:), on the same
	// terms as Code.
	Slip *credential.Slip
	// IDNumber is the full ID number unsealed from the pass when the verdict
	// is valid, the pass carries a sealed ID and the trust holds its seal
	// key; otherwise "".
	IDNumber string
}

// Verify checks code at instant now against t, doing the steps of
// CREDENTIAL.md and returning the first failure in the document's reason
// order ("Reason order"), which puts first the state a retry cannot
// change:
//
//  1. exact prefix and strict Base45,
//  2. strict parse, and
//  9. the pass's bounds (pass_exp − pass_nbf ≤ 30 min, pass_exp ≤
//     cert_exp) — else malformed;
//     then, for a stale trust (an offline bundle past its freshness
//     limit), stale_bundle: garbage is malformed even there;
//  3. an issuer key with the pass's kid whose window contains pass_nbf —
//     else unknown_key — that verifies the issuer signature — else
//     bad_signature; every key with that kid is tried, since 4-byte kids
//     can collide;
//  4. purpose railway — else wrong_purpose;
//  6. device signature — else bad_device_signature;
//  8. cert_id not revoked — else revoked (or the online reason the
//     Revocations give) — and SHA-256(device_key) not revoked — else
//     device_revoked; so a revoked certificate's old code says revoked;
//  5. now <= cert_exp + skew — else certificate_expired; now <= pass_exp +
//     skew — else pass_expired; pass_nbf - skew <= now — else
//     not_yet_valid. The certificate comes before the pass because a pass
//     never outlives its certificate, so when both have ended the
//     certificate is the real cause (the holder needs a new certificate,
//     not a face check);
//  7. the step window: the code for step s is accepted from 60·s − skew
//     to 60·(s+1) + skew, both included — else code_expired. So one code
//     lives at most 60 s + 2 × skew (120 s with the default skew), and a
//     phone whose clock runs up to skew ahead still has its code accepted.
//
// Keeping the document's order matters beyond tidiness: reasons after
// bad_signature are only ever reported about passes the issuer really
// signed, so a forger learns nothing from them.
//
// A slip (text with the slip prefix) is verified by its own steps instead
// (see verifySlip), so that every caller verifies codes and slips alike.
func (v Verifier) Verify(code string, now time.Time, t *Trust) Verdict {
	if credential.IsSlip(code) {
		return v.verifySlip(code, now, t)
	}
	c, ok := Parse(code)
	if !ok {
		return Verdict{Reason: ReasonMalformed}
	}
	if t != nil && t.Stale {
		return Verdict{Reason: ReasonStaleBundle}
	}
	fail := func(r Reason) Verdict { return Verdict{Reason: r, Code: c} }
	p := c.Pass
	if t == nil {
		return fail(ReasonUnknownKey)
	}

	if r := t.issuer(p.IssuerKID, p.NotBefore, p.VerifyIssuer); r != "" {
		return fail(r)
	}

	if p.Purpose != credential.PurposeRailway {
		return fail(ReasonWrongPurpose)
	}

	if !c.VerifyDevice() {
		return fail(ReasonBadDeviceSignature)
	}

	if t.Revoked != nil {
		if r := t.Revoked.Revocation(p.CertID, credential.DeviceKeyHash(p.DeviceKey)); r != "" {
			return fail(r)
		}
	}

	skew := v.skew()
	switch {
	case now.After(p.CertExpiry.Add(skew)):
		return fail(ReasonCertificateExpired)
	case now.After(p.NotAfter.Add(skew)):
		return fail(ReasonPassExpired)
	case now.Before(p.NotBefore.Add(-skew)):
		return fail(ReasonNotYetValid)
	}

	start := time.Unix(int64(c.Step)*credential.StepSeconds, 0)
	if now.Before(start.Add(-skew)) || now.After(start.Add(credential.StepSeconds*time.Second+skew)) {
		return fail(ReasonCodeExpired)
	}

	verdict := Verdict{Valid: true, Reason: ReasonValid, Code: c}
	if s := p.Sealed; s != nil {
		if key, ok := t.SealKeys[s.KID]; ok {
			// A sealed number that fails to open leaves IDNumber empty
			// rather than failing the verdict: the issuer signed the pass,
			// so this means a seal key mismatch in the trust, and the
			// masked fields are still right.
			if id, err := s.Open(key, p.CertID); err == nil {
				verdict.IDNumber = id
			}
		}
	}
	return verdict
}

// ClockSkew is the clock difference the verifier tolerates: Skew, or
// DefaultSkew when Skew is not set.
func (v Verifier) ClockSkew() time.Duration { return v.skew() }

// Parse does the steps whose failure is malformed — 1 (prefix and Base45),
// 2 (strict parse) and 9 (the pass keeps the policy's bounds) — and
// returns the code when they pass. It checks no signature, so a pass
// outside the bounds is malformed whoever signed it: an issuer that
// signed one broke the format.
func Parse(code string) (*credential.Code, bool) {
	c, err := credential.ParseCode(code)
	if err != nil {
		return nil, false
	}
	p := c.Pass
	if p.NotAfter.Sub(p.NotBefore) > credential.MaxPassLifetime || p.NotAfter.After(p.CertExpiry) {
		return nil, false
	}
	return c, true
}

// issuer is step 3 for a pass or a slip: every trusted key with this kid
// that was valid at `at` (a pass's pass_nbf, a slip's issued_at) is tried,
// since 4-byte kids can collide. It returns "" when one verifies the
// signature, unknown_key when no key fits, else bad_signature.
func (t *Trust) issuer(kid [4]byte, at time.Time, verifies func(ed25519.PublicKey) bool) Reason {
	candidates := 0
	for _, k := range t.IssuerKeys {
		if k.KID != kid || at.Before(k.NotBefore) || at.After(k.NotAfter) {
			continue
		}
		candidates++
		if verifies(k.Public) {
			return ""
		}
	}
	if candidates == 0 {
		return ReasonUnknownKey
	}
	return ReasonBadSignature
}

func (v Verifier) skew() time.Duration {
	if v.Skew <= 0 {
		return DefaultSkew
	}
	return v.Skew
}
