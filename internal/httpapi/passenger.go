package httpapi

import (
	"encoding/json"
	"errors"
	"mime"
	"net"
	"net/http"
	"strconv"
	"time"

	"tempid/internal/accounts"
	"tempid/internal/face"
	"tempid/internal/facecheck"
	"tempid/internal/issuance"
	"tempid/internal/problem"
	"tempid/internal/store"
)

func (s *Server) routes(mux *http.ServeMux) {
	s.route(mux, "POST /api/v1/accounts", public, s.signUp)
	s.route(mux, "POST /api/v1/session", public, s.login)
	s.route(mux, "GET /api/v1/session", passenger, s.getSession)
	s.route(mux, "DELETE /api/v1/session", passenger, s.logout)
	s.route(mux, "GET /api/v1/regions/locate", public, s.locate)
	s.route(mux, "GET /api/v1/regions/cities", public, s.cities)
	s.route(mux, "POST /api/v1/face-checks", passenger, s.startFaceCheck)
	s.route(mux, "POST /api/v1/face-checks/{id}/capture", passenger, s.captureFaceCheck)
	s.route(mux, "POST /api/v1/certificates", passenger, s.applyCertificate)
	s.route(mux, "GET /api/v1/certificates", passenger, s.listCertificates)
	s.route(mux, "GET /api/v1/certificates/{id}", passenger, s.getCertificate)
	s.route(mux, "GET /api/v1/quota", passenger, s.getQuota)
	s.route(mux, "GET /api/v1/verifier", staffOrTerminal, s.getVerifier)
	s.adminRoutes(mux)
	s.staffRoutes(mux)
	s.terminalRoutes(mux)
}

// accountJSON is an account as its owner sees it: a passenger's own full
// name and ID number are included, to pre-fill applications.
func (s *Server) accountJSON(a store.Account, withIdentity bool) map[string]any {
	out := map[string]any{
		"id": a.ID, "username": a.Username, "role": a.Role, "created_at": a.CreatedAt,
	}
	if a.StationCode != "" {
		out["station_code"] = a.StationCode
	}
	if a.Role == store.RolePassenger {
		out["name_masked"], out["id_number_masked"] = a.NameMasked, a.IDMasked
		if withIdentity {
			if name, id, err := s.Accounts.Identity(a); err == nil {
				out["name"], out["id_number"] = name, id
			}
		}
	}
	return out
}

