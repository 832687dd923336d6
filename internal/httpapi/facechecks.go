package httpapi

import (
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
	st := facecheck.Start{AccountID: p.account.ID, SessionID: p.session.ID, Purpose: in.Purpose,
		CertificateID: in.CertificateID, DeviceKeyJWK: in.DeviceKey, Consent: in.Consent}
	if in.Subject != nil {
		st.Name, st.IDNumber = in.Subject.Name, in.Subject.IDNumber
	} else if in.Purpose == store.PurposeApply {
		return problem.New(problem.ValidationFailed, "subject: required for purpose apply")
	}
	f, err := s.FaceChecks.Begin(r.Context(), st)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, apiv1.FaceCheckResponse{FaceCheck: apiv1.FaceCheck{
		ID: f.ID, Status: f.Status, Provider: f.Provider, Purpose: f.Purpose,
		CaptureURL: "/api/v1/face-checks/" + f.ID + "/capture", ExpiresAt: f.ExpiresAt,
	}})
	return nil
}

func (s *Server) captureFaceCheck(w http.ResponseWriter, r *http.Request, p principal) error {
	mt, body, err := readTyped(w, r, maxCaptureBody, "image/jpeg", "image/png")
	if err != nil {
		return err
	}
	if len(body) == 0 {
		return problem.New(problem.ValidationFailed, "the capture is empty: send the image/jpeg or image/png")
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
