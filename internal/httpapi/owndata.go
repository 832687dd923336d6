package httpapi

import (
	"encoding/hex"
	"net/http"
	"time"

	"tempid/internal/accounts"
	"tempid/internal/httpapi/apiv1"
	"tempid/internal/store"
)

// A passenger's own data: saved travellers, the data download, the
// withdrawal of the face-recognition consent and the account's deletion.

// traveller renders a saved traveller for the account that saved it.
func (s *Server) traveller(tr store.Traveller) (apiv1.Traveller, error) {
	name, err := s.Accounts.TravellerName(tr)
	if err != nil {
		return apiv1.Traveller{}, err
	}
	return apiv1.Traveller{ID: tr.ID, Name: name, NameMasked: tr.NameMasked, IDNumberMasked: tr.IDMasked, CreatedAt: tr.CreatedAt}, nil
}

func (s *Server) listTravellers(w http.ResponseWriter, r *http.Request, p principal) error {
	list, err := s.Accounts.Travellers(r.Context(), p.account)
	if err != nil {
		return err
	}
	out := apiv1.Travellers{Limit: accounts.MaxTravellers, Travellers: []apiv1.Traveller{}}
	for _, tr := range list {
		t, err := s.traveller(tr)
		if err != nil {
			return err
		}
		out.Travellers = append(out.Travellers, t)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// addTraveller saves a traveller: 201 when new, 200 with the saved one
// when the account had saved that person already.
func (s *Server) addTraveller(w http.ResponseWriter, r *http.Request, p principal) error {
	var in apiv1.TravellerRequest
	if err := decode(w, r, &in); err != nil {
		return err
	}
	tr, added, err := s.Accounts.AddTraveller(r.Context(), p.account, in.Name, in.IDNumber)
	if err != nil {
		return err
	}
	out, err := s.traveller(tr)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if added {
		status = http.StatusCreated
	}
	writeJSON(w, status, apiv1.TravellerResponse{Traveller: out})
	return nil
}

// getTraveller answers one saved traveller with the full ID number, to
// fill an application for them.
func (s *Server) getTraveller(w http.ResponseWriter, r *http.Request, p principal) error {
	tr, name, idNumber, err := s.Accounts.Traveller(r.Context(), p.account, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, apiv1.TravellerResponse{Traveller: apiv1.Traveller{ID: tr.ID, Name: name, NameMasked: tr.NameMasked,
		IDNumber: idNumber, IDNumberMasked: tr.IDMasked, CreatedAt: tr.CreatedAt}})
	return nil
}

func (s *Server) removeTraveller(w http.ResponseWriter, r *http.Request, p principal) error {
	if err := s.Accounts.RemoveTraveller(r.Context(), p.account, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// ownDataFile is the name a browser saves the data download under.
const ownDataFile = "tempid-my-data.json"

// getOwnData answers what tempid holds about the passenger, masked; with
// ?download=1 as a file to save.
func (s *Server) getOwnData(w http.ResponseWriter, r *http.Request, p principal) error {
	d, err := s.Accounts.DataOf(r.Context(), p.account)
	if err != nil {
		return err
	}
	a := d.Account
	out := apiv1.OwnData{
		Account: apiv1.OwnAccount{ID: a.ID, Username: a.Username, Role: a.Role, NameMasked: a.NameMasked, IDNumberMasked: a.IDMasked,
			PhoneMasked: d.PhoneMasked, CreatedAt: a.CreatedAt},
		Certificates: []apiv1.Certificate{}, CertificatesHeld: []apiv1.Certificate{}, Consents: []apiv1.Consent{}, Devices: []apiv1.Device{},
		FaceChecks: []apiv1.FaceCheckRecord{}, Sessions: []apiv1.SessionRecord{}, Travellers: []apiv1.Traveller{},
		ExportedAt: d.At,
	}
	for _, c := range d.Certificates {
		out.Certificates = append(out.Certificates, s.certificate(c))
	}
	for _, c := range d.HeldCertificates {
		out.CertificatesHeld = append(out.CertificatesHeld, s.certificate(c))
	}
	for _, f := range d.FaceChecks {
		out.FaceChecks = append(out.FaceChecks, apiv1.FaceCheckRecord{ID: f.ID, Purpose: f.Purpose, Result: f.Status, Reason: f.Reason,
			Provider: f.Provider, SubjectName: f.NameMasked, CertificateID: f.CertificateID, ConsentAt: f.ConsentAt,
			CreatedAt: f.CreatedAt, CompletedAt: f.CompletedAt, UsedAt: f.UsedAt})
	}
	for _, c := range d.Consents {
		status := "given"
		if !c.WithdrawnAt.IsZero() {
			status = "withdrawn"
		}
		out.Consents = append(out.Consents, apiv1.Consent{ID: c.ID, Purpose: c.Purpose, Status: status, GivenAt: c.GivenAt, WithdrawnAt: c.WithdrawnAt})
	}
	for _, dv := range d.Devices {
		out.Devices = append(out.Devices, apiv1.Device{KeyHash: hex.EncodeToString(dv.KeyHash), FirstPassAt: dv.FirstPass,
			LastPassAt: dv.LastPass, Passes: dv.Passes, RevokedAt: dv.RevokedAt})
	}
	for _, se := range d.Sessions {
		out.Sessions = append(out.Sessions, apiv1.SessionRecord{ID: se.ID, CreatedAt: se.CreatedAt, ExpiresAt: se.ExpiresAt,
			EndedAt: se.EndedAt, Current: se.ID == p.session.ID})
	}
	for _, tr := range d.Travellers {
		out.Travellers = append(out.Travellers, apiv1.Traveller{ID: tr.ID, NameMasked: tr.NameMasked, IDNumberMasked: tr.IDMasked, CreatedAt: tr.CreatedAt})
	}
	if r.URL.Query().Get("download") == "1" {
		w.Header().Set("Content-Disposition", `attachment; filename="`+ownDataFile+`"`)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) withdrawFaceConsent(w http.ResponseWriter, r *http.Request, p principal) error {
	if err := s.Accounts.WithdrawFaceConsent(r.Context(), p.account); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// deleteOwnAccount deletes the caller's account once the password is
// given again, and clears the session cookie: every session has ended.
func (s *Server) deleteOwnAccount(w http.ResponseWriter, r *http.Request, p principal) error {
	var in apiv1.DeleteAccountRequest
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if err := s.Accounts.DeleteAccount(r.Context(), p.account, in.Password, clientIP(r)); err != nil {
		return err
	}
	s.setSession(w, r, "", time.Time{})
	w.WriteHeader(http.StatusNoContent)
	return nil
}