func (s *Server) signUp(w http.ResponseWriter, r *http.Request, _ principal) error {
	var in struct {
		Username string `json:"username"`
		Password string `json:"password"`
		Name     string `json:"name"`
		IDNumber string `json:"id_number"`
		Phone    string `json:"phone"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	a, err := s.Accounts.SignUp(r.Context(), accounts.SignUp{Username: in.Username, Password: in.Password, Name: in.Name, IDNumber: in.IDNumber, Phone: in.Phone})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"account": s.accountJSON(a, false)})
	return nil
}

// clientIP is the peer address of the request. tempid does not trust
// X-Forwarded-For: a proxy in front must be configured to pass the peer.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (s *Server) login(w http.ResponseWriter, r *http.Request, _ principal) error {
	var in struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	li, err := s.Accounts.Login(r.Context(), in.Username, in.Password, clientIP(r))
	if err != nil {
		return err
	}
	// Rotation: a session this browser had before the login ends now, so
	// a token planted before login is worth nothing after it.
	for _, name := range []string{sessionCookie, demoSessionCookie} {
		if c, err := r.Cookie(name); err == nil {
			if old, _, err := s.Accounts.Authenticate(r.Context(), c.Value); err == nil {
				if err := s.Accounts.Logout(r.Context(), old); err != nil {
					return err
				}
			}
		}
	}
	s.setSession(w, r, li.Token, li.Session.ExpiresAt)
	writeJSON(w, http.StatusOK, map[string]any{"account": s.accountJSON(li.Account, true), "csrf_token": li.Session.CSRFToken})
	return nil
}

func (s *Server) getSession(w http.ResponseWriter, r *http.Request, p principal) error {
	writeJSON(w, http.StatusOK, map[string]any{
		"account": s.accountJSON(p.account, true), "csrf_token": p.session.CSRFToken, "expires_at": p.session.ExpiresAt,
	})
	return nil
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, p principal) error {
	if err := s.Accounts.Logout(r.Context(), p.session); err != nil {
		return err
	}
	s.setSession(w, r, "", time.Time{})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) locate(w http.ResponseWriter, r *http.Request, _ principal) error {
	lat, err1 := strconv.ParseFloat(r.URL.Query().Get("lat"), 64)
	lon, err2 := strconv.ParseFloat(r.URL.Query().Get("lon"), 64)
	if err1 != nil || err2 != nil || lat < -90 || lat > 90 || lon < -180 || lon > 180 {
		return problem.New(problem.ValidationFailed, "lat and lon: a WGS-84 position in degrees")
	}
	var city any
	if c, ok := s.Cities.Locate(lat, lon); ok {
		city = c
	}
	writeJSON(w, http.StatusOK, map[string]any{"city": city})
	return nil
}

func (s *Server) cities(w http.ResponseWriter, r *http.Request, _ principal) error {
	w.Header().Set("Cache-Control", "public, max-age=86400")
	writeJSON(w, http.StatusOK, map[string]any{"cities": s.Cities.Cities()})
	return nil
}

func (s *Server) startFaceCheck(w http.ResponseWriter, r *http.Request, p principal) error {
	var in struct {
		Purpose string `json:"purpose"`
		Subject *struct {
			Name     string `json:"name"`
			IDNumber string `json:"id_number"`
		} `json:"subject"`
		CertificateID string          `json:"certificate_id"`
		DeviceKey     json.RawMessage `json:"device_key"`
		Consent       bool            `json:"consent"`
	}
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
	writeJSON(w, http.StatusCreated, map[string]any{"face_check": map[string]any{
		"id": f.ID, "status": f.Status, "provider": f.Provider, "purpose": f.Purpose,
		"capture_url": "/api/v1/face-checks/" + f.ID + "/capture", "expires_at": f.ExpiresAt,
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
	out := map[string]any{"id": f.ID, "status": f.Status}
	if f.Reason != "" {
		out["reason"] = f.Reason
	}
	writeJSON(w, http.StatusOK, map[string]any{"face_check": out})
	return nil
}

// certificateJSON renders a certificate with masked data only.
func (s *Server) certificateJSON(c store.Certificate) map[string]any {
	city := map[string]any{"code": c.CityCode, "name": ""}
	if s.Cities != nil {
		if ct, ok := s.Cities.City(c.CityCode); ok {
			city["name"] = ct.Name
		}
	}
	return map[string]any{
		"id":           c.ID,
		"status":       c.StatusAt(s.Clock.Now()),
		"holder":       map[string]any{"name_masked": c.NameMasked, "id_number_masked": c.IDMasked},
		"city":         city,
		"issued_at":    c.IssuedAt,
		"expires_at":   c.ExpiresAt,
		"renewable_at": s.Issuance.RenewableAt(c),
	}
}

func passJSON(p *issuance.PassOutput, step time.Duration) map[string]any {
	return map[string]any{
		"pass": b64url(p.Bytes), "not_before": p.NotBefore, "not_after": p.NotAfter, "step_seconds": int(step / time.Second),
	}
}

func (s *Server) applyCertificate(w http.ResponseWriter, r *http.Request, p principal) error {
	var in struct {
		FaceCheckID string `json:"face_check_id"`
		Name        string `json:"name"`
		IDNumber    string `json:"id_number"`
		CityCode    string `json:"city_code"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	res, err := s.Issuance.Apply(r.Context(), issuance.Application{
		Actor: p.actor(), AccountID: p.account.ID, SessionID: p.session.ID, FaceCheckID: in.FaceCheckID,
		Name: in.Name, IDNumber: in.IDNumber, CityCode: in.CityCode,
	})
	if err != nil {
		return err
	}
	if s.Metrics != nil {
		s.Metrics.Issued.Inc()
		if res.Pass != nil {
			s.Metrics.PassesIssued.Inc()
		}
	}
	out := map[string]any{"certificate": s.certificateJSON(res.Certificate), "quota": res.Quota}
	if res.Pass != nil {
		out["pass"] = passJSON(res.Pass, s.Policy.StepDuration)
	}
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (s *Server) listCertificates(w http.ResponseWriter, r *http.Request, p principal) error {
	m := s.Policy.MonthOf(s.Clock.Now())
	if v := r.URL.Query().Get("month"); v != "" {
		var err error
		if m, err = s.Policy.ParseMonth(v); err != nil {
			return problem.New(problem.ValidationFailed, "month: YYYY-MM")
		}
	}
	certs, err := s.Issuance.History(r.Context(), p.account.ID, m)
	if err != nil {
		return err
	}
	list := make([]map[string]any, 0, len(certs))
	for _, c := range certs {
		list = append(list, s.certificateJSON(c))
	}
	writeJSON(w, http.StatusOK, map[string]any{"month": m.String(), "certificates": list})
	return nil
}

// ownCertificate returns a certificate the account applied for; anyone
// else's is not found, so ids cannot be probed.
func (s *Server) ownCertificate(r *http.Request, p principal) (store.Certificate, error) {
	c, err := s.Store.Certificate(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) || (err == nil && c.AccountID != p.account.ID) {
		return c, problem.New(problem.NotFound, "no such certificate")
	}
	return c, err
}

func (s *Server) getCertificate(w http.ResponseWriter, r *http.Request, p principal) error {
	c, err := s.ownCertificate(r, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"certificate": s.certificateJSON(c)})
	return nil
}

func (s *Server) getQuota(w http.ResponseWriter, r *http.Request, p principal) error {
	id := r.URL.Query().Get("id_number")
	var q issuance.Quota
	if id == "" {
		if p.account.IDIndex == nil {
			return problem.New(problem.NotFound, "this account has no identity of its own")
		}
		_, own, err := s.Accounts.Identity(p.account)
		if err != nil {
			return err
		}
		id = own
	}
	subj, err := s.Issuance.ParseSubject("-", id)
	if err != nil {
		return err
	}
	holder := s.Issuance.HolderIndex(subj.IDNumber)
	if string(holder) != string(p.account.IDIndex) {
		applied, err := s.Store.AccountAppliedFor(r.Context(), p.account.ID, holder)
		if err != nil {
			return err
		}
		if !applied {
			return problem.New(problem.NotFound, "no quota to show for this person")
		}
	}
	if q, err = s.Issuance.QuotaOf(r.Context(), subj.IDNumber); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"quota": q})
	return nil
}

// getVerifier tells a staff member or terminal who the server takes it
// for, so a terminal can check its API key.
func (s *Server) getVerifier(w http.ResponseWriter, r *http.Request, p principal) error {
	if p.terminal != nil {
		writeJSON(w, http.StatusOK, map[string]any{"terminal": terminalJSON(*p.terminal)})
		return nil
	}
	writeJSON(w, http.StatusOK, map[string]any{"account": s.accountJSON(p.account, false)})
	return nil
}
