package credential_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"tempid/internal/credential"
	"tempid/internal/credential/credentialtest"
)

var nbf = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

func TestBodyMarshalMatchesTheWireLayoutByteForByte(t *testing.T) {
	issuer := credentialtest.IssuerKey(1)
	device := credentialtest.DeviceKey(t)
	b := credentialtest.Body(t, issuer, device, nbf)
	b.Sealed = &credential.SealedID{KID: 0x0102, Nonce: [12]byte{0xaa}, Ciphertext: [34]byte{0xbb}}

	got, err := b.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	// The expected bytes are assembled field by field from CREDENTIAL.md,
	// independently of Marshal.
	var want []byte
	want = append(want, 0x01, 0x01)
	want = append(want, b.IssuerKID[:]...)
	want = append(want, b.CertID[:]...)
	want = binary.BigEndian.AppendUint32(want, uint32(nbf.Add(24*time.Hour).Unix()))
	want = binary.BigEndian.AppendUint32(want, uint32(nbf.Unix()))
	want = binary.BigEndian.AppendUint32(want, uint32(nbf.Add(30*time.Minute).Unix()))
	want = append(want, 0x01)
	want = append(want, 4)
	want = append(want, "张*"...)
	want = append(want, 18)
	want = append(want, "1101**********002X"...)
	want = append(want, b.DeviceKey[:]...)
	want = append(want, 0x01, 0x02)
	want = append(want, b.Sealed.Nonce[:]...)
	want = append(want, b.Sealed.Ciphertext[:]...)
	if !bytes.Equal(got, want) {
		t.Errorf("Marshal() =\n%x\nwant\n%x", got, want)
	}
}

func TestSignPassThenParsePassReturnsTheSameBody(t *testing.T) {
	issuer := credentialtest.IssuerKey(1)
	device := credentialtest.DeviceKey(t)
	sealed := credentialtest.Body(t, issuer, device, nbf)
	credentialtest.Seal(t, &sealed, credentialtest.SealKey(1), 7)
	tests := []struct {
		name string
		body credential.Body
	}{
		{"a pass without a sealed ID number", credentialtest.Body(t, issuer, device, nbf)},
		{"a pass with a sealed ID number", sealed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := credentialtest.Pass(t, tt.body, issuer)
			p, err := credential.ParsePass(raw)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := p.Body.NameMasked, tt.body.NameMasked; got != want {
				t.Errorf("NameMasked = %q, want %q", got, want)
			}
			if got, want := p.Body.IDMasked, tt.body.IDMasked; got != want {
				t.Errorf("IDMasked = %q, want %q", got, want)
			}
			for _, tm := range []struct{ got, want time.Time }{
				{p.CertExpiry, tt.body.CertExpiry}, {p.NotBefore, tt.body.NotBefore}, {p.NotAfter, tt.body.NotAfter},
			} {
				if !tm.got.Equal(tm.want) {
					t.Errorf("time = %v, want %v", tm.got, tm.want)
				}
			}
			if got, want := p.IssuerKID, tt.body.IssuerKID; got != want {
				t.Errorf("IssuerKID = %x, want %x", got, want)
			}
			if got, want := p.CertID, tt.body.CertID; got != want {
				t.Errorf("CertID = %x, want %x", got, want)
			}
			if got, want := p.DeviceKey, tt.body.DeviceKey; got != want {
				t.Errorf("DeviceKey = %x, want %x", got, want)
			}
			if got, want := p.Sealed != nil, tt.body.Sealed != nil; got != want {
				t.Fatalf("sealed present = %v, want %v", got, want)
			}
			if p.Sealed != nil && *p.Sealed != *tt.body.Sealed {
				t.Errorf("Sealed = %+v, want %+v", *p.Sealed, *tt.body.Sealed)
			}
			if !bytes.Equal(p.Bytes, raw) {
				t.Errorf("Bytes differ from the input")
			}
			if !p.VerifyIssuer(issuer.Public().(ed25519.PublicKey)) {
				t.Errorf("VerifyIssuer(signing key) = false")
			}
			if p.VerifyIssuer(credentialtest.IssuerKey(2).Public().(ed25519.PublicKey)) {
				t.Errorf("VerifyIssuer(another key) = true")
			}
			if p.VerifyIssuer(ed25519.PublicKey{1, 2, 3}) {
				t.Errorf("VerifyIssuer(a short key) = true")
			}
		})
	}
}

