// Package credential is the wire format of tempid's QR credential, version 1:
// the issuer-signed pass and the device-signed rotating code that carries it.
//
// The format is fixed by CREDENTIAL.md and read by programs other than this
// one (the phone's web app, gates), so this package encodes and decodes it
// byte for byte and refuses anything the document does not allow. It checks
// signatures when asked but makes no trust decisions: which issuer keys to
// believe, the clock, and revocation belong to package verify.
package credential

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
	"unicode/utf8"
)

// Wire constants of CREDENTIAL.md.
const (
	// Prefix starts every code; it names the format so a scanner can tell a
	// tempid code from any other QR.
	Prefix = "TID1:"
	// StepSeconds is the length of a code step: the phone makes a new code
	// every minute.
	StepSeconds = 60
	// PurposeRailway is the only purpose a pass may name (R6).
	PurposeRailway byte = 1
	// MaxPassLifetime bounds pass_exp - pass_nbf: a face check authorises
	// showing codes for 30 minutes (R3).
	MaxPassLifetime = 30 * time.Minute
)

// ErrMalformed is wrapped by every parse error, so that callers map any
// parse failure to the single reason "malformed" with errors.Is.
var ErrMalformed = errors.New("credential: malformed")

// Field sizes and bounds of the body.
const (
	version         = 1
	flagSealed      = 1 << 0
	maxNameLen      = 64
	maxIDMaskedLen  = 32
	deviceKeyLen    = 33
	sealedIDLen     = 18
	sealedLen       = 2 + 12 + sealedIDLen + 16
	signatureLen    = 64
	stepLen         = 4
	fixedBodyLen    = 1 + 1 + 4 + 16 + 4 + 4 + 4 + 1 + 1 + 1 + deviceKeyLen
	maxBodyLen      = fixedBodyLen + maxNameLen + maxIDMaskedLen + sealedLen
	maxPassLen      = maxBodyLen + signatureLen
	codeTrailerLen  = stepLen + signatureLen
	maxCodeBytesLen = maxPassLen + codeTrailerLen
	passContext     = "tempid-pass-v1"
	codeContext     = "tempid-code-v1"
)

// MaxPassLen is the largest pass the format allows, in bytes; storage and
// transport can size buffers with it.
const MaxPassLen = maxPassLen

// Body is the issuer-signed part of a pass.
type Body struct {
	// IssuerKID names the issuer key that signed the pass (KeyID of it).
	IssuerKID [4]byte
	// CertID is the certificate the pass was issued for.
	CertID [16]byte
	// CertExpiry is when the certificate ends; no pass outlives it.
	CertExpiry time.Time
	// NotBefore is the time of the face check that authorised the pass.
	NotBefore time.Time
	// NotAfter is when the pass ends: at most NotBefore+MaxPassLifetime and
	// never after CertExpiry.
	NotAfter time.Time
	// Purpose is PurposeRailway for every valid pass.
	Purpose byte
	// NameMasked is the holder's masked name, shown to any scanner.
	NameMasked string
	// IDMasked is the holder's masked ID number, shown to any scanner.
	IDMasked string
	// DeviceKey is the phone's P-256 key, SEC1 compressed; only it can make
	// codes from this pass.
	DeviceKey [33]byte
	// Sealed is the full ID number encrypted for railway terminals, or nil.
	Sealed *SealedID
}

// Marshal returns the body's wire form. It refuses anything the format
// cannot carry or a verifier must reject — a name or masked number out of
// range, times that are not whole seconds or do not fit in u32, and a pass
// window that is reversed, longer than MaxPassLifetime or past CertExpiry —
// so that the issuer cannot sign a pass it should not.
func (b Body) Marshal() ([]byte, error) {
	if n := len(b.NameMasked); n < 1 || n > maxNameLen {
		return nil, fmt.Errorf("credential: masked name is %d bytes, want 1..%d", n, maxNameLen)
	}
	if !utf8.ValidString(b.NameMasked) {
		return nil, errors.New("credential: masked name is not valid UTF-8")
	}
	if n := len(b.IDMasked); n < 1 || n > maxIDMaskedLen {
		return nil, fmt.Errorf("credential: masked ID number is %d bytes, want 1..%d", n, maxIDMaskedLen)
	}
	if !printableASCII(b.IDMasked) {
		return nil, errors.New("credential: masked ID number is not printable ASCII")
	}
	certExp, err := wireTime("certificate expiry", b.CertExpiry)
	if err != nil {
		return nil, err
	}
	nbf, err := wireTime("pass start", b.NotBefore)
	if err != nil {
		return nil, err
	}
	exp, err := wireTime("pass end", b.NotAfter)
	if err != nil {
		return nil, err
	}
	if exp < nbf {
		return nil, fmt.Errorf("credential: pass ends (%d) before it starts (%d)", exp, nbf)
	}
	if limit := min(int64(nbf)+int64(MaxPassLifetime/time.Second), int64(certExp)); int64(exp) > limit {
		return nil, fmt.Errorf("credential: pass end %d is after min(start + %v, certificate expiry) = %d", exp, MaxPassLifetime, limit)
	}
	if b.DeviceKey[0] != 0x02 && b.DeviceKey[0] != 0x03 {
		return nil, errors.New("credential: device key is not a SEC1 compressed point")
	}

	var flags byte
	if b.Sealed != nil {
		flags |= flagSealed
	}
	out := make([]byte, 0, maxBodyLen)
	out = append(out, version, flags)
	out = append(out, b.IssuerKID[:]...)
	out = append(out, b.CertID[:]...)
	out = binary.BigEndian.AppendUint32(out, certExp)
	out = binary.BigEndian.AppendUint32(out, nbf)
	out = binary.BigEndian.AppendUint32(out, exp)
	out = append(out, b.Purpose)
	out = append(out, byte(len(b.NameMasked)))
	out = append(out, b.NameMasked...)
	out = append(out, byte(len(b.IDMasked)))
	out = append(out, b.IDMasked...)
	out = append(out, b.DeviceKey[:]...)
	if s := b.Sealed; s != nil {
		out = binary.BigEndian.AppendUint16(out, s.KID)
		out = append(out, s.Nonce[:]...)
		out = append(out, s.Ciphertext[:]...)
	}
	return out, nil
}

