package verify_test

import (
	"crypto/ed25519"
	"encoding/binary"
	"testing"
	"time"

	"tempid/internal/credential"
	"tempid/internal/credential/credentialtest"
	"tempid/internal/verify"
)

// Offsets of cert_exp, pass_nbf and pass_exp in a pass body (CREDENTIAL.md,
// "Bytes").
const (
	offCertExp = 1 + 1 + 4 + 16
	offPassNbf = offCertExp + 4
	offPassExp = offPassNbf + 4
)

// outOfBounds signs f.body with its times changed at the byte level, as a
// broken or hostile issuer could, since credential.SignPass refuses a pass
// outside the policy's bounds. It returns the code for the step of at.
func (f *fixture) outOfBounds(t *testing.T, at time.Time, certExp, nbf, exp time.Time) string {
	t.Helper()
	b := f.body
	// Within bounds for Marshal; the times are written over afterwards.
	b.CertExpiry, b.NotBefore, b.NotAfter = base.Add(time.Hour), base, base
	body, err := b.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	binary.BigEndian.PutUint32(body[offCertExp:], uint32(certExp.Unix()))
	binary.BigEndian.PutUint32(body[offPassNbf:], uint32(nbf.Unix()))
	binary.BigEndian.PutUint32(body[offPassExp:], uint32(exp.Unix()))
	sig := ed25519.Sign(f.issuer, append([]byte("tempid-pass-v1"), body...))
	return credentialtest.Code(t, append(body, sig...), credential.StepAt(at), f.device)
}

// TestStepWindowEdges: the code for step s is accepted from 60·s − skew to
// 60·(s+1) + skew, both included (CREDENTIAL.md step 7, clarified
// 2026-12), and not a nanosecond outside.
func TestStepWindowEdges(t *testing.T) {
	f := newFixture(t)
	code := f.code(t, base, nil) // step s starts at base
	end := base.Add(time.Minute)
	tests := []struct {
		name string
		skew time.Duration
		now  time.Time
		want verify.Reason
	}{
		{"30 s before its step starts the code is valid", 0, base.Add(-30 * time.Second), verify.ReasonValid},
		{"30 s and 1 ns before its step starts the code is code_expired", 0, base.Add(-30*time.Second - 1), verify.ReasonCodeExpired},
		{"31 s before its step starts the code is code_expired", 0, base.Add(-31 * time.Second), verify.ReasonCodeExpired},
		{"at its step's start the code is valid", 0, base, verify.ReasonValid},
		{"at its step's end the code is valid", 0, end, verify.ReasonValid},
		{"30 s after its step ends the code is valid", 0, end.Add(30 * time.Second), verify.ReasonValid},
		{"30 s and 1 ns after its step ends the code is code_expired", 0, end.Add(30*time.Second + 1), verify.ReasonCodeExpired},
		{"31 s after its step ends the code is code_expired", 0, end.Add(31 * time.Second), verify.ReasonCodeExpired},
		{"120 s after its step starts (the first text's window) the code is code_expired", 0, base.Add(120 * time.Second), verify.ReasonCodeExpired},
		{"with a 10 s skew, 10 s after its step ends the code is valid", 10 * time.Second, end.Add(10 * time.Second), verify.ReasonValid},
		{"with a 10 s skew, 11 s after its step ends the code is code_expired", 10 * time.Second, end.Add(11 * time.Second), verify.ReasonCodeExpired},
		{"with a 10 s skew, 10 s before its step starts the code is valid", 10 * time.Second, base.Add(-10 * time.Second), verify.ReasonValid},
		{"with a 10 s skew, 11 s before its step starts the code is code_expired", 10 * time.Second, base.Add(-11 * time.Second), verify.ReasonCodeExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, want := (verify.Verifier{Skew: tt.skew}).Verify(code, tt.now, f.trust).Reason, tt.want; got != want {
				t.Errorf("Reason = %q, want %q", got, want)
			}
		})
	}
}

