package httpapi

import (
	"net/http"

	"tempid/internal/httpapi/apiv1"
	"tempid/internal/issuance"
	"tempid/internal/store"
)

// The guest routes (API.md "Guest"): a passenger without an account
// applies for and shows a certificate through the same services as the
// logged-in routes, as the guest account (store.GuestAccountID). A guest
// has no session, so no cookie is set and no CSRF token asked; the face
// check's id is the capability, and foreign origins are refused as for
// every state-changing request.

// guestPrincipal is who every guest request is made by.
var guestPrincipal = principal{account: store.Account{ID: store.GuestAccountID}}

func (s *Server) startGuestFaceCheck(w http.ResponseWriter, r *http.Request, p principal) error {
	var in apiv1.FaceCheckRequest
	if err := decode(w, r, &in); err != nil {
		return err
	}
	return s.beginFaceCheck(w, r, p, in, "/api/v1/guest/face-checks/")
}

func (s *Server) applyGuestCertificate(w http.ResponseWriter, r *http.Request, p principal) error {
	var in apiv1.ApplyRequest
	body, err := decodeRaw(w, r, &in)
	if err != nil {
		return err
	}
	// A guest's Idempotency-Key is scoped to the face check the body names
	// (API.md): the check is the guest's capability.
	return s.apply(w, r, "guest:"+in.FaceCheckID, body, issuance.Application{
		Actor: store.Guest, AccountID: store.GuestAccountID, FaceCheckID: in.FaceCheckID,
		Name: in.Name, IDNumber: in.IDNumber, CityCode: in.CityCode,
	})
}

func (s *Server) newGuestPass(w http.ResponseWriter, r *http.Request, p principal) error {
	var in apiv1.PassRequest
	if err := decode(w, r, &in); err != nil {
		return err
	}
	c, out, err := s.Issuance.GuestPass(r.Context(), in.FaceCheckID)
	if err != nil {
		return err
	}
	if s.Metrics != nil {
		s.Metrics.PassesIssued.Inc()
	}
	writeJSON(w, http.StatusCreated, apiv1.GuestPassResponse{Certificate: s.certificate(c), Pass: pass(&out, s.Policy.StepDuration)})
	return nil
}

func (s *Server) guestCertificateStatus(w http.ResponseWriter, r *http.Request, p principal) error {
	var in apiv1.CertificateStatusRequest
	if err := decode(w, r, &in); err != nil {
		return err
	}
	c, err := s.Verifications.CertificateOfCode(r.Context(), in.Code)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, apiv1.CertificateStatusResponse{Certificate: apiv1.CertificateStatus{
		ID: c.ID, Status: c.StatusAt(s.Clock.Now()), ExpiresAt: c.ExpiresAt,
	}})
	return nil
}
