// Package bundle is the signed trust bundle of CREDENTIAL.md: the issuer
// keys, revocations and (for terminals granted offline verification) seal
// keys that let a gate verify codes without the network.
//
// A bundle is a JSON payload wrapped as
//
//	{"payload": base64url(json), "kid": hex, "sig": base64url(Ed25519(issuer key, "tempid-bundle-v1" || json))}
//
// The signature covers the payload's JSON bytes, which the envelope carries
// in base64url so that no re-serialisation can change what was signed.
package bundle

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/go-json-experiment/json"

	"tempid/internal/credential"
	"tempid/internal/verify"
)

// MaxSize bounds an envelope Open will read. Revocations stay in the bundle
// until their certificates expire (24 h), so the bound is sized for tens of
// thousands of them, yet keeps a hostile or broken server from exhausting a
// terminal's memory.
const MaxSize = 8 << 20

// DefaultFreshness is how old a bundle may be before an offline verifier
// must answer stale_bundle: revocations older than this might be missing.
const DefaultFreshness = 24 * time.Hour

// Alg is the only issuer key algorithm of format v1.
const Alg = "Ed25519"

const signContext = "tempid-bundle-v1"

// ErrInvalid is wrapped by every error Open returns for a bundle it refuses,
// so callers can tell a bad bundle from their own mistakes.
var ErrInvalid = errors.New("bundle: invalid")

// strict is how every bundle JSON is read: member names match exactly, no
// unknown or duplicate members, valid UTF-8, a single value. A lenient
// parser would let two programs read one signed payload differently.
var strict = json.RejectUnknownMembers(true)

// SealKey is a seal key granted to a terminal for opening sealed ID numbers.
type SealKey struct {
	// KID is the 2-byte key ID a pass names.
	KID uint16
	// Key is the AES-256 key.
	Key []byte
}

// Payload is the content of a trust bundle. Its JSON form has exactly the
// members issued_at, next_update, issuer_keys, revoked_certificates,
// revoked_devices and seal_keys, all required, in the text forms of
// CREDENTIAL.md.
//
// A Payload returned by Open remembers the Trust built from it; treat it as
// read-only, and sign a new bundle to change anything.
type Payload struct {
	// IssuedAt is when the issuer made the bundle; freshness counts from it.
	IssuedAt time.Time
	// NextUpdate is when the terminal should fetch the next bundle.
	NextUpdate time.Time
	// IssuerKeys are the published issuer keys with their signing windows.
	IssuerKeys []verify.IssuerKey
	// RevokedCertificates are revoked cert_ids.
	RevokedCertificates [][16]byte
	// RevokedDevices are SHA-256 hashes of revoked compressed device keys.
	RevokedDevices [][32]byte
	// SealKeys are the seal keys, empty for terminals without the offline
	// grant.
	SealKeys []SealKey

	trust *verify.Trust
}

type wirePayload struct {
	IssuedAt            *time.Time       `json:"issued_at"`
	NextUpdate          *time.Time       `json:"next_update"`
	IssuerKeys          *[]wireIssuerKey `json:"issuer_keys"`
	RevokedCertificates *[]string        `json:"revoked_certificates"`
	RevokedDevices      *[]string        `json:"revoked_devices"`
	SealKeys            *[]wireSealKey   `json:"seal_keys"`
}

type wireIssuerKey struct {
	KID       *string    `json:"kid"`
	Alg       *string    `json:"alg"`
	PublicKey *string    `json:"public_key"`
	NotBefore *time.Time `json:"not_before"`
	NotAfter  *time.Time `json:"not_after"`
}

func (k wireIssuerKey) parse(i int) (verify.IssuerKey, error) {
	if k.KID == nil || k.Alg == nil || k.PublicKey == nil || k.NotBefore == nil || k.NotAfter == nil {
		return verify.IssuerKey{}, fmt.Errorf("%w: issuer key %d lacks a required member", ErrInvalid, i)
	}
	if *k.Alg != Alg {
		return verify.IssuerKey{}, fmt.Errorf("%w: issuer key %d has alg %q, want %q", ErrInvalid, i, *k.Alg, Alg)
	}
	var kid [4]byte
	if err := decodeHex(kid[:], *k.KID); err != nil {
		return verify.IssuerKey{}, fmt.Errorf("%w: issuer key %d kid: %v", ErrInvalid, i, err)
	}
	pub, err := b64.DecodeString(*k.PublicKey)
	if err != nil {
		return verify.IssuerKey{}, fmt.Errorf("%w: issuer key %d public_key: %v", ErrInvalid, i, err)
	}
	return verify.IssuerKey{KID: kid, Public: pub, NotBefore: *k.NotBefore, NotAfter: *k.NotAfter}, nil
}