// TestPassBoundsAreMalformed: step 9 makes the verifier check what only the
// issuer checked before: pass_exp − pass_nbf ≤ 30 min and pass_exp ≤
// cert_exp, else malformed, whoever signed the pass.
func TestPassBoundsAreMalformed(t *testing.T) {
	f := newFixture(t)
	nbf := base.Add(-5 * time.Minute)
	tests := []struct {
		name                  string
		certExp, nbf, exp     time.Time
		want                  verify.Reason
		withTrustOfAnyoneElse bool
	}{
		{name: "a pass of exactly 30 minutes is valid", certExp: base.Add(time.Hour), nbf: nbf, exp: nbf.Add(30 * time.Minute), want: verify.ReasonValid},
		{name: "a pass of 30 minutes and 1 second is malformed", certExp: base.Add(time.Hour), nbf: nbf, exp: nbf.Add(30*time.Minute + time.Second), want: verify.ReasonMalformed},
		{name: "a pass of a day is malformed", certExp: base.Add(48 * time.Hour), nbf: nbf, exp: nbf.Add(24 * time.Hour), want: verify.ReasonMalformed},
		{name: "a pass ending with its certificate is valid", certExp: base.Add(time.Minute), nbf: nbf, exp: base.Add(time.Minute), want: verify.ReasonValid},
		{name: "a pass ending 1 s after its certificate is malformed", certExp: base.Add(time.Minute), nbf: nbf, exp: base.Add(time.Minute + time.Second), want: verify.ReasonMalformed},
		{name: "a pass outside the bounds under an unknown key is malformed, not unknown_key", certExp: base.Add(time.Hour), nbf: nbf, exp: nbf.Add(31 * time.Minute), want: verify.ReasonMalformed, withTrustOfAnyoneElse: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code := f.outOfBounds(t, base, tt.certExp, tt.nbf, tt.exp)
			trust := f.trust
			if tt.withTrustOfAnyoneElse {
				trust = &verify.Trust{IssuerKeys: []verify.IssuerKey{issuerKey(credentialtest.IssuerKey(9), base.Add(-time.Hour), base)}}
			}
			v := verify.Verifier{}.Verify(code, base, trust)
			if got, want := v.Reason, tt.want; got != want {
				t.Errorf("Reason = %q, want %q", got, want)
			}
			if got, want := v.Code == nil, tt.want == verify.ReasonMalformed; got != want {
				t.Errorf("Code == nil is %v, want %v", got, want)
			}
			if _, ok := verify.Parse(code); ok != (tt.want != verify.ReasonMalformed) {
				t.Errorf("Parse() ok = %v, want %v", ok, tt.want != verify.ReasonMalformed)
			}
		})
	}
}

