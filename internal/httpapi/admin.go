package httpapi

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"time"

	"tempid/internal/problem"
	"tempid/internal/store"
)

func b64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func (s *Server) adminRoutes(mux *http.ServeMux) {
	s.route(mux, "POST /api/v1/admin/staff", admin, s.createStaff)
	s.route(mux, "GET /api/v1/admin/staff", admin, s.listStaff)
	s.route(mux, "POST /api/v1/admin/terminals", admin, s.createTerminal)
	s.route(mux, "GET /api/v1/admin/terminals", admin, s.listTerminals)
	s.route(mux, "POST /api/v1/admin/terminals/{id}/revoke", admin, s.revokeTerminal)
	s.route(mux, "POST /api/v1/admin/certificates/{id}/revoke", admin, s.revokeCertificate)
	s.route(mux, "GET /api/v1/admin/audit", admin, s.listAudit)
	s.route(mux, "GET /api/v1/admin/audit/verify", admin, s.verifyAudit)
	s.route(mux, "POST /api/v1/admin/keys/rotate", admin, s.rotateKeys)
	s.route(mux, "GET /api/v1/admin/certificates", admin, s.searchCertificates)
	s.route(mux, "GET /api/v1/admin/stats", admin, s.stats)
}

// timeRange reads from and to (RFC 3339), defaulting to the last day.
func (s *Server) timeRange(r *http.Request, def time.Duration) (time.Time, time.Time, error) {
	// The default end includes this very millisecond.
	to, from := s.Clock.Now().Add(time.Millisecond), time.Time{}
	q := r.URL.Query()
	var err error
	if v := q.Get("to"); v != "" {
		if to, err = time.Parse(time.RFC3339, v); err != nil {
			return from, to, problem.New(problem.ValidationFailed, "to: an RFC 3339 time")
		}
	}
	from = to.Add(-def)
	if v := q.Get("from"); v != "" {
		if from, err = time.Parse(time.RFC3339, v); err != nil {
			return from, to, problem.New(problem.ValidationFailed, "from: an RFC 3339 time")
		}
	}
	if !from.Before(to) || to.Sub(from) > 366*24*time.Hour {
		return from, to, problem.New(problem.ValidationFailed, "from must be before to, at most a year apart")
	}
	return from, to, nil
}

// searchCertificates finds certificates by ID number, status and time. The
// search itself is audited, with the masked number, since it reveals who
// used certificates.
func (s *Server) searchCertificates(w http.ResponseWriter, r *http.Request, p principal) error {
	from, to, err := s.timeRange(r, 31*24*time.Hour)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	status := q.Get("status")
	switch status {
	case "", store.StatusActive, store.StatusSuperseded, store.StatusRevoked, store.StatusExpired:
	default:
		return problem.New(problem.ValidationFailed, "status: active, superseded, revoked or expired")
	}
	var holder []byte
	masked := ""
	if v := q.Get("id_number"); v != "" {
		subj, err := s.Issuance.ParseSubject("-", v)
		if err != nil {
			return err
		}
		holder, masked = s.Issuance.HolderIndex(subj.IDNumber), subj.IDNumber.Masked()
	}
	if err := s.Store.RecordAudit(r.Context(), p.actor(), "certificate.search", "certificates", map[string]any{
		"id_number": masked, "status": status, "from": from, "to": to,
	}, s.Clock.Now()); err != nil {
		return err
	}
	certs, err := s.Store.SearchCertificates(r.Context(), holder, status, from, to, s.Clock.Now(), 200)
	if err != nil {
		return err
	}
	out := make([]map[string]any, 0, len(certs))
	for _, c := range certs {
		m := s.certificateJSON(c)
		if c.RevokeReason != "" {
			m["revoke_reason"] = c.RevokeReason
		}
		out = append(out, m)
	}
	writeJSON(w, http.StatusOK, map[string]any{"certificates": out})
	return nil
}

// stats answers the dashboard's figures.
func (s *Server) stats(w http.ResponseWriter, r *http.Request, _ principal) error {
	from, to, err := s.timeRange(r, 24*time.Hour)
	if err != nil {
		return err
	}
	bucket := time.Hour
	switch r.URL.Query().Get("bucket") {
	case "", "hour":
	case "day":
		bucket = 24 * time.Hour
	default:
		return problem.New(problem.ValidationFailed, "bucket: hour or day")
	}
	st, err := s.Store.StatsOf(r.Context(), from, to, bucket)
	if err != nil {
		return err
	}
	cities := make([]map[string]any, 0, len(st.Cities))
	for _, c := range st.Cities {
		name := ""
		if ct, ok := s.Cities.City(c.Code); ok {
			name = ct.Name
		}
		cities = append(cities, map[string]any{"code": c.Code, "name": name, "count": c.Count})
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"from": from, "to": to, "bucket": r.URL.Query().Get("bucket"),
		"issuance": nonNil(st.Issuance), "verifications": nonNil(st.Verifications),
		"failures": nonNil(st.Failures), "face_failures": nonNil(st.FaceFailures), "cities": cities,
	})
	return nil
}

