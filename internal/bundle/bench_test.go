package bundle_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"math/big"
	"strings"
	"testing"
	"time"

	"tempid/internal/base45"
	"tempid/internal/bundle"
	"tempid/internal/credential"
	"tempid/internal/credential/credentialtest"
	"tempid/internal/verify"
)

// offlineCase is what a gate sees: an opened bundle with two issuer keys,
// a thousand revoked certificates and devices, the seal key, and a code
// with a sealed ID number.
type offlineCase struct {
	payload *bundle.Payload
	code    string
	now     time.Time
	// The floor's inputs: the same messages the two signatures cover.
	issuerPub  ed25519.PublicKey
	passMsg    []byte
	passSig    []byte
	devicePub  *ecdsa.PublicKey
	codeMsg    []byte
	deviceSigR []byte
	deviceSigS []byte
}

func newOfflineCase(b *testing.B) *offlineCase {
	b.Helper()
	issuer := credentialtest.IssuerKey(1)
	device := credentialtest.DeviceKey(b)
	p := samplePayload()
	for i := range 1000 {
		p.RevokedCertificates = append(p.RevokedCertificates, [16]byte{byte(i), byte(i >> 8), 0xfe})
		p.RevokedDevices = append(p.RevokedDevices, [32]byte{byte(i), byte(i >> 8), 0xfe})
	}
	opened, err := bundle.Open(sign(b, p), []verify.IssuerKey{issuerKey(issuer)})
	if err != nil {
		b.Fatal(err)
	}
	now := issuedAt.Add(time.Hour)
	body := credentialtest.Body(b, issuer, device, now.Add(-10*time.Minute))
	credentialtest.Seal(b, &body, credentialtest.SealKey(1), 0x0a0b)
	pass := credentialtest.Pass(b, body, issuer)
	code := credentialtest.Code(b, pass, credential.StepAt(now), device)
	if v := bundle.Verify(code, now, opened, 0, verify.Verifier{}); !v.Valid || v.IDNumber == "" {
		b.Fatalf("benchmark code is %q", v.Reason)
	}

	raw, err := base45.Decode(strings.TrimPrefix(code, credential.Prefix))
	if err != nil {
		b.Fatal(err)
	}
	bodyLen := len(pass) - ed25519.SignatureSize
	return &offlineCase{
		payload:    opened,
		code:       code,
		now:        now,
		issuerPub:  issuer.Public().(ed25519.PublicKey),
		passMsg:    append([]byte("tempid-pass-v1"), pass[:bodyLen]...),
		passSig:    pass[bodyLen:],
		devicePub:  &device.PublicKey,
		codeMsg:    append([]byte("tempid-code-v1"), raw[:len(pass)+4]...),
		deviceSigR: raw[len(pass)+4 : len(pass)+36],
		deviceSigS: raw[len(pass)+36:],
	}
}

func (c *offlineCase) verify(b *testing.B) {
	if !bundle.Verify(c.code, c.now, c.payload, 0, verify.Verifier{}).Valid {
		b.Fatal("not valid")
	}
}

// floor is the least any verifier must do: one Ed25519 verification and
// one ECDSA-P256-SHA256 verification (with its hash) over the same
// messages.
func (c *offlineCase) floor(b *testing.B) {
	if !ed25519.Verify(c.issuerPub, c.passMsg, c.passSig) {
		b.Fatal("issuer signature")
	}
	digest := sha256.Sum256(c.codeMsg)
	if !ecdsa.Verify(c.devicePub, digest[:], bigInt(c.deviceSigR), bigInt(c.deviceSigS)) {
		b.Fatal("device signature")
	}
}

func BenchmarkVerifyOffline(b *testing.B) {
	c := newOfflineCase(b)
	b.ReportAllocs()
	for b.Loop() {
		c.verify(b)
	}
}

func BenchmarkCryptoFloor(b *testing.B) {
	c := newOfflineCase(b)
	b.ReportAllocs()
	for b.Loop() {
		c.floor(b)
	}
}

// BenchmarkOfflineVsFloor interleaves both in one run so that CPU
// frequency and machine load affect them alike; floor/verify near 1 means
// verification costs little beyond its two signatures.
func BenchmarkOfflineVsFloor(b *testing.B) {
	c := newOfflineCase(b)
	var verifyTime, floorTime time.Duration
	for b.Loop() {
		t0 := time.Now()
		c.verify(b)
		t1 := time.Now()
		c.floor(b)
		floorTime += time.Since(t1)
		verifyTime += t1.Sub(t0)
	}
	b.ReportMetric(float64(floorTime)/float64(verifyTime), "floor/verify")
	b.ReportMetric(float64(verifyTime.Nanoseconds())/float64(b.N), "verify-ns/op")
	b.ReportMetric(float64(floorTime.Nanoseconds())/float64(b.N), "floor-ns/op")
}

func BenchmarkSignPass(b *testing.B) {
	issuer := credentialtest.IssuerKey(1)
	device := credentialtest.DeviceKey(b)
	body := credentialtest.Body(b, issuer, device, issuedAt)
	sealed, err := credential.SealID(credentialtest.SealKey(1), 1, body.CertID, credentialtest.IDNumber, rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	body.Sealed = &sealed
	b.ReportAllocs()
	for b.Loop() {
		if _, err := credential.SignPass(body, issuer); err != nil {
			b.Fatal(err)
		}
	}
}

func bigInt(b []byte) *big.Int { return new(big.Int).SetBytes(b) }
