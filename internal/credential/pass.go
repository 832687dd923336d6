package credential

import (
	"crypto/ed25519"
	"fmt"
)

// Pass is a parsed, issuer-signed pass. Parsing does not check the
// signature; VerifyIssuer does, against a key the caller trusts.
type Pass struct {
	Body
	// Bytes is the whole pass as it appeared on the wire, body || signature;
	// the device signature covers exactly these bytes.
	Bytes []byte
	// Signature is the issuer's Ed25519 signature over "tempid-pass-v1" || body.
	Signature [64]byte
}

// SignPass returns the wire form of a pass: b's body followed by the
// issuer's signature over it. It refuses a body Marshal refuses, and a
// body whose IssuerKID is not the ID of key, since no verifier would find
// the key that signed it.
func SignPass(b Body, key ed25519.PrivateKey) ([]byte, error) {
	if len(key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("credential: issuer key is %d bytes, want %d", len(key), ed25519.PrivateKeySize)
	}
	if kid := KeyID(key.Public().(ed25519.PublicKey)); kid != b.IssuerKID {
		return nil, fmt.Errorf("credential: body names issuer key %x but the signing key is %x", b.IssuerKID, kid)
	}
	body, err := b.Marshal()
	if err != nil {
		return nil, err
	}
	sig := ed25519.Sign(key, passMessage(body))
	return append(body, sig...), nil
}

// ParsePass parses a pass strictly: version 1, no unknown flag bits,
// lengths in range and nothing after the signature. Errors wrap ErrMalformed.
func ParsePass(raw []byte) (*Pass, error) {
	if len(raw) > maxPassLen {
		return nil, fmt.Errorf("%w: pass is %d bytes, longer than the %d the format allows", ErrMalformed, len(raw), maxPassLen)
	}
	body, n, err := parseBody(raw)
	if err != nil {
		return nil, err
	}
	if got, want := len(raw)-n, signatureLen; got != want {
		return nil, fmt.Errorf("%w: %d bytes after the body, want a %d-byte signature", ErrMalformed, got, want)
	}
	return newPass(body, raw[:n+signatureLen], n), nil
}

// newPass copies raw so a Pass never aliases its caller's buffer.
func newPass(body Body, raw []byte, bodyLen int) *Pass {
	p := &Pass{Body: body, Bytes: append([]byte(nil), raw...)}
	copy(p.Signature[:], raw[bodyLen:])
	return p
}

// VerifyIssuer reports whether pub made the pass's signature. It does not
// compare pub with IssuerKID or look at times; that is package verify's job.
func (p *Pass) VerifyIssuer(pub ed25519.PublicKey) bool {
	if len(pub) != ed25519.PublicKeySize || len(p.Bytes) < signatureLen {
		return false
	}
	body := p.Bytes[:len(p.Bytes)-signatureLen]
	return ed25519.Verify(pub, passMessage(body), p.Signature[:])
}

func passMessage(body []byte) []byte {
	m := make([]byte, 0, len(passContext)+len(body))
	return append(append(m, passContext...), body...)
}
