package verify_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"tempid/internal/base45"
	"tempid/internal/credential"
	"tempid/internal/credential/credentialtest"
	"tempid/internal/verify"
)

// base is a step boundary: 2026-03-01 08:00:00 UTC is a whole minute.
var base = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

const sealKID = 0x0007

// fixture is one issuer, one phone and a pass authorised five minutes
// before base, with the trust a granted offline terminal would hold.
type fixture struct {
	issuer ed25519.PrivateKey
	device *ecdsa.PrivateKey
	body   credential.Body
	trust  *verify.Trust
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{issuer: credentialtest.IssuerKey(1), device: credentialtest.DeviceKey(t)}
	f.body = credentialtest.Body(t, f.issuer, f.device, base.Add(-5*time.Minute))
	credentialtest.Seal(t, &f.body, credentialtest.SealKey(1), sealKID)
	f.trust = &verify.Trust{
		IssuerKeys: []verify.IssuerKey{issuerKey(f.issuer, base.Add(-24*time.Hour), base.Add(24*time.Hour))},
		Revoked:    verify.RevocationList{},
		SealKeys:   map[uint16][]byte{sealKID: credentialtest.SealKey(1)},
	}
	return f
}

func issuerKey(priv ed25519.PrivateKey, notBefore, notAfter time.Time) verify.IssuerKey {
	pub := priv.Public().(ed25519.PublicKey)
	return verify.IssuerKey{KID: credential.KeyID(pub), Public: pub, NotBefore: notBefore, NotAfter: notAfter}
}

// code signs f.body (after change) and makes its code for the step of at.
func (f *fixture) code(t testing.TB, at time.Time, change func(b *credential.Body)) string {
	t.Helper()
	b := f.body
	if change != nil {
		change(&b)
	}
	return credentialtest.Code(t, credentialtest.Pass(t, b, f.issuer), credential.StepAt(at), f.device)
}

// foreignDeviceCode is f's pass with a code signed by another device key:
// a copied pass without the phone's key.
func (f *fixture) foreignDeviceCode(t testing.TB, at time.Time) string {
	t.Helper()
	pass := credentialtest.Pass(t, f.body, f.issuer)
	step := credential.StepAt(at)
	msg := append([]byte("tempid-code-v1"), pass...)
	msg = binary.BigEndian.AppendUint32(msg, step)
	digest := sha256.Sum256(msg)
	r, s, err := ecdsa.Sign(rand.Reader, credentialtest.DeviceKey(t), digest[:])
	if err != nil {
		t.Fatal(err)
	}
	raw := binary.BigEndian.AppendUint32(bytes.Clone(pass), step)
	var sig [64]byte
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return credential.Prefix + base45.Encode(append(raw, sig[:]...))
}

