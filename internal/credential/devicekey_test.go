package credential_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"tempid/internal/credential"
	"tempid/internal/credential/credentialtest"
)

func TestDeviceKeyCompressesAndParsesBack(t *testing.T) {
	for range 20 {
		key := credentialtest.DeviceKey(t)
		c, err := credential.CompressDeviceKey(&key.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		pub, err := credential.ParseDeviceKey(c)
		if err != nil {
			t.Fatal(err)
		}
		if !pub.Equal(&key.PublicKey) {
			t.Fatalf("ParseDeviceKey(CompressDeviceKey(k)) != k")
		}
		if got, want := credential.DeviceKeyHash(c), sha256.Sum256(c[:]); got != want {
			t.Errorf("DeviceKeyHash = %x, want %x", got, want)
		}
	}
}

func TestParseDeviceKeyRefusesPointsNotOnP256(t *testing.T) {
	var notOnCurve [33]byte
	notOnCurve[0] = 0x02
	for i := 1; i < 33; i++ {
		notOnCurve[i] = 0xff // x >= p
	}
	var uncompressedPrefix [33]byte
	uncompressedPrefix[0] = 0x04
	tests := []struct {
		name string
		key  [33]byte
	}{
		{"an x coordinate above the field prime", notOnCurve},
		{"the all-zero key", [33]byte{}},
		{"an uncompressed prefix", uncompressedPrefix},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := credential.ParseDeviceKey(tt.key); err == nil {
				t.Errorf("ParseDeviceKey() succeeded, want an error")
			}
		})
	}
}

func TestJWKRoundTrips(t *testing.T) {
	key := credentialtest.DeviceKey(t)
	pub, err := credential.ParseJWK(credential.JWK(&key.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	if !pub.Equal(&key.PublicKey) {
		t.Errorf("ParseJWK(JWK(k)) != k")
	}
}

func TestParseJWKAcceptsWebCryptoExport(t *testing.T) {
	key := credentialtest.DeviceKey(t)
	jwk := credential.JWK(&key.PublicKey)
	webcrypto := append([]byte(`{"ext":true,"key_ops":["verify"],`), jwk[1:]...)
	if _, err := credential.ParseJWK(webcrypto); err != nil {
		t.Errorf("ParseJWK(%s): %v", webcrypto, err)
	}
}

func TestParseJWKRefusesWhatIsNotAPublicP256Key(t *testing.T) {
	key := credentialtest.DeviceKey(t)
	raw, _ := key.PublicKey.Bytes()
	x := base64.RawURLEncoding.EncodeToString(raw[1:33])
	y := base64.RawURLEncoding.EncodeToString(raw[33:])
	// y+1 moves the point off the curve while keeping a valid encoding.
	offY := bytes.Clone(raw[33:])
	offY[31]++
	off := base64.RawURLEncoding.EncodeToString(offY)
	obj := func(members ...string) []byte { return []byte("{" + strings.Join(members, ",") + "}") }
	kty, crv := `"kty":"EC"`, `"crv":"P-256"`
	mx, my := `"x":"`+x+`"`, `"y":"`+y+`"`
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"a private key", obj(kty, crv, mx, my, `"d":"AAAA"`), credential.ErrJWKPrivate},
		{"an RSA key", obj(`"kty":"RSA"`, crv, mx, my), credential.ErrJWKKeyType},
		{"a key without kty", obj(crv, mx, my), credential.ErrJWKKeyType},
		{"a P-384 key", obj(kty, `"crv":"P-384"`, mx, my), credential.ErrJWKCurve},
		{"a lowercase curve name", obj(kty, `"crv":"p-256"`, mx, my), credential.ErrJWKCurve},
		{"a 31-byte x", obj(kty, crv, `"x":"`+base64.RawURLEncoding.EncodeToString(raw[1:32])+`"`, my), credential.ErrJWKCoordinate},
		{"a padded x", obj(kty, crv, `"x":"`+x+`="`, my), credential.ErrJWKCoordinate},
		{"standard base64 instead of base64url", obj(kty, crv, `"x":"`+strings.NewReplacer("-", "+", "_", "/").Replace(x)+"A"+`"`, my), credential.ErrJWKCoordinate},
		{"a missing y", obj(kty, crv, mx), credential.ErrJWKCoordinate},
		{"a point off the curve", obj(kty, crv, mx, `"y":"`+off+`"`), credential.ErrJWKNotOnCurve},
		{"the point at zero", obj(kty, crv, `"x":"`+strings.Repeat("A", 43)+`"`, `"y":"`+strings.Repeat("A", 43)+`"`), credential.ErrJWKNotOnCurve},
		{"not JSON", []byte("not json"), credential.ErrJWKSyntax},
		{"a JSON array", []byte("[]"), credential.ErrJWKSyntax},
		{"two objects", append(obj(kty, crv, mx, my), obj(kty, crv, mx, my)...), credential.ErrJWKSyntax},
		{"an oversized document", []byte(`{"kty":"EC","pad":"` + strings.Repeat("a", 2000) + `"}`), credential.ErrJWKSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := credential.ParseJWK(tt.data)
			if !errors.Is(err, tt.want) {
				t.Errorf("ParseJWK(%s) error = %v, want %v", tt.data, err, tt.want)
			}
		})
	}
}

func TestJWKOfANilKeyIsNil(t *testing.T) {
	if got := credential.JWK(nil); got != nil {
		t.Errorf("JWK(nil) = %s, want nil", got)
	}
}

func FuzzParseJWK(f *testing.F) {
	f.Add([]byte(`{"kty":"EC","crv":"P-256","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"}`))
	f.Add([]byte(`{"kty":"EC","crv":"P-256","x":"","y":"","d":""}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		pub, err := credential.ParseJWK(data)
		if err != nil {
			return
		}
		again, err := credential.ParseJWK(credential.JWK(pub))
		if err != nil || !again.Equal(pub) {
			t.Errorf("a parsed JWK does not round-trip: %v", err)
		}
	})
}