// TestReasonOrder: when two checks fail, the reason is the first in
// CREDENTIAL.md's "Reason order": malformed → stale_bundle → unknown_key,
// bad_signature → wrong_purpose → bad_device_signature → revoked →
// device_revoked → certificate_expired, pass_expired, not_yet_valid →
// code_expired.
func TestReasonOrder(t *testing.T) {
	f := newFixture(t)
	certRevoked := func(tr *verify.Trust) { tr.Revoked = revokeCertificate(f.body.CertID) }
	deviceRevoked := func(tr *verify.Trust) { tr.Revoked = revokeDevice(credential.DeviceKeyHash(f.body.DeviceKey)) }
	bothRevoked := func(tr *verify.Trust) {
		tr.Revoked = verify.RevocationList{
			Certificates: map[[16]byte]struct{}{f.body.CertID: {}},
			Devices:      map[[32]byte]struct{}{credential.DeviceKeyHash(f.body.DeviceKey): {}},
		}
	}
	stale := func(tr *verify.Trust) { tr.Stale = true }
	unknownKey := func(tr *verify.Trust) {
		tr.IssuerKeys = []verify.IssuerKey{issuerKey(credentialtest.IssuerKey(9), base.Add(-time.Hour), base)}
	}
	passEnd := f.body.NotAfter
	wrongPurpose := func(b *credential.Body) { b.Purpose = 2 }
	expiredCert := func(b *credential.Body) {
		b.CertExpiry, b.NotAfter = base.Add(-time.Hour), base.Add(-time.Hour)
		b.NotBefore = base.Add(-90 * time.Minute)
	}
	tests := []struct {
		name  string
		code  func() string
		now   time.Time
		trust func(*verify.Trust)
		want  verify.Reason
	}{
		{"a pass outside the bounds at a stale bundle is malformed",
			func() string { return f.outOfBounds(t, base, base.Add(time.Hour), base, base.Add(time.Hour)) }, base, stale, verify.ReasonMalformed},
		{"a good code at a stale bundle is stale_bundle, not valid",
			func() string { return f.code(t, base, nil) }, base, stale, verify.ReasonStaleBundle},
		{"an unknown key at a stale bundle is stale_bundle",
			func() string { return f.code(t, base, nil) }, base, func(tr *verify.Trust) { unknownKey(tr); stale(tr) }, verify.ReasonStaleBundle},
		{"an unknown key with a revoked certificate is unknown_key",
			func() string { return f.code(t, base, nil) }, base, func(tr *verify.Trust) { unknownKey(tr); certRevoked(tr) }, verify.ReasonUnknownKey},
		{"a wrong purpose of a revoked certificate is wrong_purpose",
			func() string { return f.code(t, base, wrongPurpose) }, base, certRevoked, verify.ReasonWrongPurpose},
		{"a foreign device signature of a revoked certificate is bad_device_signature",
			func() string { return f.foreignDeviceCode(t, base) }, base, certRevoked, verify.ReasonBadDeviceSignature},
		{"a revoked certificate whose device is revoked too is revoked",
			func() string { return f.code(t, base, nil) }, base, bothRevoked, verify.ReasonRevoked},
		{"a revoked certificate's old code is revoked, not code_expired",
			func() string { return f.code(t, base.Add(-10*time.Minute), nil) }, base, certRevoked, verify.ReasonRevoked},
		{"a revoked certificate after its pass ended is revoked, not pass_expired",
			func() string { return f.code(t, passEnd.Add(time.Hour), nil) }, passEnd.Add(time.Hour), certRevoked, verify.ReasonRevoked},
		{"a revoked certificate after it expired is revoked, not certificate_expired",
			func() string { return f.code(t, base, expiredCert) }, base, certRevoked, verify.ReasonRevoked},
		{"a revoked device's old code is device_revoked, not code_expired",
			func() string { return f.code(t, base.Add(-10*time.Minute), nil) }, base, deviceRevoked, verify.ReasonDeviceRevoked},
		{"a revoked device after its certificate expired is device_revoked",
			func() string { return f.code(t, base, expiredCert) }, base, deviceRevoked, verify.ReasonDeviceRevoked},
		{"an expired certificate with an old code is certificate_expired, not code_expired",
			func() string { return f.code(t, base.Add(-10*time.Minute), expiredCert) }, base, nil, verify.ReasonCertificateExpired},
		{"an ended pass with an old code is pass_expired, not code_expired",
			func() string { return f.code(t, passEnd, nil) }, passEnd.Add(time.Hour), nil, verify.ReasonPassExpired},
		{"a pass not yet valid with a code from the future is not_yet_valid, not code_expired",
			func() string { return f.code(t, f.body.NotBefore.Add(time.Hour), nil) }, f.body.NotBefore.Add(-time.Hour), nil, verify.ReasonNotYetValid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			trust := *f.trust
			if tt.trust != nil {
				tt.trust(&trust)
			}
			v := verify.Verifier{}.Verify(tt.code(), tt.now, &trust)
			if got, want := v.Reason, tt.want; got != want {
				t.Errorf("Reason = %q, want %q", got, want)
			}
			if v.Valid {
				t.Error("Valid = true, want false")
			}
		})
	}
}
