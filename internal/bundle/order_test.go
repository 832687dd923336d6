package bundle_test

import (
	"testing"
	"time"

	"tempid/internal/bundle"
	"tempid/internal/credential"
	"tempid/internal/credential/credentialtest"
	"tempid/internal/verify"
)

// A stale bundle must not hide what a retry cannot change: garbage is
// malformed there too (CREDENTIAL.md, "Reason order"), and only a
// well-formed code is stale_bundle.
func TestAStaleBundleStillSaysMalformedForGarbage(t *testing.T) {
	issuer := credentialtest.IssuerKey(1)
	device := credentialtest.DeviceKey(t)
	p, err := bundle.Open(sign(t, samplePayload()), []verify.IssuerKey{issuerKey(issuer)})
	if err != nil {
		t.Fatal(err)
	}
	stale := issuedAt.Add(bundle.DefaultFreshness + time.Second)
	b := credentialtest.Body(t, issuer, device, stale.Add(-time.Minute))
	good := credentialtest.Code(t, credentialtest.Pass(t, b, issuer), credential.StepAt(stale), device)
	tests := []struct {
		name    string
		code    string
		payload *bundle.Payload
		want    verify.Reason
	}{
		{"garbage at a stale bundle is malformed", "garbage", p, verify.ReasonMalformed},
		{"a DCC at a stale bundle is malformed", "HC1:NCFOXN%TS3DH3ZSUZK+.V0ETD%65NL-AH", p, verify.ReasonMalformed},
		{"a URL at a stale bundle is malformed", "https://example.com/?TID1:", p, verify.ReasonMalformed},
		{"a half-typed code at a stale bundle is malformed", good[:len(good)/2], p, verify.ReasonMalformed},
		{"garbage with no bundle at all is malformed", "TID1:", nil, verify.ReasonMalformed},
		{"a good code at a stale bundle is stale_bundle", good, p, verify.ReasonStaleBundle},
		{"a good code with no bundle at all is stale_bundle", good, nil, verify.ReasonStaleBundle},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := bundle.Verify(tt.code, stale, tt.payload, 0, verify.Verifier{})
			if got, want := v.Reason, tt.want; got != want {
				t.Errorf("Reason = %q, want %q", got, want)
			}
			if v.Valid {
				t.Error("Valid = true, want false")
			}
		})
	}
}