// ParseKeys reads the published issuer keys, the document the server
// serves at /.well-known/tempid/keys ({"keys": [...]}, each key as in a
// bundle), for a verifier to pin as the signers of its trust bundles. It
// refuses a key whose kid is not its public key's.
func ParseKeys(data []byte) ([]verify.IssuerKey, error) {
	var doc struct {
		Keys *[]wireIssuerKey `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc, strict); err != nil {
		return nil, fmt.Errorf("%w: keys: %v", ErrInvalid, err)
	}
	if doc.Keys == nil || len(*doc.Keys) == 0 {
		return nil, fmt.Errorf("%w: keys: no keys", ErrInvalid)
	}
	var keys []verify.IssuerKey
	for i, k := range *doc.Keys {
		key, err := k.parse(i)
		if err != nil {
			return nil, err
		}
		keys = append(keys, key)
	}
	if err := validateIssuerKeys(keys); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return keys, nil
}

type wireSealKey struct {
	KID *string `json:"kid"`
	Key *string `json:"key"`
}

type envelope struct {
	Payload *string `json:"payload"`
	KID     *string `json:"kid"`
	Sig     *string `json:"sig"`
}

var b64 = base64.RawURLEncoding.Strict()

// MarshalJSON returns the payload's wire JSON, refusing a payload Open
// would refuse.
func (p Payload) MarshalJSON() ([]byte, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	keys := make([]wireIssuerKey, 0, len(p.IssuerKeys))
	for _, k := range p.IssuerKeys {
		keys = append(keys, wireIssuerKey{
			KID:       ptr(fmt.Sprintf("%x", k.KID)),
			Alg:       ptr(Alg),
			PublicKey: ptr(b64.EncodeToString(k.Public)),
			NotBefore: ptr(k.NotBefore),
			NotAfter:  ptr(k.NotAfter),
		})
	}
	certs := make([]string, 0, len(p.RevokedCertificates))
	for _, id := range p.RevokedCertificates {
		certs = append(certs, fmt.Sprintf("%x", id))
	}
	devices := make([]string, 0, len(p.RevokedDevices))
	for _, h := range p.RevokedDevices {
		devices = append(devices, fmt.Sprintf("%x", h))
	}
	seals := make([]wireSealKey, 0, len(p.SealKeys))
	for _, s := range p.SealKeys {
		seals = append(seals, wireSealKey{KID: ptr(fmt.Sprintf("%04x", s.KID)), Key: ptr(b64.EncodeToString(s.Key))})
	}
	return json.Marshal(wirePayload{
		IssuedAt:            ptr(p.IssuedAt),
		NextUpdate:          ptr(p.NextUpdate),
		IssuerKeys:          &keys,
		RevokedCertificates: &certs,
		RevokedDevices:      &devices,
		SealKeys:            &seals,
	}, json.Deterministic(true))
}

// UnmarshalJSON reads the payload's wire JSON strictly.
func (p *Payload) UnmarshalJSON(data []byte) error {
	var w wirePayload
	if err := json.Unmarshal(data, &w, strict); err != nil {
		return fmt.Errorf("%w: payload: %v", ErrInvalid, err)
	}
	if w.IssuedAt == nil || w.NextUpdate == nil || w.IssuerKeys == nil || w.RevokedCertificates == nil || w.RevokedDevices == nil || w.SealKeys == nil {
		return fmt.Errorf("%w: payload lacks a required member", ErrInvalid)
	}
	out := Payload{IssuedAt: *w.IssuedAt, NextUpdate: *w.NextUpdate}
	for i, k := range *w.IssuerKeys {
		key, err := k.parse(i)
		if err != nil {
			return err
		}
		out.IssuerKeys = append(out.IssuerKeys, key)
	}
	for i, s := range *w.RevokedCertificates {
		var id [16]byte
		if err := decodeHex(id[:], s); err != nil {
			return fmt.Errorf("%w: revoked certificate %d: %v", ErrInvalid, i, err)
		}
		out.RevokedCertificates = append(out.RevokedCertificates, id)
	}
	for i, s := range *w.RevokedDevices {
		var h [32]byte
		if err := decodeHex(h[:], s); err != nil {
			return fmt.Errorf("%w: revoked device %d: %v", ErrInvalid, i, err)
		}
		out.RevokedDevices = append(out.RevokedDevices, h)
	}
	for i, s := range *w.SealKeys {
		if s.KID == nil || s.Key == nil {
			return fmt.Errorf("%w: seal key %d lacks a required member", ErrInvalid, i)
		}
		var kid [2]byte
		if err := decodeHex(kid[:], *s.KID); err != nil {
			return fmt.Errorf("%w: seal key %d kid: %v", ErrInvalid, i, err)
		}
		key, err := b64.DecodeString(*s.Key)
		if err != nil {
			return fmt.Errorf("%w: seal key %d key: %v", ErrInvalid, i, err)
		}
		out.SealKeys = append(out.SealKeys, SealKey{KID: uint16(kid[0])<<8 | uint16(kid[1]), Key: key})
	}
	if err := out.validate(); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	*p = out
	return nil
}

// validate checks what the Go types cannot: lengths, windows and that each
// kid really names its key, so that a bundle never carries a key verify
// would look up under the wrong name.
func (p Payload) validate() error {
	if p.NextUpdate.Before(p.IssuedAt) {
		return fmt.Errorf("bundle: next_update %v is before issued_at %v", p.NextUpdate, p.IssuedAt)
	}
	if err := validateIssuerKeys(p.IssuerKeys); err != nil {
		return err
	}
	seen := make(map[uint16]bool, len(p.SealKeys))
	for i, s := range p.SealKeys {
		if len(s.Key) != credential.SealKeySize {
			return fmt.Errorf("bundle: seal key %d is %d bytes, want %d", i, len(s.Key), credential.SealKeySize)
		}
		if seen[s.KID] {
			return fmt.Errorf("bundle: seal key id %04x appears twice", s.KID)
		}
		seen[s.KID] = true
	}
	return nil
}

func validateIssuerKeys(keys []verify.IssuerKey) error {
	for i, k := range keys {
		if len(k.Public) != ed25519.PublicKeySize {
			return fmt.Errorf("bundle: issuer key %d is %d bytes, want %d", i, len(k.Public), ed25519.PublicKeySize)
		}
		if want := credential.KeyID(k.Public); k.KID != want {
			return fmt.Errorf("bundle: issuer key %d has kid %x, but its public key's is %x", i, k.KID, want)
		}
		if k.NotAfter.Before(k.NotBefore) {
			return fmt.Errorf("bundle: issuer key %d window ends before it starts", i)
		}
	}
	return nil
}

// Trust returns what a verifier believes after reading the bundle.
func (p *Payload) Trust() (*verify.Trust, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	revoked := verify.RevocationList{
		Certificates: make(map[[16]byte]struct{}, len(p.RevokedCertificates)),
		Devices:      make(map[[32]byte]struct{}, len(p.RevokedDevices)),
	}
	for _, id := range p.RevokedCertificates {
		revoked.Certificates[id] = struct{}{}
	}
	for _, h := range p.RevokedDevices {
		revoked.Devices[h] = struct{}{}
	}
	t := &verify.Trust{
		IssuerKeys: append([]verify.IssuerKey(nil), p.IssuerKeys...),
		Revoked:    revoked,
		SealKeys:   make(map[uint16][]byte, len(p.SealKeys)),
	}
	for _, s := range p.SealKeys {
		t.SealKeys[s.KID] = bytes.Clone(s.Key)
	}
	return t, nil
}

// Sign returns the envelope of p signed by priv, whose key ID is kid. It
// refuses a kid that does not name priv's public key, since no terminal
// could then find the key to check the signature.
func Sign(p Payload, kid [4]byte, priv ed25519.PrivateKey) ([]byte, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("bundle: signing key is %d bytes, want %d", len(priv), ed25519.PrivateKeySize)
	}
	if want := credential.KeyID(priv.Public().(ed25519.PublicKey)); kid != want {
		return nil, fmt.Errorf("bundle: kid %x does not name the signing key (%x)", kid, want)
	}
	payload, err := p.MarshalJSON()
	if err != nil {
		return nil, err
	}
	sig := ed25519.Sign(priv, signedMessage(payload))
	return json.Marshal(envelope{
		Payload: ptr(b64.EncodeToString(payload)),
		KID:     ptr(fmt.Sprintf("%x", kid)),
		Sig:     ptr(b64.EncodeToString(sig)),
	}, json.Deterministic(true))
}

// Open checks a bundle envelope and returns its payload.
//
// The signature must verify under a key of pinned whose KID is the
// envelope's kid (every such key is tried); the pinned keys are the
// terminal's root of trust, configured out of band, so their signing
// windows are not consulted here. When pinned is nil — and only nil, not an
// empty slice — the signature is checked against the payload's own issuer
// key with that kid: this proves only that the bundle was not damaged in
// transit, not who made it, and is meant for tools that inspect bundles,
// never for a gate.
func Open(raw []byte, pinned []verify.IssuerKey) (*Payload, error) {
	if len(raw) > MaxSize {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrInvalid, len(raw), MaxSize)
	}
	var env envelope
	if err := json.Unmarshal(raw, &env, strict); err != nil {
		return nil, fmt.Errorf("%w: envelope: %v", ErrInvalid, err)
	}
	if env.Payload == nil || env.KID == nil || env.Sig == nil {
		return nil, fmt.Errorf("%w: envelope lacks payload, kid or sig", ErrInvalid)
	}
	var kid [4]byte
	if err := decodeHex(kid[:], *env.KID); err != nil {
		return nil, fmt.Errorf("%w: envelope kid: %v", ErrInvalid, err)
	}
	sig, err := b64.DecodeString(*env.Sig)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return nil, fmt.Errorf("%w: envelope sig is not %d bytes of base64url", ErrInvalid, ed25519.SignatureSize)
	}
	payload, err := b64.DecodeString(*env.Payload)
	if err != nil {
		return nil, fmt.Errorf("%w: envelope payload: %v", ErrInvalid, err)
	}

	var p Payload
	keys := pinned
	if pinned == nil {
		// Integrity only: the payload must be read to find its own key.
		if err := p.UnmarshalJSON(payload); err != nil {
			return nil, err
		}
		keys = p.IssuerKeys
	}
	verified := false
	msg := signedMessage(payload)
	for _, k := range keys {
		if k.KID == kid && len(k.Public) == ed25519.PublicKeySize && ed25519.Verify(k.Public, msg, sig) {
			verified = true
			break
		}
	}
	if !verified {
		return nil, fmt.Errorf("%w: no key with kid %x verifies the signature", ErrInvalid, kid)
	}
	if pinned != nil {
		if err := p.UnmarshalJSON(payload); err != nil {
			return nil, err
		}
	}
	t, err := p.Trust()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	p.trust = t
	return &p, nil
}

// IssuedInTheFuture reports whether the bundle says it was issued later
// than now + skew. Freshness counts from issued_at, so such a bundle would
// be trusted for longer than the freshness limit (by a wrong clock on the
// issuer or the verifier, or a bundle made ahead of time): it is refused.
func (p *Payload) IssuedInTheFuture(now time.Time, skew time.Duration) bool {
	return p.IssuedAt.After(now.Add(skew))
}

// Verify verifies code at now against the bundle p. A bundle issued more
// than freshness before now (zero or negative freshness means
// DefaultFreshness) may lack recent revocations, so every well-formed code
// is then stale_bundle; so it is with a bundle issued more than the
// verifier's skew after now, and with a nil or unusable bundle. Garbage is
// malformed all the same (CREDENTIAL.md, "Reason order"). Otherwise it is
// v.Verify with the bundle's trust.
func Verify(code string, now time.Time, p *Payload, freshness time.Duration, v verify.Verifier) verify.Verdict {
	stale := &verify.Trust{Stale: true}
	if p == nil {
		return v.Verify(code, now, stale)
	}
	if freshness <= 0 {
		freshness = DefaultFreshness
	}
	if now.Sub(p.IssuedAt) > freshness || p.IssuedInTheFuture(now, v.ClockSkew()) {
		return v.Verify(code, now, stale)
	}
	t := p.trust
	if t == nil {
		var err error
		if t, err = p.Trust(); err != nil {
			return v.Verify(code, now, stale)
		}
	}
	return v.Verify(code, now, t)
}

func signedMessage(payload []byte) []byte {
	m := make([]byte, 0, len(signContext)+len(payload))
	return append(append(m, signContext...), payload...)
}

// decodeHex fills dst from exactly 2*len(dst) lowercase hex digits;
// CREDENTIAL.md fixes lowercase so every value has one text form.
func decodeHex(dst []byte, s string) error {
	if len(s) != 2*len(dst) {
		return fmt.Errorf("%q is not %d hex digits", s, 2*len(dst))
	}
	for i := range dst {
		hi, ok1 := hexDigit(s[2*i])
		lo, ok2 := hexDigit(s[2*i+1])
		if !ok1 || !ok2 {
			return fmt.Errorf("%q is not lowercase hex", s)
		}
		dst[i] = hi<<4 | lo
	}
	return nil
}

func hexDigit(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

func ptr[T any](v T) *T { return &v }
