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
	return s.beginFaceCheck(w, r, p, in, "/api/v1/face-checks/")
}

// beginFaceCheck starts a check for an account or a guest; its capture
// URL is under base.
func (s *Server) beginFaceCheck(w http.ResponseWriter, r *http.Request, p principal, in apiv1.FaceCheckRequest, base string) error {
	st := facecheck.Start{AccountID: p.account.ID, SessionID: p.session.ID, Purpose: in.Purpose,
		CertificateID: in.CertificateID, DeviceKeyJWK: in.DeviceKey, Consent: in.Consent, ClientIP: clientIP(r)}
	if p.account.ID != store.GuestAccountID {
		// SPEC "Early refusal": an account hears R5 and R2 for the persons
		// it knows before any face goes to the provider.
		st.Early, st.AccountIDIndex = true, p.account.IDIndex
	}
	if in.Subject != nil {
		st.Name, st.IDNumber = in.Subject.Name, in.Subject.IDNumber
	} else if in.Purpose == store.PurposeApply || (p.account.ID == store.GuestAccountID && in.Purpose == store.PurposeView) {
		return problem.New(problem.ValidationFailed, "subject: required for purpose %s", in.Purpose)
	}
	f, err := s.FaceChecks.Begin(r.Context(), st)
	if err != nil {
		return err
	}
	out := apiv1.FaceCheck{ID: f.ID, Status: f.Status, Provider: f.Provider, Purpose: f.Purpose, ExpiresAt: f.ExpiresAt}
	if f.RedirectURL != "" {
		// Hosted: the passenger goes to the provider's page, comes back to
		// the app's /face-return, and the app asks complete_url.
		out.RedirectURL, out.CompleteURL = f.RedirectURL, base+f.ID+"/complete"
	} else {
		out.CaptureURL = base + f.ID + "/capture"
	}
	writeJSON(w, http.StatusCreated, apiv1.FaceCheckResponse{FaceCheck: out})
	return nil
}

// completeFaceCheck asks a hosted provider for the result of the check the
// passenger did on its page.
func (s *Server) completeFaceCheck(w http.ResponseWriter, r *http.Request, p principal) error {
	f, err := s.FaceChecks.Complete(r.Context(), p.account.ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	s.faceCheckResult(w, f)
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
	s.faceCheckResult(w, f)
	return nil
}

// faceCheckResult answers a completed face check.
func (s *Server) faceCheckResult(w http.ResponseWriter, f store.FaceCheck) {
	if s.Metrics != nil {
		s.Metrics.FaceChecks.WithLabelValues(f.Status, f.Reason).Inc()
	}
	writeJSON(w, http.StatusOK, apiv1.FaceCheckResponse{FaceCheck: apiv1.FaceCheck{ID: f.ID, Status: f.Status, Reason: f.Reason}})
}