func TestVerifyGivesEachReasonForItsFailure(t *testing.T) {
	f := newFixture(t)
	other := credentialtest.IssuerKey(2)
	passEnd := f.body.NotAfter
	tests := []struct {
		name  string
		code  func() string
		now   time.Time
		trust func(*verify.Trust)
		want  verify.Reason
	}{
		{
			name: "a fresh code of a good pass is valid",
			code: func() string { return f.code(t, base, nil) },
			now:  base,
			want: verify.ReasonValid,
		},
		{
			name: "text that is not a code is malformed",
			code: func() string { return "https://example.com/" },
			now:  base,
			want: verify.ReasonMalformed,
		},
		{
			name: "a pass whose issuer key is not trusted is unknown_key",
			code: func() string { return f.code(t, base, nil) },
			now:  base,
			trust: func(tr *verify.Trust) {
				tr.IssuerKeys = []verify.IssuerKey{issuerKey(other, base.Add(-time.Hour), base)}
			},
			want: verify.ReasonUnknownKey,
		},
		{
			name: "a trusted key with the pass's kid but another public key is bad_signature",
			code: func() string { return f.code(t, base, nil) },
			now:  base,
			trust: func(tr *verify.Trust) {
				k := issuerKey(other, base.Add(-time.Hour), base)
				k.KID = credential.KeyID(f.issuer.Public().(ed25519.PublicKey))
				tr.IssuerKeys = []verify.IssuerKey{k}
			},
			want: verify.ReasonBadSignature,
		},
		{
			name: "a pass for another purpose is wrong_purpose",
			code: func() string { return f.code(t, base, func(b *credential.Body) { b.Purpose = 2 }) },
			now:  base,
			want: verify.ReasonWrongPurpose,
		},
		{
			name: "a code scanned 31 s before its pass starts is not_yet_valid",
			code: func() string { return f.code(t, f.body.NotBefore, nil) },
			now:  f.body.NotBefore.Add(-31 * time.Second),
			want: verify.ReasonNotYetValid,
		},
		{
			name: "a code scanned 30 s before its pass starts is valid",
			code: func() string { return f.code(t, f.body.NotBefore, nil) },
			now:  f.body.NotBefore.Add(-30 * time.Second),
			want: verify.ReasonValid,
		},
		{
			name: "a code scanned 31 s after its pass ends is pass_expired",
			code: func() string { return f.code(t, passEnd.Add(31*time.Second), nil) },
			now:  passEnd.Add(31 * time.Second),
			want: verify.ReasonPassExpired,
		},
		{
			name: "a code scanned 30 s after its pass ends is valid",
			code: func() string { return f.code(t, passEnd.Add(30*time.Second), nil) },
			now:  passEnd.Add(30 * time.Second),
			want: verify.ReasonValid,
		},
		{
			name: "a code scanned 31 s after its certificate expires is certificate_expired",
			code: func() string {
				return f.code(t, base.Add(31*time.Second), func(b *credential.Body) { b.CertExpiry, b.NotAfter = base, base })
			},
			now:  base.Add(31 * time.Second),
			want: verify.ReasonCertificateExpired,
		},
		{
			name: "a copied pass with a code from another device key is bad_device_signature",
			code: func() string { return f.foreignDeviceCode(t, base) },
			now:  base,
			want: verify.ReasonBadDeviceSignature,
		},
		{
			name: "a code from three steps ago is code_expired",
			code: func() string { return f.code(t, base.Add(-3*time.Minute), nil) },
			now:  base,
			want: verify.ReasonCodeExpired,
		},
		{
			name:  "a code of a revoked certificate is revoked",
			code:  func() string { return f.code(t, base, nil) },
			now:   base,
			trust: func(tr *verify.Trust) { tr.Revoked = revokeCertificate(f.body.CertID) },
			want:  verify.ReasonRevoked,
		},
		{
			name:  "a code of a logged-out device is device_revoked",
			code:  func() string { return f.code(t, base, nil) },
			now:   base,
			trust: func(tr *verify.Trust) { tr.Revoked = revokeDevice(credential.DeviceKeyHash(f.body.DeviceKey)) },
			want:  verify.ReasonDeviceRevoked,
		},
		{
			name:  "a trust without revocations accepts a good code",
			code:  func() string { return f.code(t, base, nil) },
			now:   base,
			trust: func(tr *verify.Trust) { tr.Revoked = nil },
			want:  verify.ReasonValid,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			trust := *f.trust
			if tt.trust != nil {
				tt.trust(&trust)
			}
			got := verify.Verifier{}.Verify(tt.code(), tt.now, &trust)
			if got, want := got.Reason, tt.want; got != want {
				t.Errorf("Reason = %q, want %q", got, want)
			}
			if got, want := got.Valid, tt.want == verify.ReasonValid; got != want {
				t.Errorf("Valid = %v, want %v", got, want)
			}
			if got, want := got.Code == nil, tt.want == verify.ReasonMalformed; got != want {
				t.Errorf("Code == nil is %v, want %v", got, want)
			}
		})
	}
}

func revokeCertificate(id [16]byte) verify.RevocationList {
	return verify.RevocationList{Certificates: map[[16]byte]struct{}{id: {}}}
}

