package issuance

import (
	"context"
	"errors"

	"tempid/internal/idnumber"
	"tempid/internal/problem"
	"tempid/internal/store"
)

// PassRequest asks for a new pass of an issued certificate: what the phone
// needs every 30 minutes, after a face check with purpose view (R3).
type PassRequest struct {
	Actor         store.Actor
	AccountID     string
	SessionID     string
	CertificateID string
	FaceCheckID   string
}

// NewPass makes a pass for an active certificate of the account after a
// passed view check of that certificate, and records it. The check is
// consumed in the transaction that records the pass, so one check yields
// one pass; the pass names the session so that logging out revokes its
// device key (R4).
func (s *Service) NewPass(ctx context.Context, r PassRequest) (PassOutput, error) {
	if s.Passes == nil {
		return PassOutput{}, errors.New("issuance: no pass maker configured")
	}
	if r.FaceCheckID == "" {
		return PassOutput{}, problem.New(problem.ValidationFailed, "face_check_id: required")
	}
	now := s.Clock.Now()
	c, err := s.Store.Certificate(ctx, r.CertificateID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && c.AccountID != r.AccountID) {
		return PassOutput{}, problem.New(problem.NotFound, "no such certificate")
	}
	if err != nil {
		return PassOutput{}, err
	}
	if st := c.StatusAt(now); st != store.StatusActive {
		return PassOutput{}, problem.New(problem.ValidationFailed, "the certificate is %s and cannot be shown", st)
	}
	fc, err := s.Store.FaceCheck(ctx, r.FaceCheckID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && fc.AccountID != r.AccountID) {
		return PassOutput{}, problem.New(problem.NotFound, "no such face check")
	}
	if err != nil {
		return PassOutput{}, err
	}
	if fc.Status != store.FacePassed {
		// The transaction would refuse it too, but the pass is made first
		// and needs the time the check passed.
		return PassOutput{}, problem.New(problem.FaceCheckNotPassed, "the face check has not passed")
	}
	id, err := s.OpenIDNumber(c)
	if err != nil {
		return PassOutput{}, err
	}
	out, err := s.Passes.MakePass(ctx, PassInput{
		CertificateID: c.ID, CertExpiry: c.ExpiresAt, FaceCheckAt: fc.CompletedAt,
		NameMasked: c.NameMasked, IDMasked: c.IDMasked, IDNumber: idnumber.Number(id), DeviceKey: fc.DeviceKey,
	})
	if err != nil {
		return PassOutput{}, err
	}
	err = s.Store.IssuePass(ctx, r.Actor, store.FaceCheckUse{
		ID: r.FaceCheckID, AccountID: r.AccountID, Purpose: store.PurposeView, CertificateID: c.ID,
		Now: now, Window: s.Policy.FaceCheckUseWindow,
	}, store.Pass{
		ID: store.NewID(), CertificateID: c.ID, FaceCheckID: r.FaceCheckID, SessionID: r.SessionID,
		DeviceKeyHash: fc.DeviceKeyHash, IssuerKID: out.IssuerKID, NotBefore: out.NotBefore, NotAfter: out.NotAfter, IssuedAt: now,
	})
	if err != nil {
		return PassOutput{}, err
	}
	return out, nil
}
