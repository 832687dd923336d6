package credential_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"

	"tempid/internal/base45"
	"tempid/internal/credential"
	"tempid/internal/credential/credentialtest"
	"tempid/internal/qr"
)

func TestSignSlipThenParseSlipReturnsTheBodyAndAValidSignature(t *testing.T) {
	issuer := credentialtest.IssuerKey(1)
	b := credentialtest.SlipBody(issuer, nbf)
	credentialtest.SealSlip(t, &b, credentialtest.SealKey(1), 3)
	text := credentialtest.Slip(t, b, issuer)
	if !strings.HasPrefix(text, credential.SlipPrefix) || !credential.IsSlip(text) {
		t.Fatalf("slip %q lacks the prefix", text)
	}
	s, err := credential.ParseSlip(text)
	if err != nil {
		t.Fatal(err)
	}
	if !s.VerifyIssuer(credentialtest.IssuerKey(1).Public().(ed25519.PublicKey)) {
		t.Error("VerifyIssuer(issuer) = false")
	}
	if s.VerifyIssuer(credentialtest.IssuerKey(2).Public().(ed25519.PublicKey)) {
		t.Error("another key verifies the slip")
	}
	got := s.SlipBody
	if !got.IssuedAt.Equal(b.IssuedAt) || !got.CertExpiry.Equal(b.CertExpiry) || got.Station != "BJP" || got.Channel != credential.ChannelWindow ||
		got.NameMasked != b.NameMasked || got.IDMasked != b.IDMasked || got.CertID != b.CertID || got.IssuerKID != b.IssuerKID {
		t.Errorf("parsed body %+v, want %+v", got, b)
	}
	id, err := s.Sealed.Open(credentialtest.SealKey(1), s.CertID)
	if err != nil || id != credentialtest.IDNumber {
		t.Errorf("sealed ID opens to %q, %v", id, err)
	}
	// A slip with a sealed ID is about 260 characters (CREDENTIAL.md) and
	// its QR is smaller than a phone's code's (version 13 at most).
	if n := len(text); n < 240 || n > 280 {
		t.Errorf("slip is %d characters, want about 260", n)
	}
	if v, err := qr.Version(text); err != nil || v > 13 {
		t.Errorf("slip QR version %d (%v), want at most 13", v, err)
	}
}

func TestAPassSignatureDoesNotVerifyAsASlip(t *testing.T) {
	// The slip's own signing context: the issuer's signature over the same
	// bytes in the pass context must not verify as a slip.
	issuer := credentialtest.IssuerKey(1)
	b := credentialtest.SlipBody(issuer, nbf)
	body, err := b.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	sig := ed25519.Sign(issuer, append([]byte("tempid-pass-v1"), body...))
	s, err := credential.ParseSlip(credential.SlipPrefix + base45.Encode(append(body, sig...)))
	if err != nil {
		t.Fatal(err)
	}
	if s.VerifyIssuer(issuer.Public().(ed25519.PublicKey)) {
		t.Error("a signature in the pass context verifies as a slip")
	}
}

// slipBytes returns the raw bytes of a signed slip, for tests that damage them.
func slipBytes(t *testing.T, b credential.SlipBody) []byte {
	t.Helper()
	text := credentialtest.Slip(t, b, credentialtest.IssuerKey(1))
	raw, err := base45.Decode(text[len(credential.SlipPrefix):])
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestParseSlipRefusesEveryMalformedSlip(t *testing.T) {
	issuer := credentialtest.IssuerKey(1)
	good := slipBytes(t, credentialtest.SlipBody(issuer, nbf))
	enc := func(raw []byte) string { return credential.SlipPrefix + base45.Encode(raw) }
	with := func(f func(raw []byte) []byte) string { return enc(f(bytes.Clone(good))) }
	// Offsets into the body.
	const (
		offVersion = 0
		offFlags   = 1
		offIssued  = 22
		offExp     = 26
		offChannel = 31
		offStation = 32
		offNameLen = 35
	)
	for _, tt := range []struct {
		name string
		text string
	}{
		{"an empty text", ""},
		{"the code's prefix", "TID1:" + base45.Encode(good)},
		{"a lowercase prefix", "tids1:" + base45.Encode(good)},
		{"a prefix alone", credential.SlipPrefix},
		{"lowercase Base45", strings.ToLower(enc(good))},
		{"an odd Base45 tail", enc(good) + "A"},
		{"a trailing byte", with(func(r []byte) []byte { return append(r, 0) })},
		{"a missing signature byte", with(func(r []byte) []byte { return r[:len(r)-1] })},
		{"version 2", with(func(r []byte) []byte { r[offVersion] = 2; return r })},
		{"an unknown flag bit", with(func(r []byte) []byte { r[offFlags] |= 2; return r })},
		{"the sealed flag without a sealed ID", with(func(r []byte) []byte { r[offFlags] |= 1; return r })},
		{"channel 0", with(func(r []byte) []byte { r[offChannel] = 0; return r })},
		{"channel 3", with(func(r []byte) []byte { r[offChannel] = 3; return r })},
		{"a lowercase station", with(func(r []byte) []byte { r[offStation] = 'b'; return r })},
		{"a station with a digit", with(func(r []byte) []byte { r[offStation+2] = '1'; return r })},
		{"a name of length 0", with(func(r []byte) []byte { r[offNameLen] = 0; return r })},
		{"a name longer than the slip", with(func(r []byte) []byte { r[offNameLen] = 64; return r })},
		{"a cert_exp more than 24 h after issued_at", with(func(r []byte) []byte {
			binary.BigEndian.PutUint32(r[offExp:], binary.BigEndian.Uint32(r[offIssued:])+24*3600+1)
			return r
		})},
		{"a cert_exp at issued_at", with(func(r []byte) []byte {
			copy(r[offExp:offExp+4], r[offIssued:offIssued+4])
			return r
		})},
		{"a cert_exp before issued_at", with(func(r []byte) []byte {
			binary.BigEndian.PutUint32(r[offExp:], binary.BigEndian.Uint32(r[offIssued:])-1)
			return r
		})},
		{"a text longer than the format allows", credential.SlipPrefix + strings.Repeat("0", credential.MaxSlipLen)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := credential.ParseSlip(tt.text); !errors.Is(err, credential.ErrMalformed) {
				t.Errorf("ParseSlip = %v, want ErrMalformed", err)
			}
		})
	}
}