func revokeDevice(hash [32]byte) verify.RevocationList {
	return verify.RevocationList{Devices: map[[32]byte]struct{}{hash: {}}}
}

func TestVerifyUnsealsTheIDNumberOnlyWithTheSealKey(t *testing.T) {
	f := newFixture(t)
	code := f.code(t, base, nil)
	tests := []struct {
		name     string
		sealKeys map[uint16][]byte
		want     string
	}{
		{"a terminal with the seal key sees the full number", map[uint16][]byte{sealKID: credentialtest.SealKey(1)}, credentialtest.IDNumber},
		{"a verifier without seal keys sees none", nil, ""},
		{"a verifier with only another seal key ID sees none", map[uint16][]byte{sealKID + 1: credentialtest.SealKey(1)}, ""},
		{"a verifier with a wrong key under the right ID sees none", map[uint16][]byte{sealKID: credentialtest.SealKey(2)}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			trust := *f.trust
			trust.SealKeys = tt.sealKeys
			v := verify.Verifier{}.Verify(code, base, &trust)
			if !v.Valid {
				t.Fatalf("Verify() = %q, want valid", v.Reason)
			}
			if got, want := v.IDNumber, tt.want; got != want {
				t.Errorf("IDNumber = %q, want %q", got, want)
			}
		})
	}
}

func TestVerifyDoesNotUnsealForAnInvalidCode(t *testing.T) {
	f := newFixture(t)
	v := verify.Verifier{}.Verify(f.code(t, base, nil), base, &verify.Trust{
		IssuerKeys: f.trust.IssuerKeys,
		Revoked:    revokeCertificate(f.body.CertID),
		SealKeys:   f.trust.SealKeys,
	})
	if got, want := v.IDNumber, ""; got != want {
		t.Errorf("IDNumber of a revoked code = %q, want %q", got, want)
	}
}

func TestVerifyWithANilTrustIsUnknownKey(t *testing.T) {
	f := newFixture(t)
	if got, want := (verify.Verifier{}).Verify(f.code(t, base, nil), base, nil).Reason, verify.ReasonUnknownKey; got != want {
		t.Errorf("Reason = %q, want %q", got, want)
	}
}

func TestEveryFlippedBitOfAValidCodeMakesItInvalid(t *testing.T) {
	f := newFixture(t)
	code := f.code(t, base, nil)
	if v := (verify.Verifier{}).Verify(code, base, f.trust); !v.Valid {
		t.Fatalf("the unmodified code is %q", v.Reason)
	}
	raw, err := base45.Decode(strings.TrimPrefix(code, credential.Prefix))
	if err != nil {
		t.Fatal(err)
	}
	for i := range len(raw) * 8 {
		flipped := bytes.Clone(raw)
		flipped[i/8] ^= 1 << (i % 8)
		if v := (verify.Verifier{}).Verify(credential.Prefix+base45.Encode(flipped), base, f.trust); v.Valid {
			t.Errorf("flipping bit %d of byte %d leaves the code valid", i%8, i/8)
		}
	}
}

func TestEveryChangedCharacterOfAValidCodeMakesItInvalid(t *testing.T) {
	f := newFixture(t)
	code := f.code(t, base, nil)
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
	for i := range len(code) {
		next := alphabet[(strings.IndexByte(alphabet, code[i])+1)%len(alphabet)]
		for _, c := range []byte{next, code[i] | 0x20, '#'} {
			if c == code[i] {
				continue
			}
			changed := code[:i] + string(c) + code[i+1:]
			if v := (verify.Verifier{}).Verify(changed, base, f.trust); v.Valid {
				t.Errorf("replacing character %d with %q leaves the code valid", i, c)
			}
		}
	}
}

