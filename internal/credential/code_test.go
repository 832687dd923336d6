package credential_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"tempid/internal/base45"
	"tempid/internal/credential"
	"tempid/internal/credential/credentialtest"
)

func TestMakeCodeThenParseCodeReturnsThePassStepAndAValidSignature(t *testing.T) {
	issuer := credentialtest.IssuerKey(1)
	device := credentialtest.DeviceKey(t)
	b := credentialtest.Body(t, issuer, device, nbf)
	credentialtest.Seal(t, &b, credentialtest.SealKey(1), 3)
	pass := credentialtest.Pass(t, b, issuer)
	step := credential.StepAt(nbf)
	text := credentialtest.Code(t, pass, step, device)

	if !strings.HasPrefix(text, credential.Prefix) {
		t.Fatalf("code %q lacks the prefix", text)
	}
	c, err := credential.ParseCode(text)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Step, step; got != want {
		t.Errorf("Step = %d, want %d", got, want)
	}
	if !bytes.Equal(c.Pass.Bytes, pass) {
		t.Errorf("Pass.Bytes differ from the signed pass")
	}
	if !c.VerifyDevice() {
		t.Errorf("VerifyDevice() = false")
	}
	c.Step++
	if c.VerifyDevice() {
		t.Errorf("VerifyDevice() with another step = true")
	}
}

func TestCodeLayoutIsPassThenStepThenSignature(t *testing.T) {
	issuer := credentialtest.IssuerKey(1)
	device := credentialtest.DeviceKey(t)
	pass := credentialtest.Pass(t, credentialtest.Body(t, issuer, device, nbf), issuer)
	text := credentialtest.Code(t, pass, 0x01020304, device)
	raw, err := base45.Decode(strings.TrimPrefix(text, credential.Prefix))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(raw), len(pass)+4+64; got != want {
		t.Fatalf("decoded length = %d, want %d", got, want)
	}
	if !bytes.Equal(raw[:len(pass)], pass) {
		t.Errorf("the code does not start with the pass")
	}
	if got, want := raw[len(pass):len(pass)+4], []byte{1, 2, 3, 4}; !bytes.Equal(got, want) {
		t.Errorf("step bytes = %x, want %x", got, want)
	}
}

func TestDeviceSignatureIsLeftPaddedP1363(t *testing.T) {
	// About one signature in 128 has an r or s below 2^248; the phone's
	// WebCrypto pads those to 32 bytes and so must we.
	issuer := credentialtest.IssuerKey(1)
	device := credentialtest.DeviceKey(t)
	pass := credentialtest.Pass(t, credentialtest.Body(t, issuer, device, nbf), issuer)
	for i := range 5000 {
		c, err := credential.ParseCode(credentialtest.Code(t, pass, uint32(i), device))
		if err != nil {
			t.Fatal(err)
		}
		if c.DeviceSignature[0] == 0 || c.DeviceSignature[32] == 0 {
			if !c.VerifyDevice() {
				t.Errorf("a signature with a leading zero does not verify")
			}
			return
		}
	}
	t.Errorf("no signature with a leading zero byte in 5000 tries")
}

func TestMakeCodeRefusesAKeyThatIsNotThePassDeviceKey(t *testing.T) {
	issuer := credentialtest.IssuerKey(1)
	pass := credentialtest.Pass(t, credentialtest.Body(t, issuer, credentialtest.DeviceKey(t), nbf), issuer)
	if _, err := credential.MakeCode(pass, 1, credentialtest.DeviceKey(t), rand.Reader); err == nil {
		t.Errorf("MakeCode() with another device key succeeded")
	}
	if _, err := credential.MakeCode(pass[:10], 1, credentialtest.DeviceKey(t), rand.Reader); err == nil {
		t.Errorf("MakeCode() with a truncated pass succeeded")
	}
}

func TestMaxCodeLenIsTheLongestPossibleCode(t *testing.T) {
	issuer := credentialtest.IssuerKey(1)
	device := credentialtest.DeviceKey(t)
	b := credentialtest.Body(t, issuer, device, nbf)
	b.NameMasked = strings.Repeat("n", 64)
	b.IDMasked = strings.Repeat("*", 32)
	credentialtest.Seal(t, &b, credentialtest.SealKey(1), 1)
	text := credentialtest.Code(t, credentialtest.Pass(t, b, issuer), 1, device)
	if got, want := len(text), credential.MaxCodeLen; got != want {
		t.Errorf("longest code is %d characters, MaxCodeLen = %d", got, want)
	}
	if _, err := credential.ParseCode(text); err != nil {
		t.Errorf("ParseCode(longest code): %v", err)
	}
}

