package keys

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"unicode/utf8"

	"tempid/internal/credential"
	"tempid/internal/issuance"
	"tempid/internal/problem"
)

var _ issuance.PassMaker = (*Service)(nil)

// The QR bound of CREDENTIAL.md, worked back to a byte budget for the
// masked name. A code with a sealed ID must fit QR version 13 at level M in
// alphanumeric mode, which holds 483 characters; less the 5 of "TID1:",
// that is 478 Base45 characters, or 318 bytes (3 characters per 2 bytes).
// Of those the issuer signature, step and device signature take 132, the
// fixed body fields 70 and the sealed ID 48, leaving 68 for the masked
// name and masked ID number together.
const (
	maxQRChars     = 483
	maxCodeBytes   = (maxQRChars - len(credential.Prefix)) / 3 * 2
	codeOverhead   = 64 + 4 + 64
	fixedBodyBytes = 1 + 1 + 4 + 16 + 4 + 4 + 4 + 1 + 1 + 1 + 33
	sealedBytes    = 2 + 12 + 34
	// maxMaskedBytes is the room for the masked name plus the masked ID.
	maxMaskedBytes = maxCodeBytes - codeOverhead - fixedBodyBytes - sealedBytes
)

// fitName shortens a masked name to at most n bytes, at a character
// boundary. It truncates rather than refuses: a masked name is the first
// character and one asterisk per other character, so cutting asterisks
// reveals nothing and loses only the name's length, while refusing would
// deny a certificate to a person whose legal name is long (a 64-byte Latin
// transcription masks to 64 bytes, 14 more than fit beside an 18-character
// masked ID). Names of up to 17 Chinese characters are never shortened.
func fitName(masked string, n int) string {
	if len(masked) <= n {
		return masked
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(masked[cut]) {
		cut--
	}
	return masked[:cut]
}

// MakePass signs a pass (issuance.PassMaker): the holder's masked name and
// ID number, the device key, the certificate's expiry, pass_nbf at the
// face check that authorised it and pass_exp = min(pass_nbf +
// PassLifetime, certificate expiry), and the full ID number sealed under
// the current seal key. The signer is the key whose window contains
// pass_nbf, which is the key verifiers look for.
func (s *Service) MakePass(ctx context.Context, in issuance.PassInput) (issuance.PassOutput, error) {
	nbf := wholeSecond(in.FaceCheckAt)
	lifetime := min(s.Policy.PassLifetime, credential.MaxPassLifetime)
	exp := nbf.Add(lifetime)
	// The certificate's expiry is rounded down so that the pass can never
	// outlive it by a fraction of a second.
	if certExp := wholeSecond(in.CertExpiry); certExp.Before(exp) {
		exp = certExp
	}
	if !exp.After(nbf) {
		return issuance.PassOutput{}, problem.New(problem.ValidationFailed, "the certificate has expired; apply for a new one")
	}
	var certID [16]byte
	if n, err := hex.Decode(certID[:], []byte(in.CertificateID)); err != nil || n != len(certID) {
		return issuance.PassOutput{}, errors.New("keys: certificate id is not 32 hex digits")
	}
	if len(in.DeviceKey) != 33 {
		return issuance.PassOutput{}, errors.New("keys: device key is not 33 bytes")
	}
	budget := maxMaskedBytes - len(in.IDMasked)
	if budget < utf8.UTFMax {
		return issuance.PassOutput{}, errors.New("keys: masked ID number too long for the QR bound")
	}
	signer, err := s.Signer(nbf)
	if errors.Is(err, ErrNoKey) {
		// Another node may have written keys this one has not loaded yet.
		if err = s.reload(ctx); err == nil {
			signer, err = s.Signer(nbf)
		}
	}
	if err != nil {
		return issuance.PassOutput{}, err
	}
	body := credential.Body{
		IssuerKID:  signer.KID,
		CertID:     certID,
		CertExpiry: wholeSecond(in.CertExpiry),
		NotBefore:  nbf,
		NotAfter:   exp,
		Purpose:    credential.PurposeRailway,
		NameMasked: fitName(in.NameMasked, budget),
		IDMasked:   in.IDMasked,
		DeviceKey:  [33]byte(in.DeviceKey),
	}
	seal, ok := s.sealKeyAt(s.Clock.Now())
	if !ok {
		return issuance.PassOutput{}, errors.New("keys: no seal key for the current time")
	}
	sealed, err := credential.SealID(seal.key, seal.row.KID, certID, in.IDNumber.String(), rand.Reader)
	if err != nil {
		return issuance.PassOutput{}, err
	}
	body.Sealed = &sealed
	raw, err := credential.SignPass(body, signer.Key)
	if err != nil {
		return issuance.PassOutput{}, err
	}
	return issuance.PassOutput{Bytes: raw, NotBefore: nbf, NotAfter: exp, IssuerKID: hex.EncodeToString(signer.KID[:])}, nil
}
