package credential

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"
	"time"

	"tempid/internal/base45"
)

// MaxCodeLen is the longest code text the format allows: the prefix and the
// Base45 form of the largest pass with its step and device signature.
// ParseCode refuses longer input before decoding anything.
const MaxCodeLen = len(Prefix) + maxCodeBytesLen/2*3 + maxCodeBytesLen%2*2

// Code is a parsed rotating code: a pass, the step it was made for and the
// device's signature over both.
type Code struct {
	// Pass is the pass the code carries.
	Pass *Pass
	// Step is floor(unix_time / 60) when the phone made the code.
	Step uint32
	// DeviceSignature is the device key's ECDSA signature in IEEE P1363
	// form, r || s.
	DeviceSignature [64]byte
}

// StepAt returns the code step containing t. Times before 1970 are step 0
// and times past the u32 range wrap, neither of which a valid pass reaches.
func StepAt(t time.Time) uint32 {
	u := t.Unix()
	if u < 0 {
		return 0
	}
	return uint32(u / StepSeconds)
}

// MakeCode returns the code text for pass at step, signed with the device
// key, as the phone does every minute. It refuses a pass that does not
// parse or whose device key is not key's, since no verifier would accept
// the result.
func MakeCode(pass []byte, step uint32, key *ecdsa.PrivateKey, rand io.Reader) (string, error) {
	p, err := ParsePass(pass)
	if err != nil {
		return "", err
	}
	if key == nil {
		return "", errors.New("credential: no device key")
	}
	compressed, err := CompressDeviceKey(&key.PublicKey)
	if err != nil {
		return "", err
	}
	if compressed != p.DeviceKey {
		return "", errors.New("credential: the signing key is not the pass's device key")
	}
	digest := codeDigest(p.Bytes, step)
	r, s, err := ecdsa.Sign(rand, key, digest[:])
	if err != nil {
		return "", fmt.Errorf("credential: signing code: %w", err)
	}
	out := make([]byte, 0, len(p.Bytes)+codeTrailerLen)
	out = append(out, p.Bytes...)
	out = binary.BigEndian.AppendUint32(out, step)
	var sig [64]byte
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	out = append(out, sig[:]...)
	return Prefix + base45.Encode(out), nil
}

// ParseCode parses code text strictly: the exact prefix, strict Base45, a
// strict pass and exactly a step and a signature after it. Errors wrap
// ErrMalformed. It does not verify anything.
func ParseCode(s string) (*Code, error) {
	// The bound comes first so that hostile input costs no decoding work.
	if len(s) > MaxCodeLen {
		return nil, fmt.Errorf("%w: code is %d characters, longer than the %d the format allows", ErrMalformed, len(s), MaxCodeLen)
	}
	if len(s) < len(Prefix) || s[:len(Prefix)] != Prefix {
		return nil, fmt.Errorf("%w: code does not start with %q", ErrMalformed, Prefix)
	}
	raw, err := base45.Decode(s[len(Prefix):])
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	body, n, err := parseBody(raw)
	if err != nil {
		return nil, err
	}
	if got, want := len(raw)-n, signatureLen+codeTrailerLen; got != want {
		return nil, fmt.Errorf("%w: %d bytes after the body, want %d (issuer signature, step, device signature)", ErrMalformed, got, want)
	}
	passLen := n + signatureLen
	c := &Code{
		Pass: newPass(body, raw[:passLen], n),
		Step: binary.BigEndian.Uint32(raw[passLen:]),
	}
	copy(c.DeviceSignature[:], raw[passLen+stepLen:])
	return c, nil
}

// VerifyDevice reports whether the pass's device key made the code's
// signature. A device key that is not on P-256 verifies nothing.
func (c *Code) VerifyDevice() bool {
	if c == nil || c.Pass == nil {
		return false
	}
	pub, err := ParseDeviceKey(c.Pass.DeviceKey)
	if err != nil {
		return false
	}
	digest := codeDigest(c.Pass.Bytes, c.Step)
	r := new(big.Int).SetBytes(c.DeviceSignature[:32])
	s := new(big.Int).SetBytes(c.DeviceSignature[32:])
	return ecdsa.Verify(pub, digest[:], r, s)
}

// codeDigest is SHA-256("tempid-code-v1" || pass || step), the message the
// device signs.
func codeDigest(pass []byte, step uint32) [32]byte {
	h := sha256.New()
	h.Write([]byte(codeContext))
	h.Write(pass)
	var st [4]byte
	binary.BigEndian.PutUint32(st[:], step)
	h.Write(st[:])
	var d [32]byte
	h.Sum(d[:0])
	return d
}