func TestMarshalRefusesWhatTheFormatCannotCarry(t *testing.T) {
	issuer := credentialtest.IssuerKey(1)
	device := credentialtest.DeviceKey(t)
	tests := []struct {
		name   string
		change func(b *credential.Body)
	}{
		{"an empty masked name", func(b *credential.Body) { b.NameMasked = "" }},
		{"a masked name of 65 bytes", func(b *credential.Body) { b.NameMasked = strings.Repeat("a", 65) }},
		{"a masked name that is not UTF-8", func(b *credential.Body) { b.NameMasked = "\xff" }},
		{"an empty masked ID number", func(b *credential.Body) { b.IDMasked = "" }},
		{"a masked ID number of 33 bytes", func(b *credential.Body) { b.IDMasked = strings.Repeat("1", 33) }},
		{"a masked ID number with a control character", func(b *credential.Body) { b.IDMasked = "1101\n" }},
		{"a masked ID number that is not ASCII", func(b *credential.Body) { b.IDMasked = "１１０１" }},
		{"a pass start that is not a whole second", func(b *credential.Body) { b.NotBefore = b.NotBefore.Add(time.Millisecond) }},
		{"a time before 1970", func(b *credential.Body) { b.NotBefore = time.Unix(-1, 0) }},
		{"a time past the u32 range", func(b *credential.Body) { b.CertExpiry = time.Unix(1<<32, 0) }},
		{"a pass that ends before it starts", func(b *credential.Body) { b.NotAfter = b.NotBefore.Add(-time.Second) }},
		{"a pass longer than 30 minutes", func(b *credential.Body) { b.NotAfter = b.NotBefore.Add(30*time.Minute + time.Second) }},
		{"a pass that outlives its certificate", func(b *credential.Body) {
			b.CertExpiry = b.NotBefore.Add(10 * time.Minute)
			b.NotAfter = b.CertExpiry.Add(time.Second)
		}},
		{"a device key that is not compressed", func(b *credential.Body) { b.DeviceKey[0] = 0x04 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := credentialtest.Body(t, issuer, device, nbf)
			tt.change(&b)
			if _, err := b.Marshal(); err == nil {
				t.Errorf("Marshal() succeeded, want an error")
			}
			if _, err := credential.SignPass(b, issuer); err == nil {
				t.Errorf("SignPass() succeeded, want an error")
			}
		})
	}
}

func TestMarshalAcceptsTheEdgesOfTheRanges(t *testing.T) {
	issuer := credentialtest.IssuerKey(1)
	device := credentialtest.DeviceKey(t)
	tests := []struct {
		name   string
		change func(b *credential.Body)
	}{
		{"a one-byte masked name", func(b *credential.Body) { b.NameMasked = "A" }},
		{"a 64-byte masked name", func(b *credential.Body) { b.NameMasked = strings.Repeat("a", 64) }},
		{"a 32-byte masked ID number", func(b *credential.Body) { b.IDMasked = strings.Repeat("*", 32) }},
		{"a pass of exactly 30 minutes", func(b *credential.Body) { b.NotAfter = b.NotBefore.Add(30 * time.Minute) }},
		{"a pass that ends exactly when its certificate does", func(b *credential.Body) {
			b.CertExpiry = b.NotBefore.Add(10 * time.Minute)
			b.NotAfter = b.CertExpiry
		}},
		{"a pass with the largest u32 expiry", func(b *credential.Body) { b.CertExpiry = time.Unix(1<<32-1, 0) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := credentialtest.Body(t, issuer, device, nbf)
			tt.change(&b)
			raw, err := credential.SignPass(b, issuer)
			if err != nil {
				t.Fatalf("SignPass(): %v", err)
			}
			if _, err := credential.ParsePass(raw); err != nil {
				t.Errorf("ParsePass(): %v", err)
			}
		})
	}
}

func TestSignPassRefusesABodyNamingAnotherIssuerKey(t *testing.T) {
	b := credentialtest.Body(t, credentialtest.IssuerKey(1), credentialtest.DeviceKey(t), nbf)
	if _, err := credential.SignPass(b, credentialtest.IssuerKey(2)); err == nil {
		t.Errorf("SignPass() with a key other than IssuerKID succeeded")
	}
}

