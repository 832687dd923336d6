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
	return s.issuePass(ctx, r.Actor, c, fc, store.FaceCheckUse{
		ID: r.FaceCheckID, AccountID: r.AccountID, Purpose: store.PurposeView, CertificateID: c.ID,
		Now: now, Window: s.Policy.FaceCheckUseWindow,
	}, r.SessionID)
}

// issuePass makes a pass of c for the device key of the passed check fc,
// and records it in the transaction that consumes the check as use says.
func (s *Service) issuePass(ctx context.Context, actor store.Actor, c store.Certificate, fc store.FaceCheck, use store.FaceCheckUse, sessionID string) (PassOutput, error) {
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
	err = s.Store.IssuePass(ctx, actor, use, store.Pass{
		ID: store.NewID(), CertificateID: c.ID, FaceCheckID: fc.ID, SessionID: sessionID,
		DeviceKeyHash: fc.DeviceKeyHash, IssuerKID: out.IssuerKID, NotBefore: out.NotBefore, NotAfter: out.NotAfter, IssuedAt: use.Now,
	})
	if err != nil {
		return PassOutput{}, err
	}
	return out, nil
}

// GuestPass makes a pass for the active certificate of the person a
// guest's passed view check was made for, on the check's device, whatever
// phone applied for it (SPEC "Guest": a new phone gets the same active
// certificate the same way). Whether the person has a certificate is said
// only after the check is known to be passed, unused, in time and made to
// view: before that, the answer would tell a stranger who holds one.
func (s *Service) GuestPass(ctx context.Context, faceCheckID string) (store.Certificate, PassOutput, error) {
	if s.Passes == nil {
		return store.Certificate{}, PassOutput{}, errors.New("issuance: no pass maker configured")
	}
	if faceCheckID == "" {
		return store.Certificate{}, PassOutput{}, problem.New(problem.ValidationFailed, "face_check_id: required")
	}
	now := s.Clock.Now()
	fc, err := s.Store.FaceCheck(ctx, faceCheckID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && fc.AccountID != store.GuestAccountID) {
		return store.Certificate{}, PassOutput{}, problem.New(problem.NotFound, "no such face check")
	}
	if err != nil {
		return store.Certificate{}, PassOutput{}, err
	}
	use := store.FaceCheckUse{
		ID: fc.ID, AccountID: store.GuestAccountID, Purpose: store.PurposeView, HolderIndex: fc.SubjectIndex,
		Now: now, Window: s.Policy.FaceCheckUseWindow,
	}
	if err := fc.UsableFor(use); err != nil {
		return store.Certificate{}, PassOutput{}, err
	}
	c, err := s.Store.ActiveCertificateOf(ctx, fc.SubjectIndex, now)
	if errors.Is(err, store.ErrNotFound) {
		return store.Certificate{}, PassOutput{}, problem.New(problem.NotFound, "this person has no active certificate; apply for one")
	}
	if err != nil {
		return store.Certificate{}, PassOutput{}, err
	}
	out, err := s.issuePass(ctx, store.Guest, c, fc, use, "")
	return c, out, err
}
