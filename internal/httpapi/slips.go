package httpapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"tempid/internal/face"
	"tempid/internal/facecheck"
	"tempid/internal/httpapi/apiv1"
	"tempid/internal/issuance"
	"tempid/internal/problem"
	"tempid/internal/registry"
	"tempid/internal/store"
)

// kioskReprintWindow is how long after issuing a kiosk may print its slip
// again (a jammed printer); after that the person has left the machine.
const kioskReprintWindow = 10 * time.Minute

// slipLookup is the first step at the manual window: the registry confirms
// the name and ID number and, where it has one, shows its reference photo.
// The photo goes to the officer's screen only; the step is audited with the
// officer, the masked identity and whether a photo was shown.
func (s *Server) slipLookup(w http.ResponseWriter, r *http.Request, p principal) error {
	var in apiv1.SlipLookupRequest
	if err := decode(w, r, &in); err != nil {
		return err
	}
	subj, err := s.Issuance.ParseSubject(in.Name, in.IDNumber)
	if err != nil {
		return err
	}
	out := apiv1.SlipLookup{Confirmed: true}
	if err := registry.Confirmed(r.Context(), s.Registry, subj.Name, subj.IDNumber); err != nil {
		if !problem.Is(err, problem.IdentityMismatch) {
			return err
		}
		out.Confirmed = false
	}
	if out.Confirmed {
		photo, err := registry.PhotoOf(r.Context(), s.Registry, subj.Name, subj.IDNumber)
		if err != nil {
			return errors.Join(problem.New(problem.Unavailable, "the identity registry is unavailable; try again"), err)
		}
		out.Photo = photo
	}
	if err := s.Store.RecordAudit(r.Context(), p.actor(), "slip.lookup", "holder:"+subj.IDNumber.Masked(), map[string]any{
		"station": p.account.StationCode, "id_number": subj.IDNumber.Masked(), "confirmed": out.Confirmed, "photo_shown": out.Photo != "",
	}, s.Clock.Now()); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// issueSlip is the window's issuance: the registry confirms the pair again
// (a registry that is down issues nothing: 503), then the slip is issued
// with the officer's method.
func (s *Server) issueSlip(w http.ResponseWriter, r *http.Request, p principal) error {
	var in apiv1.SlipRequest
	body, err := decodeRaw(w, r, &in)
	if err != nil {
		return err
	}
	return s.idempotent(w, r, "account:"+p.account.ID, body, func(ctx context.Context) (any, error) {
		subj, err := s.Issuance.ParseSubject(in.Name, in.IDNumber)
		if err != nil {
			return nil, err
		}
		if err := registry.Confirmed(ctx, s.Registry, subj.Name, subj.IDNumber); err != nil {
			return nil, err
		}
		return s.slipIssued(s.Issuance.IssueSlip(ctx, issuance.SlipApplication{
			Actor: p.actor(), Channel: store.ChannelWindow, StationCode: p.account.StationCode,
			IssuedBy: p.account.ID, AccountID: p.account.ID, Name: in.Name, IDNumber: in.IDNumber,
			Method: in.Method, DocumentType: in.DocumentType, Note: in.Note, CityCode: in.CityCode,
			SupersedeReason: in.SupersedeReason,
		}))
	}, s.slipPrint(http.StatusCreated))
}

// slipIssued counts an issued slip.
func (s *Server) slipIssued(res issuance.SlipResult, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	if s.Metrics != nil {
		s.Metrics.Issued.Inc()
	}
	return res, nil
}

// slipPrint renders a slip with its holder's full identity, for the
// print page: the answer to an issue (what a retry with the same
// Idempotency-Key gets again) and to a reprint.
func (s *Server) slipPrint(status int) func(result any) (int, any) {
	return func(result any) (int, any) {
		res := result.(issuance.SlipResult)
		return status, apiv1.Slip{
			Certificate: s.certificate(res.Certificate), Slip: res.Slip,
			Holder: apiv1.SlipHolder{Name: res.Name, IDNumber: res.IDNumber.String()},
		}
	}
}

func (s *Server) writeSlip(w http.ResponseWriter, status int, res issuance.SlipResult) {
	status, out := s.slipPrint(status)(res)
	writeJSON(w, status, out)
}

// reprintSlip returns a stored slip again: to an officer of the issuing
// station, or to the issuing kiosk within kioskReprintWindow. Anyone else
// is told there is no such slip.
func (s *Server) reprintSlip(w http.ResponseWriter, r *http.Request, p principal) error {
	notFound := problem.New(problem.NotFound, "no such slip")
	res, err := s.Issuance.Reprint(r.Context(), r.PathValue("certificate_id"))
	if errors.Is(err, store.ErrNotFound) {
		return notFound
	}
	if err != nil {
		return err
	}
	c := res.Certificate
	switch {
	case p.terminal != nil:
		if p.terminal.Kind != store.TerminalKiosk || c.IssuedBy != p.terminal.ID || s.Clock.Now().Sub(c.IssuedAt) > kioskReprintWindow {
			return notFound
		}
	case p.account.Role == store.RoleOfficer:
		if c.Channel != store.ChannelWindow || c.StationCode != p.account.StationCode {
			return notFound
		}
	default:
		return problem.New(problem.Forbidden, "for railway officers and kiosks only")
	}
	if err := s.Store.RecordAudit(r.Context(), p.actor(), "slip.reprint", "certificate:"+c.ID, map[string]any{
		"station": c.StationCode, "channel": c.Channel,
	}, s.Clock.Now()); err != nil {
		return err
	}
	s.writeSlip(w, http.StatusOK, res)
	return nil
}

// kioskSession is the face check's session of a kiosk: the terminal.
func kioskSession(p principal) string { return "terminal:" + p.terminal.ID }

func (s *Server) startKioskFaceCheck(w http.ResponseWriter, r *http.Request, p principal) error {
	var in apiv1.KioskFaceCheckRequest
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if in.Purpose != store.PurposeApply {
		return problem.New(problem.ValidationFailed, "purpose: apply")
	}
	if in.Subject == nil {
		return problem.New(problem.ValidationFailed, "subject: required")
	}
	f, err := s.FaceChecks.Begin(r.Context(), facecheck.Start{
		AccountID: store.KioskAccountID, SessionID: kioskSession(p), Purpose: in.Purpose,
		Name: in.Subject.Name, IDNumber: in.Subject.IDNumber, Consent: in.Consent, NoDevice: true, Actor: p.actor(),
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, apiv1.FaceCheckResponse{FaceCheck: apiv1.FaceCheck{
		ID: f.ID, Status: f.Status, Provider: f.Provider, Purpose: f.Purpose,
		CaptureURL: "/api/v1/kiosk/face-checks/" + f.ID + "/capture", ExpiresAt: f.ExpiresAt,
	}})
	return nil
}

func (s *Server) captureKioskFaceCheck(w http.ResponseWriter, r *http.Request, p principal) error {
	mt, body, err := readTyped(w, r, maxCaptureBody, "image/jpeg", "image/png")
	if err != nil {
		return err
	}
	defer clear(body)
	if len(body) == 0 {
		return problem.New(problem.ValidationFailed, "the capture is empty: send the image/jpeg or image/png")
	}
	// A kiosk completes only its own checks.
	f, err := s.Store.FaceCheck(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) || (err == nil && f.SessionID != kioskSession(p)) {
		return problem.New(problem.NotFound, "no such face check")
	}
	if err != nil {
		return err
	}
	f, err = s.FaceChecks.Capture(r.Context(), store.KioskAccountID, f.ID, face.Capture{ContentType: mt, Data: body})
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

func (s *Server) issueKioskSlip(w http.ResponseWriter, r *http.Request, p principal) error {
	var in apiv1.KioskSlipRequest
	body, err := decodeRaw(w, r, &in)
	if err != nil {
		return err
	}
	return s.idempotent(w, r, "terminal:"+p.terminal.ID, body, func(ctx context.Context) (any, error) {
		f, err := s.Store.FaceCheck(ctx, in.FaceCheckID)
		if errors.Is(err, store.ErrNotFound) || (err == nil && f.SessionID != kioskSession(p)) {
			return nil, problem.New(problem.NotFound, "no such face check")
		}
		if err != nil {
			return nil, err
		}
		return s.slipIssued(s.Issuance.IssueSlip(ctx, issuance.SlipApplication{
			Actor: p.actor(), Channel: store.ChannelKiosk, StationCode: p.terminal.StationCode,
			IssuedBy: p.terminal.ID, AccountID: store.KioskAccountID, Name: in.Name, IDNumber: in.IDNumber,
			CityCode: in.CityCode, FaceCheckID: in.FaceCheckID,
		}))
	}, s.slipPrint(http.StatusCreated))
}