func TestAConfiguredSkewReplacesTheDefault(t *testing.T) {
	f := newFixture(t)
	code := f.code(t, f.body.NotBefore, nil)
	now := f.body.NotBefore.Add(-20 * time.Second)
	tests := []struct {
		name string
		skew time.Duration
		want verify.Reason
	}{
		{"a zero skew means the 30 s default", 0, verify.ReasonValid},
		{"a negative skew means the 30 s default", -time.Second, verify.ReasonValid},
		{"a 10 s skew refuses a pass starting 20 s ahead", 10 * time.Second, verify.ReasonNotYetValid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, want := (verify.Verifier{Skew: tt.skew}).Verify(code, now, f.trust).Reason, tt.want; got != want {
				t.Errorf("Reason = %q, want %q", got, want)
			}
		})
	}
}

func TestKeyRotation(t *testing.T) {
	device := credentialtest.DeviceKey(t)
	oldKey, newKey := credentialtest.IssuerKey(1), credentialtest.IssuerKey(2)
	// The old key signs until base; the new one was published a day
	// earlier and signs from base on. Windows are inclusive at both ends.
	oldWindow := issuerKey(oldKey, base.Add(-30*24*time.Hour), base)
	newWindow := issuerKey(newKey, base, base.Add(30*24*time.Hour))
	impostor := issuerKey(credentialtest.IssuerKey(3), base.Add(-time.Hour), base.Add(time.Hour))
	impostor.KID = oldWindow.KID
	trust := &verify.Trust{IssuerKeys: []verify.IssuerKey{oldWindow, newWindow}}
	tests := []struct {
		name   string
		signer ed25519.PrivateKey
		nbf    time.Time
		trust  *verify.Trust
		want   verify.Reason
	}{
		{"the old key still verifies a pass from inside its window", oldKey, base.Add(-10 * time.Minute), trust, verify.ReasonValid},
		{"the old key verifies a pass from the last second of its window", oldKey, base, trust, verify.ReasonValid},
		{"the new key verifies a pass from the first second of its window", newKey, base, trust, verify.ReasonValid},
		{"the old key is unknown_key for a pass dated after its window", oldKey, base.Add(time.Second), trust, verify.ReasonUnknownKey},
		{"the new key is unknown_key for a pass dated before its window", newKey, base.Add(-time.Second), trust, verify.ReasonUnknownKey},
		{"two keys with the same kid are both tried, the impostor first", oldKey, base.Add(-10 * time.Minute),
			&verify.Trust{IssuerKeys: []verify.IssuerKey{impostor, oldWindow}}, verify.ReasonValid},
		{"two keys with the same kid are both tried, the impostor last", oldKey, base.Add(-10 * time.Minute),
			&verify.Trust{IssuerKeys: []verify.IssuerKey{oldWindow, impostor}}, verify.ReasonValid},
		{"an impostor alone under the kid is bad_signature", oldKey, base.Add(-10 * time.Minute),
			&verify.Trust{IssuerKeys: []verify.IssuerKey{impostor}}, verify.ReasonBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := credentialtest.Body(t, tt.signer, device, tt.nbf)
			now := tt.nbf.Add(time.Minute)
			code := credentialtest.Code(t, credentialtest.Pass(t, b, tt.signer), credential.StepAt(now), device)
			if got, want := (verify.Verifier{}).Verify(code, now, tt.trust).Reason, tt.want; got != want {
				t.Errorf("Reason = %q, want %q", got, want)
			}
		})
	}
}

func TestIssuerRefusesPassesLongerThan30MinutesOrPastTheCertificate(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name   string
		change func(b *credential.Body)
	}{
		{"a pass of 30 minutes and 1 second", func(b *credential.Body) { b.NotAfter = b.NotBefore.Add(30*time.Minute + time.Second) }},
		{"a pass ending 1 s after its certificate", func(b *credential.Body) {
			b.CertExpiry = b.NotBefore.Add(time.Minute)
			b.NotAfter = b.CertExpiry.Add(time.Second)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := f.body
			tt.change(&b)
			if _, err := credential.SignPass(b, f.issuer); err == nil {
				t.Errorf("SignPass() succeeded, want an error")
			}
		})
	}
}
