package verify_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"tempid/internal/base45"
	"tempid/internal/credential"
	"tempid/internal/credential/credentialtest"
	"tempid/internal/verify"
	"tempid/internal/verify/jsverify"
)

// TestTheBrowserVerifierAgreesWithGo runs one corpus — a valid code, each
// failure reason, both edges of the step window and of the pass bounds,
// and pairs of failures that test the reason order — through this
// package's verifier and the browser's (web/src/lib/verify.js), and wants
// the same reason from both, and the same unsealed ID number.
func TestTheBrowserVerifierAgreesWithGo(t *testing.T) {
	f := newFixture(t)
	b64 := base64.RawURLEncoding.EncodeToString
	issuerPub := f.issuer.Public().(ed25519.PublicKey)
	impostor := credentialtest.IssuerKey(3)
	impostorKey := issuerKey(impostor, base.Add(-24*time.Hour), base.Add(24*time.Hour))
	impostorKey.KID = credential.KeyID(issuerPub)
	certHex := hex.EncodeToString(f.body.CertID[:])
	slipCert := credentialtest.SlipBody(f.issuer, base).CertID
	deviceHash := credential.DeviceKeyHash(f.body.DeviceKey)
	deviceHex := hex.EncodeToString(deviceHash[:])

	jsKey := func(k verify.IssuerKey) jsverify.IssuerKey {
		return jsverify.IssuerKey{KID: hex.EncodeToString(k.KID[:]), PublicKey: b64(k.Public), NotBefore: k.NotBefore, NotAfter: k.NotAfter}
	}
	type trust struct {
		js  jsverify.Trust
		go_ *verify.Trust
	}
	plain := func(change func(*jsverify.Trust, *verify.Trust)) trust {
		js := jsverify.Trust{
			IssuerKeys:          []jsverify.IssuerKey{jsKey(f.trust.IssuerKeys[0])},
			RevokedCertificates: []string{}, RevokedDevices: []string{},
			SealKeys: []jsverify.SealKey{{KID: fmt.Sprintf("%04x", sealKID), Key: b64(credentialtest.SealKey(1))}},
		}
		g := &verify.Trust{IssuerKeys: f.trust.IssuerKeys, Revoked: verify.RevocationList{}, SealKeys: f.trust.SealKeys}
		if change != nil {
			change(&js, g)
		}
		return trust{js: js, go_: g}
	}
	revoke := func(cert, device bool) func(*jsverify.Trust, *verify.Trust) {
		return func(js *jsverify.Trust, g *verify.Trust) {
			l := verify.RevocationList{Certificates: map[[16]byte]struct{}{}, Devices: map[[32]byte]struct{}{}}
			if cert {
				js.RevokedCertificates = append(js.RevokedCertificates, certHex)
				l.Certificates[f.body.CertID] = struct{}{}
			}
			if device {
				js.RevokedDevices = append(js.RevokedDevices, deviceHex)
				l.Devices[deviceHash] = struct{}{}
			}
			g.Revoked = l
		}
	}
	trusts := map[string]trust{
		"fresh": plain(nil),
		"stale": plain(func(js *jsverify.Trust, g *verify.Trust) { js.Stale, g.Stale = true, true }),
		"other issuer": plain(func(js *jsverify.Trust, g *verify.Trust) {
			k := issuerKey(credentialtest.IssuerKey(9), base.Add(-time.Hour), base)
			js.IssuerKeys, g.IssuerKeys = []jsverify.IssuerKey{jsKey(k)}, []verify.IssuerKey{k}
		}),
		"impostor": plain(func(js *jsverify.Trust, g *verify.Trust) {
			js.IssuerKeys, g.IssuerKeys = []jsverify.IssuerKey{jsKey(impostorKey)}, []verify.IssuerKey{impostorKey}
		}),
		"revoked":        plain(revoke(true, false)),
		"device revoked": plain(revoke(false, true)),
		"both revoked":   plain(revoke(true, true)),
		"no seal keys":   plain(func(js *jsverify.Trust, g *verify.Trust) { js.SealKeys, g.SealKeys = []jsverify.SealKey{}, nil }),
		"slip revoked": plain(func(js *jsverify.Trust, g *verify.Trust) {
			js.RevokedCertificates = []string{hex.EncodeToString(slipCert[:])}
			g.Revoked = verify.RevocationList{Certificates: map[[16]byte]struct{}{slipCert: {}}}
		}),
		"key from 30 minutes ago": plain(func(js *jsverify.Trust, g *verify.Trust) {
			k := f.trust.IssuerKeys[0]
			k.NotBefore = base.Add(-30 * time.Minute)
			js.IssuerKeys, g.IssuerKeys = []jsverify.IssuerKey{jsKey(k)}, []verify.IssuerKey{k}
		}),
	}

	type entry struct {
		name, trust string
		code        string
		now         time.Time
		gate        bool
	}
	good := f.code(t, base, nil)
	end := base.Add(time.Minute)
	nbf := f.body.NotBefore
	codeEntries := []struct {
		name, trust string
		code        string
		now         time.Time
	}{
		{"a fresh code is valid and unsealed", "fresh", good, base},
		{"a verifier without seal keys sees no ID number", "no seal keys", good, base},
		{"garbage is malformed", "fresh", "garbage", base},
		{"a DCC is malformed", "fresh", "HC1:NCFOXN%TS3DH3ZSUZK+.V0ETD%65NL-AH", base},
		{"a half code is malformed", "fresh", good[:len(good)/2], base},
		{"lowercase Base45 is malformed", "fresh", "TID1:" + string(rune(good[5]|0x20)) + good[6:], base},
		{"a code with a byte more is malformed", "fresh", good + "00", base},
		{"garbage at a stale bundle is malformed", "stale", "garbage", base},
		{"a good code at a stale bundle is stale_bundle", "stale", good, base},
		{"another issuer's trust is unknown_key", "other issuer", good, base},
		{"an impostor under the kid is bad_signature", "impostor", good, base},
		{"another purpose is wrong_purpose", "fresh", f.code(t, base, func(b *credential.Body) { b.Purpose = 2 }), base},
		{"another device's signature is bad_device_signature", "fresh", f.foreignDeviceCode(t, base), base},
		{"a revoked certificate is revoked", "revoked", good, base},
		{"a logged-out device is device_revoked", "device revoked", good, base},
		{"both revoked is revoked", "both revoked", good, base},
		{"a revoked certificate's old code is revoked", "revoked", f.code(t, base.Add(-10*time.Minute), nil), base},
		{"a revoked device's old code is device_revoked", "device revoked", f.code(t, base.Add(-10*time.Minute), nil), base},
		{"an ended pass is pass_expired", "fresh", f.code(t, f.body.NotAfter, nil), f.body.NotAfter.Add(31 * time.Second)},
		{"a pass ended 30 s ago is valid", "fresh", f.code(t, f.body.NotAfter, nil), f.body.NotAfter.Add(30 * time.Second)},
		{"a pass starting in 31 s is not_yet_valid", "fresh", f.code(t, nbf, nil), nbf.Add(-31 * time.Second)},
		{"an expired certificate is certificate_expired", "fresh", f.code(t, base, func(b *credential.Body) { b.CertExpiry, b.NotAfter = base.Add(-time.Minute), base.Add(-time.Minute) }), base},
		{"an old code is code_expired", "fresh", f.code(t, base.Add(-3*time.Minute), nil), base},
		{"30 s before its step the code is valid", "fresh", good, base.Add(-30 * time.Second)},
		{"30.001 s before its step the code is code_expired", "fresh", good, base.Add(-30*time.Second - time.Millisecond)},
		{"30 s after its step the code is valid", "fresh", good, end.Add(30 * time.Second)},
		{"30.001 s after its step the code is code_expired", "fresh", good, end.Add(30*time.Second + time.Millisecond)},
		{"a pass of exactly 30 minutes is valid", "fresh", f.outOfBounds(t, base, base.Add(time.Hour), nbf, nbf.Add(30*time.Minute)), base},
		{"a pass of 30 minutes and 1 s is malformed", "fresh", f.outOfBounds(t, base, base.Add(time.Hour), nbf, nbf.Add(30*time.Minute+time.Second)), base},
		{"a pass ending with its certificate is valid", "fresh", f.outOfBounds(t, base, base.Add(time.Minute), nbf, base.Add(time.Minute)), base},
		{"a pass ending after its certificate is malformed", "fresh", f.outOfBounds(t, base, base.Add(time.Minute), nbf, base.Add(time.Minute+time.Second)), base},
		{"a pass outside the bounds at a stale bundle is malformed", "stale", f.outOfBounds(t, base, base.Add(time.Hour), nbf, nbf.Add(time.Hour)), base},
	}
	var entries []entry
	for _, e := range codeEntries {
		entries = append(entries, entry{e.name, e.trust, e.code, e.now, false})
	}
	issued := base.Add(-time.Hour)
	slip := f.slip(t, issued, nil)
	day := issued.Add(credential.MaxSlipLifetime)
	u32 := func(at int, v uint32) func([]byte) { return func(b []byte) { binary.BigEndian.PutUint32(b[at:], v) } }
	wire := uint32(issued.Unix())
	// Slips: each failure, the edges of the times, and the reason order at
	// a gate.
	for _, e := range []entry{
		{"a slip is valid and unsealed", "fresh", slip, base, false},
		{"a slip at a verifier without seal keys shows no ID number", "no seal keys", slip, base, false},
		{"a slip at a gate is staffed_lane", "fresh", slip, base, true},
		{"a revoked slip at a gate is staffed_lane", "slip revoked", slip, base, true},
		{"a slip at a gate with a bad signature is bad_signature", "impostor", slip, base, true},
		{"a slip with only the prefix is malformed", "fresh", "TIDS1:", base, false},
		{"slip garbage is malformed", "fresh", "TIDS1:ABCDEFGH", base, false},
		{"slip garbage at a stale bundle is malformed", "stale", "TIDS1:ABCDEFGH", base, false},
		{"a slip with a trailing character is malformed", "fresh", slip + "0", base, false},
		{"a half slip is malformed", "fresh", slip[:len(slip)/2], base, false},
		{"a slip in lowercase Base45 is malformed", "fresh", "TIDS1:" + string(rune(slip[6]|0x20)) + slip[7:], base, false},
		{"a slip with a lowercase prefix is malformed", "fresh", "tids1:" + slip[6:], base, false},
		{"a good slip at a stale bundle is stale_bundle", "stale", slip, base, false},
		{"a slip from another issuer is unknown_key", "other issuer", slip, base, false},
		{"a slip issued before its key's window is unknown_key", "key from 30 minutes ago", slip, base, false},
		{"a slip signed by an impostor is bad_signature", "impostor", slip, base, false},
		{"a slip signed in the pass context is bad_signature", "fresh", f.rawSlip(t, slip, "tempid-pass-v1", nil), base, false},
		{"a slip of another purpose is wrong_purpose", "fresh", f.slip(t, issued, func(b *credential.SlipBody) { b.Purpose = 2 }), base, false},
		{"a revoked slip is revoked", "slip revoked", slip, base, false},
		{"a revoked slip past its day is revoked", "slip revoked", slip, day.Add(time.Hour), false},
		{"a slip at its end plus the skew is valid", "fresh", slip, day.Add(30 * time.Second), false},
		{"a slip 31 s past its end is certificate_expired", "fresh", slip, day.Add(31 * time.Second), false},
		{"a slip the skew before its issue is valid", "fresh", slip, issued.Add(-30 * time.Second), false},
		{"a slip 31 s before its issue is not_yet_valid", "fresh", slip, issued.Add(-31 * time.Second), false},
		{"a signed slip of exactly 24 h is valid", "fresh", f.rawSlip(t, slip, "", u32(26, wire+24*3600)), base, false},
		{"a signed slip of 24 h and 1 s is malformed", "fresh", f.rawSlip(t, slip, "", u32(26, wire+24*3600+1)), base, false},
		{"a signed slip ending at its issue is malformed", "fresh", f.rawSlip(t, slip, "", u32(26, wire)), base, false},
		{"a signed slip at a lowercase station is malformed", "fresh", f.rawSlip(t, slip, "", func(b []byte) { b[32] = 'b' }), base, false},
		{"a signed slip of channel 3 is malformed", "fresh", f.rawSlip(t, slip, "", func(b []byte) { b[31] = 3 }), base, false},
		{"a signed slip with an unknown flag is malformed", "fresh", f.rawSlip(t, slip, "", func(b []byte) { b[1] |= 2 }), base, false},
		{"a signed slip of version 2 is malformed", "fresh", f.rawSlip(t, slip, "", func(b []byte) { b[0] = 2 }), base, false},
		{"a pass is not a slip under the slip prefix", "fresh", "TIDS1:" + good[len("TID1:"):], base, false},
	} {
		entries = append(entries, e)
	}
	jsTrusts := map[string]jsverify.Trust{}
	for name, tr := range trusts {
		jsTrusts[name] = tr.js
	}
	var cases []jsverify.Case
	for _, e := range entries {
		cases = append(cases, jsverify.Case{Name: e.name, Code: e.code, NowMS: e.now.UnixMilli(), Trust: e.trust, Gate: e.gate})
	}
	js := jsverify.Run(t, jsTrusts, cases)
	for _, e := range entries {
		t.Run(e.name, func(t *testing.T) {
			g := verify.Verifier{Gate: e.gate}.Verify(e.code, e.now, trusts[e.trust].go_)
			b, ok := js[e.name]
			if !ok {
				t.Fatal("the browser verifier gave no answer")
			}
			if g.Reason != b.Reason || g.IDNumber != b.IDNumber {
				t.Errorf("Go says %q (ID %q), the browser %q (ID %q)", g.Reason, g.IDNumber, b.Reason, b.IDNumber)
			}
		})
	}
}

// rawSlip re-signs slip's body after change with f's issuer under context
// ("" for the slip's own), bypassing SignSlip's checks, so that a slip the
// issuer should never sign can be tested.
func (f *fixture) rawSlip(t *testing.T, slip, context string, change func([]byte)) string {
	t.Helper()
	raw, err := base45.Decode(slip[len(credential.SlipPrefix):])
	if err != nil {
		t.Fatal(err)
	}
	body := raw[:len(raw)-ed25519.SignatureSize]
	if change != nil {
		change(body)
	}
	if context == "" {
		context = "tempid-slip-v1"
	}
	sig := ed25519.Sign(f.issuer, append([]byte(context), body...))
	return credential.SlipPrefix + base45.Encode(append(append([]byte(nil), body...), sig...))
}
