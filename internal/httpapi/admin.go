package httpapi

import (
	"encoding/base64"
	"net/http"
	"strconv"

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
	if err := s.Store.RevokeTerminal(r.Context(), p.actor(), r.PathValue("id"), s.Clock.Now()); err != nil {
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
	writeJSON(w, http.StatusOK, map[string]any{"certificate": s.certificateJSON(c)})
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
