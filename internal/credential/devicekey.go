package credential

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
)

// CompressDeviceKey returns the SEC1 compressed form of a P-256 public key,
// the form a pass carries to stay small.
func CompressDeviceKey(pub *ecdsa.PublicKey) ([33]byte, error) {
	var out [33]byte
	if pub == nil || pub.Curve != elliptic.P256() {
		return out, errors.New("credential: device key is not a P-256 key")
	}
	raw, err := pub.Bytes()
	if err != nil {
		return out, fmt.Errorf("credential: device key: %w", err)
	}
	// raw is 0x04 || X || Y; the compressed form keeps X and Y's parity.
	out[0] = 0x02 | raw[64]&1
	copy(out[1:], raw[1:33])
	return out, nil
}

// ParseDeviceKey decompresses a device key, refusing anything that is not a
// point on P-256.
func ParseDeviceKey(b [33]byte) (*ecdsa.PublicKey, error) {
	x, y := elliptic.UnmarshalCompressed(elliptic.P256(), b[:])
	if x == nil {
		return nil, errors.New("credential: device key is not a compressed P-256 point")
	}
	var raw [65]byte
	raw[0] = 4
	x.FillBytes(raw[1:33])
	y.FillBytes(raw[33:])
	return ecdsa.ParseUncompressedPublicKey(elliptic.P256(), raw[:])
}

// DeviceKeyHash identifies a device key in revocation lists: SHA-256 of its
// 33-byte compressed form.
func DeviceKeyHash(b [33]byte) [32]byte { return sha256.Sum256(b[:]) }

// Errors of ParseJWK, distinct so that the server can tell a phone exactly
// what was wrong with the key it sent.
var (
	ErrJWKSyntax     = errors.New("credential: device JWK is not a JSON object")
	ErrJWKKeyType    = errors.New(`credential: device JWK "kty" is not "EC"`)
	ErrJWKCurve      = errors.New(`credential: device JWK "crv" is not "P-256"`)
	ErrJWKPrivate    = errors.New(`credential: device JWK contains a private key ("d"); send only the public key`)
	ErrJWKCoordinate = errors.New(`credential: device JWK "x" or "y" is not 32 bytes of unpadded base64url`)
	ErrJWKNotOnCurve = errors.New("credential: device JWK point is not on P-256")
)

// jwk holds the members ParseJWK reads. Others (WebCrypto adds "ext" and
// "key_ops") are ignored, as RFC 7517 requires.
type jwk struct {
	Kty string           `json:"kty"`
	Crv string           `json:"crv"`
	X   string           `json:"x"`
	Y   string           `json:"y"`
	D   *json.RawMessage `json:"d,omitempty"`
}

// maxJWKLen bounds the input; a P-256 public JWK is about 130 bytes, and the
// slack allows WebCrypto's extra members.
const maxJWKLen = 1024

// ParseJWK parses the public P-256 JWK a phone's WebCrypto exports for its
// device key.
func ParseJWK(data []byte) (*ecdsa.PublicKey, error) {
	if len(data) > maxJWKLen {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrJWKSyntax, len(data), maxJWKLen)
	}
	var k jwk
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&k); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrJWKSyntax, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: data after the object", ErrJWKSyntax)
	}
	if k.D != nil {
		return nil, ErrJWKPrivate
	}
	if k.Kty != "EC" {
		return nil, fmt.Errorf("%w: got %q", ErrJWKKeyType, k.Kty)
	}
	if k.Crv != "P-256" {
		return nil, fmt.Errorf("%w: got %q", ErrJWKCurve, k.Crv)
	}
	x, errX := base64.RawURLEncoding.Strict().DecodeString(k.X)
	y, errY := base64.RawURLEncoding.Strict().DecodeString(k.Y)
	if errX != nil || errY != nil || len(x) != 32 || len(y) != 32 {
		return nil, ErrJWKCoordinate
	}
	raw := append(append([]byte{4}, x...), y...)
	// crypto/ecdh is the curve check: it refuses off-curve points and the
	// point at infinity.
	if _, err := ecdh.P256().NewPublicKey(raw); err != nil {
		return nil, ErrJWKNotOnCurve
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), raw)
	if err != nil {
		return nil, ErrJWKNotOnCurve
	}
	return pub, nil
}

// JWK returns the public JWK of a P-256 key, as a phone would send it; it
// returns nil for a key that is not a valid P-256 public key.
func JWK(pub *ecdsa.PublicKey) []byte {
	if pub == nil || pub.Curve != elliptic.P256() {
		return nil
	}
	raw, err := pub.Bytes()
	if err != nil {
		return nil
	}
	out, err := json.Marshal(jwk{
		Kty: "EC",
		Crv: "P-256",
		X:   base64.RawURLEncoding.EncodeToString(raw[1:33]),
		Y:   base64.RawURLEncoding.EncodeToString(raw[33:]),
	})
	if err != nil {
		return nil
	}
	return out
}
