package verify_test

import (
	"testing"

	"tempid/internal/verify"
)

// FuzzVerify runs the whole pipeline on arbitrary text: it must never panic,
// and a verdict must be consistent whatever the input.
func FuzzVerify(f *testing.F) {
	fx := newFixture(f)
	f.Add(fx.code(f, base, nil))
	f.Add(fx.foreignDeviceCode(f, base))
	f.Add("TID1:")
	f.Add("")
	f.Fuzz(func(t *testing.T, code string) {
		v := verify.Verifier{}.Verify(code, base, fx.trust)
		if got, want := v.Valid, v.Reason == verify.ReasonValid; got != want {
			t.Errorf("Valid = %v with reason %q", v.Valid, v.Reason)
		}
		if got, want := v.Code == nil, v.Reason == verify.ReasonMalformed; got != want {
			t.Errorf("Code == nil is %v with reason %q", got, v.Reason)
		}
		if v.IDNumber != "" && !v.Valid {
			t.Errorf("an invalid verdict carries an ID number")
		}
	})
}
