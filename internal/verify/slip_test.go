package verify_test

import (
	"crypto/ed25519"
	"testing"
	"time"

	"tempid/internal/base45"
	"tempid/internal/credential"
	"tempid/internal/credential/credentialtest"
	"tempid/internal/verify"
)

// slip signs a window slip issued at issued (after change) with f's issuer
// and sealed under f's seal key.
func (f *fixture) slip(t testing.TB, issued time.Time, change func(b *credential.SlipBody)) string {
	t.Helper()
	b := credentialtest.SlipBody(f.issuer, issued)
	credentialtest.SealSlip(t, &b, credentialtest.SealKey(1), sealKID)
	if change != nil {
		change(&b)
	}
	return credentialtest.Slip(t, b, f.issuer)
}

func TestASlipIsValidForItsDayAndUnsealsTheIDNumber(t *testing.T) {
	f := newFixture(t)
	issued := base.Add(-time.Hour)
	text := f.slip(t, issued, nil)
	for _, tt := range []struct {
		name string
		now  time.Time
		want verify.Reason
	}{
		{"at issue", issued, verify.ReasonValid},
		{"the skew before issue", issued.Add(-30 * time.Second), verify.ReasonValid},
		{"more than the skew before issue", issued.Add(-31 * time.Second), verify.ReasonNotYetValid},
		{"23 hours later", issued.Add(23 * time.Hour), verify.ReasonValid},
		{"at expiry plus the skew", issued.Add(24*time.Hour + 30*time.Second), verify.ReasonValid},
		{"after expiry plus the skew", issued.Add(24*time.Hour + 31*time.Second), verify.ReasonCertificateExpired},
	} {
		t.Run(tt.name, func(t *testing.T) {
			v := verify.Verifier{}.Verify(text, tt.now, f.trust)
			if v.Reason != tt.want || v.Valid != (tt.want == verify.ReasonValid) {
				t.Fatalf("verdict %v %s, want %s", v.Valid, v.Reason, tt.want)
			}
			if v.Slip == nil || v.Code != nil {
				t.Fatalf("verdict carries slip %v, code %v", v.Slip, v.Code)
			}
			if v.Valid && v.IDNumber != credentialtest.IDNumber {
				t.Errorf("IDNumber %q, want the sealed number", v.IDNumber)
			}
		})
	}
	t.Run("the same slip twice is valid twice: a slip is never a replay offline", func(t *testing.T) {
		for i := 0; i < 2; i++ {
			if v := (verify.Verifier{}).Verify(text, issued, f.trust); !v.Valid {
				t.Fatalf("use %d: %s", i, v.Reason)
			}
		}
	})
}

func TestSlipReasonsComeInTheDocumentsOrder(t *testing.T) {
	f := newFixture(t)
	issued := base.Add(-time.Hour)
	other := credentialtest.IssuerKey(9)
	revoked := verify.RevocationList{Certificates: map[[16]byte]struct{}{credentialtest.SlipBody(f.issuer, issued).CertID: {}}}
	expired := issued.Add(25 * time.Hour)
	for _, tt := range []struct {
		name  string
		text  string
		now   time.Time
		gate  bool
		trust func(tr verify.Trust) verify.Trust
		want  verify.Reason
	}{
		{"garbage with the slip prefix is malformed", credential.SlipPrefix + "A", issued, false, nil, verify.ReasonMalformed},
		{"an unknown key comes before expiry", f.slip(t, issued, nil), expired, false, func(tr verify.Trust) verify.Trust {
			tr.IssuerKeys = nil
			return tr
		}, verify.ReasonUnknownKey},
		{"a key whose window does not contain issued_at is unknown", f.slip(t, issued, nil), issued, false, func(tr verify.Trust) verify.Trust {
			tr.IssuerKeys = []verify.IssuerKey{issuerKey(f.issuer, issued.Add(time.Second), issued.Add(time.Hour))}
			return tr
		}, verify.ReasonUnknownKey},
		{"a bad signature comes before revocation and expiry", func() string {
			b := credentialtest.SlipBody(other, issued)
			b.IssuerKID = credentialtest.SlipBody(f.issuer, issued).IssuerKID
			body, _ := b.Marshal()
			return credential.SlipPrefix + base45.Encode(append(body, ed25519.Sign(other, append([]byte("tempid-slip-v1"), body...))...))
		}(), expired, false, func(tr verify.Trust) verify.Trust { tr.Revoked = revoked; return tr }, verify.ReasonBadSignature},
		{"a wrong purpose comes before staffed_lane", f.slip(t, issued, func(b *credential.SlipBody) { b.Purpose = 2 }), issued, true, nil, verify.ReasonWrongPurpose},
		{"a gate answers staffed_lane before revocation and expiry", f.slip(t, issued, nil), expired, true, func(tr verify.Trust) verify.Trust { tr.Revoked = revoked; return tr }, verify.ReasonStaffedLane},
		{"a gate answers staffed_lane for a valid slip", f.slip(t, issued, nil), issued, true, nil, verify.ReasonStaffedLane},
		{"revoked comes before expiry", f.slip(t, issued, nil), expired, false, func(tr verify.Trust) verify.Trust { tr.Revoked = revoked; return tr }, verify.ReasonRevoked},
		{"an expired slip", f.slip(t, issued, nil), expired, false, nil, verify.ReasonCertificateExpired},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tr := *f.trust
			if tt.trust != nil {
				tr = tt.trust(tr)
			}
			v := verify.Verifier{Gate: tt.gate}.Verify(tt.text, tt.now, &tr)
			if v.Valid || v.Reason != tt.want {
				t.Errorf("verdict %v %s, want invalid %s", v.Valid, v.Reason, tt.want)
			}
		})
	}
}
