// Package credentialtest builds real, signed passes and codes for tests of
// the packages that consume them, so every test exercises the actual wire
// format instead of a hand-made imitation.
package credentialtest

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"testing"
	"time"

	"tempid/internal/credential"
)

// IDNumber is a syntactically valid resident ID number for sealing.
const IDNumber = "11010519491231002X"

// IssuerKey returns a deterministic issuer key; different seeds give
// different keys, so tests can model rotation.
func IssuerKey(seed byte) ed25519.PrivateKey {
	var s [ed25519.SeedSize]byte
	for i := range s {
		s[i] = seed + byte(i)
	}
	return ed25519.NewKeyFromSeed(s[:])
}

// SealKey returns a deterministic AES-256 seal key.
func SealKey(seed byte) []byte {
	k := make([]byte, credential.SealKeySize)
	for i := range k {
		k[i] = seed ^ byte(i*7)
	}
	return k
}

// DeviceKey returns a fresh P-256 device key, as a phone would make.
func DeviceKey(tb testing.TB) *ecdsa.PrivateKey {
	tb.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// Body returns a railway pass body for device, signed-for by issuer,
// authorised at nbf for the full 30 minutes of a certificate that expires
// 24 hours later.
func Body(tb testing.TB, issuer ed25519.PrivateKey, device *ecdsa.PrivateKey, nbf time.Time) credential.Body {
	tb.Helper()
	dk, err := credential.CompressDeviceKey(&device.PublicKey)
	if err != nil {
		tb.Fatal(err)
	}
	certID := [16]byte{0xc0, 0xff, 0xee, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13}
	return credential.Body{
		IssuerKID:  credential.KeyID(issuer.Public().(ed25519.PublicKey)),
		CertID:     certID,
		CertExpiry: nbf.Add(24 * time.Hour),
		NotBefore:  nbf,
		NotAfter:   nbf.Add(credential.MaxPassLifetime),
		Purpose:    credential.PurposeRailway,
		NameMasked: "张*",
		IDMasked:   "1101**********002X",
		DeviceKey:  dk,
	}
}

// Seal adds the sealed IDNumber to b under sealKey with key ID kid.
func Seal(tb testing.TB, b *credential.Body, sealKey []byte, kid uint16) {
	tb.Helper()
	s, err := credential.SealID(sealKey, kid, b.CertID, IDNumber, rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	b.Sealed = &s
}

// Pass signs b with issuer.
func Pass(tb testing.TB, b credential.Body, issuer ed25519.PrivateKey) []byte {
	tb.Helper()
	p, err := credential.SignPass(b, issuer)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// Code makes the code text of pass at step with device.
func Code(tb testing.TB, pass []byte, step uint32, device *ecdsa.PrivateKey) string {
	tb.Helper()
	c, err := credential.MakeCode(pass, step, device, rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// SlipBody returns a railway slip body signed-for by issuer, issued at
// issued at the manual window of BJP and valid 24 hours.
func SlipBody(issuer ed25519.PrivateKey, issued time.Time) credential.SlipBody {
	return credential.SlipBody{
		IssuerKID:  credential.KeyID(issuer.Public().(ed25519.PublicKey)),
		CertID:     [16]byte{0x51, 0x1b, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14},
		IssuedAt:   issued,
		CertExpiry: issued.Add(credential.MaxSlipLifetime),
		Purpose:    credential.PurposeRailway,
		Channel:    credential.ChannelWindow,
		Station:    "BJP",
		NameMasked: "张*",
		IDMasked:   "1101**********002X",
	}
}

// SealSlip adds the sealed IDNumber to b under sealKey with key ID kid.
func SealSlip(tb testing.TB, b *credential.SlipBody, sealKey []byte, kid uint16) {
	tb.Helper()
	s, err := credential.SealID(sealKey, kid, b.CertID, IDNumber, rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	b.Sealed = &s
}

// Slip signs b with issuer and returns the slip text.
func Slip(tb testing.TB, b credential.SlipBody, issuer ed25519.PrivateKey) string {
	tb.Helper()
	s, err := credential.SignSlip(b, issuer)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}