func TestParseCodeRefusesMalformedCodes(t *testing.T) {
	issuer := credentialtest.IssuerKey(1)
	device := credentialtest.DeviceKey(t)
	pass := credentialtest.Pass(t, credentialtest.Body(t, issuer, device, nbf), issuer)
	good := credentialtest.Code(t, pass, 1, device)
	raw, _ := base45.Decode(strings.TrimPrefix(good, credential.Prefix))
	encode := func(b []byte) string { return credential.Prefix + base45.Encode(b) }
	tests := []struct {
		name string
		code string
	}{
		{"the empty string", ""},
		{"a code without its prefix", strings.TrimPrefix(good, credential.Prefix)},
		{"a lowercase prefix", "tid1:" + strings.TrimPrefix(good, credential.Prefix)},
		{"version 2 of the prefix", "TID2:" + strings.TrimPrefix(good, credential.Prefix)},
		{"a lowercase body", strings.ToLower(good)},
		{"a trailing newline", good + "\n"},
		{"a leading space", " " + good},
		{"one byte too few", encode(raw[:len(raw)-1])},
		{"one byte too many", encode(append(bytes.Clone(raw), 0))},
		{"a pass without step and signature", encode(pass)},
		{"a code longer than any valid code", credential.Prefix + strings.Repeat("0", credential.MaxCodeLen)},
		{"a group above 65535", credential.Prefix + "GGW" + strings.TrimPrefix(good, credential.Prefix)[3:]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := credential.ParseCode(tt.code)
			if err == nil {
				t.Fatalf("ParseCode() = %+v, want an error", c)
			}
			if !errors.Is(err, credential.ErrMalformed) {
				t.Errorf("error %v does not wrap ErrMalformed", err)
			}
		})
	}
}

func TestStepAt(t *testing.T) {
	tests := []struct {
		name string
		t    time.Time
		want uint32
	}{
		{"the epoch is step 0", time.Unix(0, 0), 0},
		{"59 s is still step 0", time.Unix(59, 999_999_999), 0},
		{"60 s is step 1", time.Unix(60, 0), 1},
		{"times before the epoch are step 0", time.Unix(-61, 0), 0},
		{"a 2026 instant", time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC), uint32(time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC).Unix() / 60)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, want := credential.StepAt(tt.t), tt.want; got != want {
				t.Errorf("StepAt(%v) = %d, want %d", tt.t, got, want)
			}
		})
	}
}

func FuzzParseCode(f *testing.F) {
	issuer := credentialtest.IssuerKey(1)
	device := credentialtest.DeviceKey(f)
	b := credentialtest.Body(f, issuer, device, nbf)
	f.Add(credentialtest.Code(f, credentialtest.Pass(f, b, issuer), 1, device))
	credentialtest.Seal(f, &b, credentialtest.SealKey(1), 1)
	f.Add(credentialtest.Code(f, credentialtest.Pass(f, b, issuer), 1, device))
	f.Add("TID1:")
	f.Add("TID1:GGW")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := credential.ParseCode(s)
		if err != nil {
			if !errors.Is(err, credential.ErrMalformed) {
				t.Errorf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		// A code that parses must re-encode to itself: one text form.
		raw := append(bytes.Clone(c.Pass.Bytes), byte(c.Step>>24), byte(c.Step>>16), byte(c.Step>>8), byte(c.Step))
		raw = append(raw, c.DeviceSignature[:]...)
		if got := credential.Prefix + base45.Encode(raw); got != s {
			t.Errorf("re-encoded code differs from the input")
		}
		c.VerifyDevice()
	})
}

func FuzzParsePass(f *testing.F) {
	issuer := credentialtest.IssuerKey(1)
	device := credentialtest.DeviceKey(f)
	b := credentialtest.Body(f, issuer, device, nbf)
	f.Add(credentialtest.Pass(f, b, issuer))
	credentialtest.Seal(f, &b, credentialtest.SealKey(1), 1)
	f.Add(credentialtest.Pass(f, b, issuer))
	f.Add([]byte{1, 0})
	f.Fuzz(func(t *testing.T, raw []byte) {
		p, err := credential.ParsePass(raw)
		if err != nil {
			if !errors.Is(err, credential.ErrMalformed) {
				t.Errorf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		body, err := p.Body.Marshal()
		if err != nil {
			// The parser accepts times the issuer would refuse to sign (a
			// reversed or overlong window); verify judges those, so only
			// check the layout round-trips when Marshal accepts the body.
			return
		}
		if !bytes.Equal(append(body, p.Signature[:]...), raw) {
			t.Errorf("re-marshalled pass differs from the input")
		}
		p.VerifyIssuer(issuer.Public().(ed25519.PublicKey))
	})
}

func TestTypicalCodesFitTheQRVersionLimits(t *testing.T) {
	// Alphanumeric capacity at error correction M (ISO/IEC 18004 table 7):
	// version 11 holds 366 characters, version 13 holds 483.
	const version11M, version13M = 366, 483
	issuer := credentialtest.IssuerKey(1)
	device := credentialtest.DeviceKey(t)
	tests := []struct {
		name   string
		masked string
		sealed bool
		limit  int
	}{
		{"a three-character Chinese name without the sealed ID fits version 11", "张**", false, version11M},
		{"a three-character Chinese name with the sealed ID fits version 13", "张**", true, version13M},
		{"a seven-character name with the sealed ID fits version 13", "买******", true, version13M},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := credentialtest.Body(t, issuer, device, nbf)
			b.NameMasked = tt.masked
			if tt.sealed {
				credentialtest.Seal(t, &b, credentialtest.SealKey(1), 1)
			}
			code := credentialtest.Code(t, credentialtest.Pass(t, b, issuer), 1, device)
			if got := len(code); got > tt.limit {
				t.Errorf("code is %d characters, more than %d", got, tt.limit)
			}
		})
	}
}
