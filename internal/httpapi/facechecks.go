package httpapi

import (
	"mime"
	"net/http"

	"tempid/internal/face"
	"tempid/internal/facecheck"
	"tempid/internal/httpapi/apiv1"
	"tempid/internal/problem"
	"tempid/internal/store"
)

func (s *Server) startFaceCheck(w http.ResponseWriter, r *http.Request, p principal) error {
	var in apiv1.FaceCheckRequest
	if err := decode(w, r, &in); err != nil {
		return err
	}
	return s.beginFaceCheck(w, r, p, in, "/api/v1/face-checks/")
}

// beginFaceCheck starts a check for an account or a guest; its capture
// URL is under base.
func (s *Server) beginFaceCheck(w http.ResponseWriter, r *http.Request, p principal, in apiv1.FaceCheckRequest, base string) error {
	st := facecheck.Start{AccountID: p.account.ID, SessionID: p.session.ID, Purpose: in.Purpose,
		CertificateID: in.CertificateID, DeviceKeyJWK: in.DeviceKey, Consent: in.Consent, ClientIP: clientIP(r)}
	if in.Subject != nil {
		st.Name, st.IDNumber = in.Subject.Name, in.Subject.IDNumber
	} else if in.Purpose == store.PurposeApply || (p.account.ID == store.GuestAccountID && in.Purpose == store.PurposeView) {
		return problem.New(problem.ValidationFailed, "subject: required for purpose %s", in.Purpose)
	}
	f, err := s.FaceChecks.Begin(r.Context(), st)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, apiv1.FaceCheckResponse{FaceCheck: apiv1.FaceCheck{
		ID: f.ID, Status: f.Status, Provider: f.Provider, Purpose: f.Purpose,
		CaptureURL: base + f.ID + "/capture", ExpiresAt: f.ExpiresAt,
	}})
	return nil
}

func (s *Server) captureFaceCheck(w http.ResponseWriter, r *http.Request, p principal) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != "image/jpeg" && mt != "image/png") {
		return problem.New(problem.ValidationFailed, "the capture must be image/jpeg or image/png")
	}
	body, err := readBody(w, r, maxCaptureBody)
	if err != nil {
		return err
	}
	f, err := s.FaceChecks.Capture(r.Context(), p.account.ID, r.PathValue("id"), face.Capture{ContentType: mt, Data: body})
	clear(body)
	if err != nil {
		return err
	}
	if s.Metrics != nil {
		s.Metrics.FaceChecks.WithLabelValues(f.Status, f.Reason).Inc()
	}
	writeJSON(w, http.StatusOK, apiv1.FaceCheckResponse{FaceCheck: apiv1.FaceCheck{ID: f.ID, Status: f.Status, Reason: f.Reason}})
	return nil
}
