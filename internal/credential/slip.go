package credential

import (
	"crypto/ed25519"
	"encoding/binary"
	"fmt"
	"time"
	"unicode/utf8"

	"tempid/internal/base45"
)

// Wire constants of the paper certificate (CREDENTIAL.md, "Paper
// certificate (slip), v1").
const (
	// SlipPrefix starts every slip; a scanner tells a slip from a code by it.
	SlipPrefix = "TIDS1:"
	// MaxSlipLifetime bounds cert_exp − issued_at: a slip lives at most 24 h.
	MaxSlipLifetime = 24 * time.Hour
	// ChannelWindow marks a slip printed at a station's manual window.
	ChannelWindow byte = 1
	// ChannelKiosk marks a slip printed by a station's kiosk.
	ChannelKiosk byte = 2
)

const (
	slipContext      = "tempid-slip-v1"
	stationLen       = 3
	fixedSlipBodyLen = 1 + 1 + 4 + 16 + 4 + 4 + 1 + 1 + stationLen + 1 + 1
	maxSlipBodyLen   = fixedSlipBodyLen + maxNameLen + maxIDMaskedLen + sealedLen
	maxSlipBytesLen  = maxSlipBodyLen + signatureLen
)

// MaxSlipLen is the longest slip text the format allows. ParseSlip refuses
// longer input before decoding anything.
const MaxSlipLen = len(SlipPrefix) + maxSlipBytesLen/2*3 + maxSlipBytesLen%2*2

// SlipBody is the issuer-signed content of a slip. Unlike a pass it names
// no device and no step: a slip is paper, bound to its holder by the full
// identity printed beside the QR and checked at a staffed lane.
type SlipBody struct {
	// IssuerKID names the issuer key that signed the slip.
	IssuerKID [4]byte
	// CertID is the certificate the slip is.
	CertID [16]byte
	// IssuedAt is when the slip was issued; the signing key must have been
	// valid then.
	IssuedAt time.Time
	// CertExpiry is when the certificate ends: after IssuedAt, at most
	// MaxSlipLifetime later.
	CertExpiry time.Time
	// Purpose is PurposeRailway for every valid slip.
	Purpose byte
	// Channel is ChannelWindow or ChannelKiosk.
	Channel byte
	// Station is the issuing station's telegraph code, [A-Z]{3}.
	Station string
	// NameMasked and IDMasked are the holder's masked identity, as in a pass.
	NameMasked string
	IDMasked   string
	// Sealed is the full ID number encrypted for railway terminals, or nil.
	Sealed *SealedID
}

// Slip is a parsed slip. Parsing does not check the signature;
// VerifyIssuer does.
type Slip struct {
	SlipBody
	// Bytes is body || signature as it appeared on the wire.
	Bytes []byte
	// Signature is the issuer's Ed25519 signature over "tempid-slip-v1" || body.
	Signature [64]byte
}