func TestSlipBoundsOnExpiryAreInclusiveAt24Hours(t *testing.T) {
	issuer := credentialtest.IssuerKey(1)
	for _, tt := range []struct {
		name string
		life time.Duration
		ok   bool
	}{
		{"one second", time.Second, true},
		{"exactly 24 hours", 24 * time.Hour, true},
		{"24 hours and a second", 24*time.Hour + time.Second, false},
		{"zero", 0, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := credentialtest.SlipBody(issuer, nbf)
			b.CertExpiry = nbf.Add(tt.life)
			_, err := credential.SignSlip(b, issuer)
			if (err == nil) != tt.ok {
				t.Errorf("SignSlip: %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestSignSlipRefusesWhatAVerifierWouldReject(t *testing.T) {
	issuer := credentialtest.IssuerKey(1)
	for _, tt := range []struct {
		name string
		edit func(b *credential.SlipBody)
	}{
		{"a station of two letters", func(b *credential.SlipBody) { b.Station = "BJ" }},
		{"a lowercase station", func(b *credential.SlipBody) { b.Station = "bjp" }},
		{"a station of four letters", func(b *credential.SlipBody) { b.Station = "BJPX" }},
		{"the app channel", func(b *credential.SlipBody) { b.Channel = 0 }},
		{"an empty name", func(b *credential.SlipBody) { b.NameMasked = "" }},
		{"a masked ID with a control byte", func(b *credential.SlipBody) { b.IDMasked = "1101\n" }},
		{"a fraction of a second", func(b *credential.SlipBody) { b.IssuedAt = b.IssuedAt.Add(time.Millisecond) }},
		{"another key's kid", func(b *credential.SlipBody) { b.IssuerKID[0] ^= 1 }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := credentialtest.SlipBody(issuer, nbf)
			tt.edit(&b)
			if _, err := credential.SignSlip(b, issuer); err == nil {
				t.Error("signed")
			}
		})
	}
}

func FuzzParseSlip(f *testing.F) {
	issuer := credentialtest.IssuerKey(1)
	b := credentialtest.SlipBody(issuer, nbf)
	f.Add(credentialtest.Slip(f, b, issuer))
	credentialtest.SealSlip(f, &b, credentialtest.SealKey(1), 1)
	b.Channel = credential.ChannelKiosk
	f.Add(credentialtest.Slip(f, b, issuer))
	f.Add(credential.SlipPrefix)
	f.Add("TIDS1:GGW")
	f.Fuzz(func(t *testing.T, s string) {
		sl, err := credential.ParseSlip(s)
		if err != nil {
			if !errors.Is(err, credential.ErrMalformed) {
				t.Errorf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		// A slip that parses re-marshals to itself: one text form, and
		// every parsed body is one the issuer could sign.
		body, err := sl.SlipBody.Marshal()
		if err != nil {
			t.Fatalf("a parsed slip does not marshal: %v", err)
		}
		if got := credential.SlipPrefix + base45.Encode(append(body, sl.Signature[:]...)); got != s {
			t.Errorf("re-encoded slip differs from the input")
		}
		sl.VerifyIssuer(issuer.Public().(ed25519.PublicKey))
	})
}