// nonNil renders an empty list as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func (s *Server) createStaff(w http.ResponseWriter, r *http.Request, p principal) error {
	var in struct {
		Username    string `json:"username"`
		Password    string `json:"password"`
		Role        string `json:"role"`
		StationCode string `json:"station_code"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	a, err := s.Accounts.CreateStaff(r.Context(), p.actor(), in.Username, in.Password, in.Role, in.StationCode)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"account": s.accountJSON(a, false)})
	return nil
}

func (s *Server) listStaff(w http.ResponseWriter, r *http.Request, _ principal) error {
	list, err := s.Store.Accounts(r.Context(), store.RoleStaff, store.RoleAdmin)
	if err != nil {
		return err
	}
	out := make([]map[string]any, 0, len(list))
	for _, a := range list {
		out = append(out, s.accountJSON(a, false))
	}
	writeJSON(w, http.StatusOK, map[string]any{"staff": out})
	return nil
}

func terminalJSON(t store.Terminal) map[string]any {
	out := map[string]any{"id": t.ID, "name": t.Name, "station_code": t.StationCode, "offline": t.Offline, "created_at": t.CreatedAt}
	if !t.RevokedAt.IsZero() {
		out["revoked_at"] = t.RevokedAt
	}
	return out
}

func (s *Server) createTerminal(w http.ResponseWriter, r *http.Request, p principal) error {
	var in struct {
		Name        string `json:"name"`
		StationCode string `json:"station_code"`
		Offline     bool   `json:"offline"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	nt, err := s.Accounts.CreateTerminal(r.Context(), p.actor(), in.Name, in.StationCode, in.Offline)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"terminal": terminalJSON(nt.Terminal), "api_key": nt.APIKey})
	return nil
}

func (s *Server) listTerminals(w http.ResponseWriter, r *http.Request, _ principal) error {
	list, err := s.Store.Terminals(r.Context())
	if err != nil {
		return err
	}
	out := make([]map[string]any, 0, len(list))
	for _, t := range list {
		out = append(out, terminalJSON(t))
	}
	writeJSON(w, http.StatusOK, map[string]any{"terminals": out})
	return nil
}

func (s *Server) revokeTerminal(w http.ResponseWriter, r *http.Request, p principal) error {
	if err := s.Accounts.RevokeTerminal(r.Context(), p.actor(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) revokeCertificate(w http.ResponseWriter, r *http.Request, p principal) error {
	var in struct {
		Reason string `json:"reason"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	c, err := s.Issuance.Revoke(r.Context(), p.actor(), r.PathValue("id"), in.Reason)
	if err != nil {
		return err
	}
	out := s.certificateJSON(c)
	out["revoke_reason"] = c.RevokeReason
	writeJSON(w, http.StatusOK, map[string]any{"certificate": out})
	return nil
}

func (s *Server) listAudit(w http.ResponseWriter, r *http.Request, _ principal) error {
	q := r.URL.Query()
	after, _ := strconv.ParseInt(q.Get("after"), 10, 64)
	limit, _ := strconv.Atoi(q.Get("limit"))
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	if after < 0 {
		return problem.New(problem.ValidationFailed, "after: an entry id")
	}
	entries, err := s.Store.AuditEntries(r.Context(), after, limit)
	if err != nil {
		return err
	}
	out := make([]map[string]any, 0, len(entries))
	for _, e := range entries {
		out = append(out, map[string]any{"id": e.ID, "at": e.At, "actor": e.Actor, "action": e.Action, "object": e.Object, "detail": rawJSON(e.Detail)})
	}
	writeJSON(w, http.StatusOK, map[string]any{"entries": out})
	return nil
}

func (s *Server) verifyAudit(w http.ResponseWriter, r *http.Request, _ principal) error {
	if err := s.Store.SealAllAudit(r.Context(), s.Clock.Now()); err != nil {
		return err
	}
	rep, err := s.Store.VerifyAudit(r.Context())
	if err != nil {
		return err
	}
	out := map[string]any{"ok": rep.FirstBad == nil, "entries": rep.Entries, "pending": rep.Pending}
	if rep.FirstBad != nil {
		out["first_bad"] = map[string]any{"seq": rep.FirstBad.Seq, "entry_id": rep.FirstBad.EntryID, "reason": rep.FirstBad.Reason}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