func TestParsePassRefusesMalformedPasses(t *testing.T) {
	issuer := credentialtest.IssuerKey(1)
	b := credentialtest.Body(t, issuer, credentialtest.DeviceKey(t), nbf)
	good := credentialtest.Pass(t, b, issuer)
	nameLenAt := 1 + 1 + 4 + 16 + 12 + 1
	idmLenAt := nameLenAt + 1 + len(b.NameMasked)
	keyAt := idmLenAt + 1 + len(b.IDMasked)
	with := func(i int, v byte) []byte {
		p := bytes.Clone(good)
		p[i] = v
		return p
	}
	tests := []struct {
		name string
		raw  []byte
	}{
		{"an empty pass", nil},
		{"version 2", with(0, 2)},
		{"version 0", with(0, 0)},
		{"an unknown flag bit", with(1, 0x02)},
		{"the sealed flag without a sealed ID", with(1, 0x01)},
		{"a zero-length name", with(nameLenAt, 0)},
		{"a name length of 65", with(nameLenAt, 65)},
		{"a name that is not UTF-8", with(nameLenAt+1, 0xff)},
		{"a zero-length masked ID number", with(idmLenAt, 0)},
		{"a masked ID number length of 33", with(idmLenAt, 33)},
		{"a masked ID number with a control character", with(idmLenAt+1, '\t')},
		{"an uncompressed device key prefix", with(keyAt, 0x04)},
		{"a trailing byte", append(bytes.Clone(good), 0)},
		{"a pass longer than the format allows", make([]byte, credential.MaxPassLen+1)},
	}
	for n := range len(good) {
		tests = append(tests, struct {
			name string
			raw  []byte
		}{"a pass truncated to " + strconv.Itoa(n) + " bytes", good[:n]})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := credential.ParsePass(tt.raw)
			if err == nil {
				t.Fatalf("ParsePass() = %+v, want an error", p)
			}
			if !errors.Is(err, credential.ErrMalformed) {
				t.Errorf("error %v does not wrap ErrMalformed", err)
			}
		})
	}
}

func TestSealedIDOpensOnlyWithItsKeyAndCertificate(t *testing.T) {
	key := credentialtest.SealKey(1)
	certID := [16]byte{1}
	s, err := credential.SealID(key, 9, certID, credentialtest.IDNumber, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.KID, uint16(9); got != want {
		t.Errorf("KID = %d, want %d", got, want)
	}
	got, err := s.Open(key, certID)
	if err != nil {
		t.Fatal(err)
	}
	if want := credentialtest.IDNumber; got != want {
		t.Errorf("Open() = %q, want %q", got, want)
	}
	tests := []struct {
		name   string
		key    []byte
		certID [16]byte
	}{
		{"another key does not open it", credentialtest.SealKey(2), certID},
		{"another certificate does not open it", key, [16]byte{2}},
		{"a short key does not open it", key[:16], certID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := s.Open(tt.key, tt.certID); err == nil {
				t.Errorf("Open() = %q, want an error", got)
			}
		})
	}
}

func TestSealIDRefusesBadInput(t *testing.T) {
	tests := []struct {
		name     string
		key      []byte
		idNumber string
	}{
		{"an ID number of 17 characters", credentialtest.SealKey(1), credentialtest.IDNumber[:17]},
		{"an ID number of 19 characters", credentialtest.SealKey(1), credentialtest.IDNumber + "1"},
		{"an ID number that is not ASCII", credentialtest.SealKey(1), "１１０１０５１９４９１"},
		{"an AES-128 key", credentialtest.SealKey(1)[:16], credentialtest.IDNumber},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := credential.SealID(tt.key, 1, [16]byte{}, tt.idNumber, rand.Reader); err == nil {
				t.Errorf("SealID() succeeded, want an error")
			}
		})
	}
}

func TestKeyIDIsTheStartOfTheSHA256OfThePublicKey(t *testing.T) {
	// SHA-256 of 32 zero bytes begins 66687aad.
	if got, want := credential.KeyID(make(ed25519.PublicKey, 32)), [4]byte{0x66, 0x68, 0x7a, 0xad}; got != want {
		t.Errorf("KeyID(zeros) = %x, want %x", got, want)
	}
}