// wireTime converts t to the u32 Unix seconds of the wire, refusing what
// would not survive the round trip.
func wireTime(what string, t time.Time) (uint32, error) {
	if t.Nanosecond() != 0 {
		return 0, fmt.Errorf("credential: %s %v is not a whole second", what, t)
	}
	u := t.Unix()
	if u < 0 || u > math.MaxUint32 {
		return 0, fmt.Errorf("credential: %s %v does not fit in u32 Unix seconds", what, t)
	}
	return uint32(u), nil
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// parseBody reads a body from the start of raw and returns it with its
// length; what follows the body is the caller's to judge.
func parseBody(raw []byte) (Body, int, error) {
	var b Body
	r := reader{buf: raw, ok: true}
	if v := r.byte(); r.ok && v != version {
		return b, 0, fmt.Errorf("%w: version %d, want %d", ErrMalformed, v, version)
	}
	flags := r.byte()
	if r.ok && flags&^flagSealed != 0 {
		return b, 0, fmt.Errorf("%w: unknown flag bits %#02x", ErrMalformed, flags&^flagSealed)
	}
	copy(b.IssuerKID[:], r.bytes(4))
	copy(b.CertID[:], r.bytes(16))
	b.CertExpiry = time.Unix(int64(r.u32()), 0).UTC()
	b.NotBefore = time.Unix(int64(r.u32()), 0).UTC()
	b.NotAfter = time.Unix(int64(r.u32()), 0).UTC()
	b.Purpose = r.byte()
	nameLen := int(r.byte())
	if r.ok && (nameLen < 1 || nameLen > maxNameLen) {
		return b, 0, fmt.Errorf("%w: masked name length %d, want 1..%d", ErrMalformed, nameLen, maxNameLen)
	}
	name := r.bytes(nameLen)
	if r.ok && !utf8.Valid(name) {
		return b, 0, fmt.Errorf("%w: masked name is not valid UTF-8", ErrMalformed)
	}
	b.NameMasked = string(name)
	idmLen := int(r.byte())
	if r.ok && (idmLen < 1 || idmLen > maxIDMaskedLen) {
		return b, 0, fmt.Errorf("%w: masked ID number length %d, want 1..%d", ErrMalformed, idmLen, maxIDMaskedLen)
	}
	b.IDMasked = string(r.bytes(idmLen))
	if r.ok && !printableASCII(b.IDMasked) {
		return b, 0, fmt.Errorf("%w: masked ID number is not printable ASCII", ErrMalformed)
	}
	copy(b.DeviceKey[:], r.bytes(deviceKeyLen))
	if r.ok && b.DeviceKey[0] != 0x02 && b.DeviceKey[0] != 0x03 {
		return b, 0, fmt.Errorf("%w: device key prefix %#02x is not a SEC1 compressed point", ErrMalformed, b.DeviceKey[0])
	}
	if flags&flagSealed != 0 {
		s := new(SealedID)
		s.KID = r.u16()
		copy(s.Nonce[:], r.bytes(12))
		copy(s.Ciphertext[:], r.bytes(len(s.Ciphertext)))
		b.Sealed = s
	}
	if !r.ok {
		return Body{}, 0, fmt.Errorf("%w: body truncated after %d bytes", ErrMalformed, len(raw))
	}
	return b, r.off, nil
}

// reader walks a byte slice; once a read runs past the end, ok is false and
// every later read returns zeros, so parseBody checks for truncation once.
type reader struct {
	buf []byte
	off int
	ok  bool
}

func (r *reader) bytes(n int) []byte {
	if !r.ok || n > len(r.buf)-r.off {
		r.ok = false
		return make([]byte, n)
	}
	b := r.buf[r.off : r.off+n]
	r.off += n
	return b
}

func (r *reader) byte() byte  { return r.bytes(1)[0] }
func (r *reader) u16() uint16 { return binary.BigEndian.Uint16(r.bytes(2)) }
func (r *reader) u32() uint32 { return binary.BigEndian.Uint32(r.bytes(4)) }

// KeyID returns the 4-byte identifier of an issuer key: the first 4 bytes of
// SHA-256 of its 32-byte public key. A wrong-length key yields the ID of
// whatever bytes it has; such a key verifies nothing anyway.
func KeyID(pub ed25519.PublicKey) [4]byte {
	sum := sha256.Sum256(pub)
	return [4]byte(sum[:4])
}
