package httpapi

import (
	"errors"
	"mime"
	"net"
	"net/http"
	"strconv"
	"time"

	"tempid/internal/accounts"
	"tempid/internal/face"
	"tempid/internal/facecheck"
	"tempid/internal/httpapi/apiv1"
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
}

// account is an account as the API shows it; withIdentity adds a
// passenger's own full name and ID number, to pre-fill applications.
func (s *Server) account(a store.Account, withIdentity bool) apiv1.Account {
	out := apiv1.Account{ID: a.ID, Username: a.Username, Role: a.Role, CreatedAt: a.CreatedAt, StationCode: a.StationCode}
	if a.Role == store.RolePassenger {
		out.NameMasked, out.IDNumberMasked = a.NameMasked, a.IDMasked
		if withIdentity {
			if name, id, err := s.Accounts.Identity(a); err == nil {
				out.Name, out.IDNumber = name, id
			}
		}
	}
	return out
}

func (s *Server) signUp(w http.ResponseWriter, r *http.Request, _ principal) error {
	var in apiv1.SignUpRequest
	if err := decode(w, r, &in); err != nil {
		return err
	}
	a, err := s.Accounts.SignUp(r.Context(), accounts.SignUp{Username: in.Username, Password: in.Password, Name: in.Name, IDNumber: in.IDNumber, Phone: in.Phone})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, apiv1.AccountResponse{Account: s.account(a, false)})
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
	var in apiv1.LoginRequest
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
	writeJSON(w, http.StatusOK, apiv1.Session{Account: s.account(li.Account, true), CSRFToken: li.Session.CSRFToken})
	return nil
}

func (s *Server) getSession(w http.ResponseWriter, r *http.Request, p principal) error {
	writeJSON(w, http.StatusOK, apiv1.Session{
		Account: s.account(p.account, true), CSRFToken: p.session.CSRFToken, ExpiresAt: p.session.ExpiresAt,
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
	var out apiv1.Located
	if c, ok := s.Cities.Locate(lat, lon); ok {
		out.City = &apiv1.City{Code: c.Code, Name: c.Name, Province: c.Province}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) cities(w http.ResponseWriter, r *http.Request, _ principal) error {
	w.Header().Set("Cache-Control", "public, max-age=86400")
	all := s.Cities.Cities()
	out := apiv1.Cities{Cities: make([]apiv1.City, len(all))}
	for i, c := range all {
		out.Cities[i] = apiv1.City(c)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

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

// certificate renders a certificate with masked data only.
func (s *Server) certificate(c store.Certificate) apiv1.Certificate {
	city := apiv1.CertificateCity{Code: c.CityCode}
	if s.Cities != nil {
		if ct, ok := s.Cities.City(c.CityCode); ok {
			city.Name = ct.Name
		}
	}
	return apiv1.Certificate{
		ID:          c.ID,
		Status:      c.StatusAt(s.Clock.Now()),
		Holder:      apiv1.Holder{NameMasked: c.NameMasked, IDNumberMasked: c.IDMasked},
		City:        city,
		IssuedAt:    c.IssuedAt,
		ExpiresAt:   c.ExpiresAt,
		RenewableAt: s.Issuance.RenewableAt(c),
	}
}

func pass(p *issuance.PassOutput, step time.Duration) apiv1.Pass {
	return apiv1.Pass{Pass: b64url(p.Bytes), NotBefore: p.NotBefore, NotAfter: p.NotAfter, StepSeconds: int(step / time.Second)}
}

func quota(q issuance.Quota) apiv1.Quota { return apiv1.Quota(q) }

func (s *Server) applyCertificate(w http.ResponseWriter, r *http.Request, p principal) error {
	var in apiv1.ApplyRequest
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
	out := apiv1.Applied{Certificate: s.certificate(res.Certificate), Quota: quota(res.Quota)}
	if res.Pass != nil {
		p := pass(res.Pass, s.Policy.StepDuration)
		out.Pass = &p
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
	out := apiv1.Certificates{Month: m.String(), Certificates: make([]apiv1.Certificate, 0, len(certs))}
	for _, c := range certs {
		out.Certificates = append(out.Certificates, s.certificate(c))
	}
	writeJSON(w, http.StatusOK, out)
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
	writeJSON(w, http.StatusOK, apiv1.CertificateResponse{Certificate: s.certificate(c)})
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
	writeJSON(w, http.StatusOK, apiv1.QuotaResponse{Quota: quota(q)})
	return nil
}

// getVerifier tells a staff member or terminal who the server takes it
// for, so a terminal can check its API key.
func (s *Server) getVerifier(w http.ResponseWriter, r *http.Request, p principal) error {
	if p.terminal != nil {
		t := terminal(*p.terminal)
		writeJSON(w, http.StatusOK, apiv1.Verifier{Terminal: &t})
		return nil
	}
	a := s.account(p.account, false)
	writeJSON(w, http.StatusOK, apiv1.Verifier{Account: &a})
	return nil
}
