package keys

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"

	"tempid/internal/credential"
	"tempid/internal/issuance"
)

var _ issuance.SlipMaker = (*Service)(nil)

// maxSlipMaskedName is the room for the masked name on a slip: the same
// 32 bytes a pass allows (CREDENTIAL.md), so a slip's QR stays smaller than
// a phone's.
const maxSlipMaskedName = 32

// MakeSlip signs a slip: the key whose window contains IssuedAt signs, and
// the full ID number is sealed under the current seal key, as in a pass.
func (s *Service) MakeSlip(ctx context.Context, in issuance.SlipInput) (string, error) {
	issued := wholeSecond(in.IssuedAt)
	exp := wholeSecond(in.CertExpiry)
	var certID [16]byte
	if n, err := hex.Decode(certID[:], []byte(in.CertificateID)); err != nil || n != len(certID) {
		return "", errors.New("keys: certificate id is not 32 hex digits")
	}
	signer, err := s.Signer(issued)
	if errors.Is(err, ErrNoKey) {
		if err = s.reload(ctx); err == nil {
			signer, err = s.Signer(issued)
		}
	}
	if err != nil {
		return "", err
	}
	body := credential.SlipBody{
		IssuerKID:  signer.KID,
		CertID:     certID,
		IssuedAt:   issued,
		CertExpiry: exp,
		Purpose:    credential.PurposeRailway,
		Channel:    in.Channel,
		Station:    in.Station,
		NameMasked: fitName(in.NameMasked, maxSlipMaskedName),
		IDMasked:   in.IDMasked,
	}
	seal, ok := s.sealKeyAt(s.Clock.Now())
	if !ok {
		return "", errors.New("keys: no seal key for the current time")
	}
	sealed, err := credential.SealID(seal.key, seal.row.KID, certID, in.IDNumber.String(), rand.Reader)
	if err != nil {
		return "", err
	}
	body.Sealed = &sealed
	return credential.SignSlip(body, signer.Key)
}