// ValidStation tells whether s is a station's telegraph code: exactly three
// ASCII capital letters.
func ValidStation(s string) bool {
	if len(s) != stationLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

func validChannel(c byte) bool { return c == ChannelWindow || c == ChannelKiosk }

// checkSlipTimes is the bound on cert_exp: issued_at < cert_exp <=
// issued_at + 24 h.
func checkSlipTimes(issued, exp uint32) error {
	if exp <= issued || int64(exp) > int64(issued)+int64(MaxSlipLifetime/time.Second) {
		return fmt.Errorf("certificate expiry %d is not within (issued_at, issued_at + 24 h] of %d", exp, issued)
	}
	return nil
}

// Marshal returns the body's wire form, refusing anything a verifier must
// reject, so that the issuer cannot sign a slip it should not.
func (b SlipBody) Marshal() ([]byte, error) {
	if n := len(b.NameMasked); n < 1 || n > maxNameLen || !utf8.ValidString(b.NameMasked) {
		return nil, fmt.Errorf("credential: masked name must be 1..%d bytes of UTF-8", maxNameLen)
	}
	if n := len(b.IDMasked); n < 1 || n > maxIDMaskedLen || !printableASCII(b.IDMasked) {
		return nil, fmt.Errorf("credential: masked ID number must be 1..%d bytes of printable ASCII", maxIDMaskedLen)
	}
	if !ValidStation(b.Station) {
		return nil, fmt.Errorf("credential: station %q is not three capital letters", b.Station)
	}
	if !validChannel(b.Channel) {
		return nil, fmt.Errorf("credential: channel %d is neither window (1) nor kiosk (2)", b.Channel)
	}
	issued, err := wireTime("issue time", b.IssuedAt)
	if err != nil {
		return nil, err
	}
	exp, err := wireTime("certificate expiry", b.CertExpiry)
	if err != nil {
		return nil, err
	}
	if err := checkSlipTimes(issued, exp); err != nil {
		return nil, fmt.Errorf("credential: %w", err)
	}
	var flags byte
	if b.Sealed != nil {
		flags |= flagSealed
	}
	out := make([]byte, 0, maxSlipBodyLen)
	out = append(out, version, flags)
	out = append(out, b.IssuerKID[:]...)
	out = append(out, b.CertID[:]...)
	out = binary.BigEndian.AppendUint32(out, issued)
	out = binary.BigEndian.AppendUint32(out, exp)
	out = append(out, b.Purpose, b.Channel)
	out = append(out, b.Station...)
	out = append(out, byte(len(b.NameMasked)))
	out = append(out, b.NameMasked...)
	out = append(out, byte(len(b.IDMasked)))
	out = append(out, b.IDMasked...)
	if s := b.Sealed; s != nil {
		out = binary.BigEndian.AppendUint16(out, s.KID)
		out = append(out, s.Nonce[:]...)
		out = append(out, s.Ciphertext[:]...)
	}
	return out, nil
}

// SignSlip returns the slip text for b signed with the issuer key. It
// refuses a body Marshal refuses and a body naming another key.
func SignSlip(b SlipBody, key ed25519.PrivateKey) (string, error) {
	if len(key) != ed25519.PrivateKeySize {
		return "", fmt.Errorf("credential: issuer key is %d bytes, want %d", len(key), ed25519.PrivateKeySize)
	}
	if kid := KeyID(key.Public().(ed25519.PublicKey)); kid != b.IssuerKID {
		return "", fmt.Errorf("credential: slip names issuer key %x but the signing key is %x", b.IssuerKID, kid)
	}
	body, err := b.Marshal()
	if err != nil {
		return "", err
	}
	sig := ed25519.Sign(key, slipMessage(body))
	return SlipPrefix + base45.Encode(append(body, sig...)), nil
}

// ParseSlip parses slip text strictly: the exact prefix, strict Base45,
// version 1, no unknown flag bits, a known channel, a station of three
// capital letters, lengths in range, the bound on cert_exp, and exactly a
// signature after the body. Errors wrap ErrMalformed. It verifies nothing.
func ParseSlip(s string) (*Slip, error) {
	if len(s) > MaxSlipLen {
		return nil, fmt.Errorf("%w: slip is %d characters, longer than the %d the format allows", ErrMalformed, len(s), MaxSlipLen)
	}
	if len(s) < len(SlipPrefix) || s[:len(SlipPrefix)] != SlipPrefix {
		return nil, fmt.Errorf("%w: slip does not start with %q", ErrMalformed, SlipPrefix)
	}
	raw, err := base45.Decode(s[len(SlipPrefix):])
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	var b SlipBody
	r := reader{buf: raw, ok: true}
	if v := r.byte(); r.ok && v != version {
		return nil, fmt.Errorf("%w: version %d, want %d", ErrMalformed, v, version)
	}
	flags := r.byte()
	if r.ok && flags&^flagSealed != 0 {
		return nil, fmt.Errorf("%w: unknown flag bits %#02x", ErrMalformed, flags&^flagSealed)
	}
	copy(b.IssuerKID[:], r.bytes(4))
	copy(b.CertID[:], r.bytes(16))
	issued, exp := r.u32(), r.u32()
	if r.ok {
		if err := checkSlipTimes(issued, exp); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
	}
	b.IssuedAt = time.Unix(int64(issued), 0).UTC()
	b.CertExpiry = time.Unix(int64(exp), 0).UTC()
	b.Purpose = r.byte()
	b.Channel = r.byte()
	if r.ok && !validChannel(b.Channel) {
		return nil, fmt.Errorf("%w: channel %d", ErrMalformed, b.Channel)
	}
	b.Station = string(r.bytes(stationLen))
	if r.ok && !ValidStation(b.Station) {
		return nil, fmt.Errorf("%w: station is not three capital letters", ErrMalformed)
	}
	nameLen := int(r.byte())
	if r.ok && (nameLen < 1 || nameLen > maxNameLen) {
		return nil, fmt.Errorf("%w: masked name length %d, want 1..%d", ErrMalformed, nameLen, maxNameLen)
	}
	name := r.bytes(nameLen)
	if r.ok && !utf8.Valid(name) {
		return nil, fmt.Errorf("%w: masked name is not valid UTF-8", ErrMalformed)
	}
	b.NameMasked = string(name)
	idmLen := int(r.byte())
	if r.ok && (idmLen < 1 || idmLen > maxIDMaskedLen) {
		return nil, fmt.Errorf("%w: masked ID number length %d, want 1..%d", ErrMalformed, idmLen, maxIDMaskedLen)
	}
	b.IDMasked = string(r.bytes(idmLen))
	if r.ok && !printableASCII(b.IDMasked) {
		return nil, fmt.Errorf("%w: masked ID number is not printable ASCII", ErrMalformed)
	}
	if flags&flagSealed != 0 {
		sd := new(SealedID)
		sd.KID = r.u16()
		copy(sd.Nonce[:], r.bytes(12))
		copy(sd.Ciphertext[:], r.bytes(len(sd.Ciphertext)))
		b.Sealed = sd
	}
	if !r.ok {
		return nil, fmt.Errorf("%w: slip truncated after %d bytes", ErrMalformed, len(raw))
	}
	if got := len(raw) - r.off; got != signatureLen {
		return nil, fmt.Errorf("%w: %d bytes after the body, want a %d-byte signature", ErrMalformed, got, signatureLen)
	}
	sl := &Slip{SlipBody: b, Bytes: append([]byte(nil), raw...)}
	copy(sl.Signature[:], raw[r.off:])
	return sl, nil
}

// VerifyIssuer reports whether pub made the slip's signature, under the
// slip's own signing context: a pass's signature never verifies as a slip's.
func (s *Slip) VerifyIssuer(pub ed25519.PublicKey) bool {
	if s == nil || len(pub) != ed25519.PublicKeySize || len(s.Bytes) < signatureLen {
		return false
	}
	body := s.Bytes[:len(s.Bytes)-signatureLen]
	return ed25519.Verify(pub, slipMessage(body), s.Signature[:])
}

// IsSlip tells whether text claims to be a slip (has the slip prefix).
func IsSlip(text string) bool {
	return len(text) >= len(SlipPrefix) && text[:len(SlipPrefix)] == SlipPrefix
}

func slipMessage(body []byte) []byte {
	m := make([]byte, 0, len(slipContext)+len(body))
	return append(append(m, slipContext...), body...)
}
