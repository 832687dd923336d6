package httpapi

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"tempid/internal/httpapi/apiv1"
	"tempid/internal/problem"
	"tempid/internal/store"
)

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
	out := apiv1.Certificates{Certificates: make([]apiv1.Certificate, 0, len(certs))}
	for _, c := range certs {
		m := s.certificate(c)
		m.RevokeReason = c.RevokeReason
		out.Certificates = append(out.Certificates, m)
	}
	writeJSON(w, http.StatusOK, out)
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
	out := apiv1.Stats{
		From: from, To: to, Bucket: r.URL.Query().Get("bucket"),
		Applicants: convert(st.Applicants, func(c store.ReasonCount) apiv1.ApplicantCount {
			return apiv1.ApplicantCount{Applicant: c.Reason, Count: c.Count}
		}),
		Issuance:      convert(st.Issuance, func(c store.Count) apiv1.Count { return apiv1.Count(c) }),
		Verifications: convert(st.Verifications, func(c store.VerifyCount) apiv1.VerifyCount { return apiv1.VerifyCount(c) }),
		Failures:      convert(st.Failures, func(c store.ReasonCount) apiv1.ReasonCount { return apiv1.ReasonCount(c) }),
		FaceFailures:  convert(st.FaceFailures, func(c store.ReasonCount) apiv1.ReasonCount { return apiv1.ReasonCount(c) }),
		Channels: convert(st.Channels, func(c store.ReasonCount) apiv1.ChannelCount {
			return apiv1.ChannelCount{Channel: c.Reason, Count: c.Count}
		}),
		Officers: convert(st.Officers, func(o store.OfficerCount) apiv1.OfficerCount {
			return apiv1.OfficerCount{ID: o.AccountID, Username: o.Username, StationCode: o.Station, Slips: o.Slips}
		}),
		Cities: convert(st.Cities, func(c store.CityCount) apiv1.CityCount {
			out := apiv1.CityCount{Code: c.Code, Count: c.Count}
			if ct, ok := s.Cities.City(c.Code); ok {
				out.Name = ct.Name
			}
			return out
		}),
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// convert maps a list to its API type; an empty list renders as [], not
// null.
func convert[S, T any](in []S, f func(S) T) []T {
	out := make([]T, len(in))
	for i, v := range in {
		out[i] = f(v)
	}
	return out
}

func (s *Server) createStaff(w http.ResponseWriter, r *http.Request, p principal) error {
	var in apiv1.CreateStaffRequest
	if err := decode(w, r, &in); err != nil {
		return err
	}
	a, err := s.Accounts.CreateStaff(r.Context(), p.actor(), in.Username, in.Password, in.Role, in.StationCode)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, apiv1.AccountResponse{Account: s.account(a, false)})
	return nil
}

func (s *Server) listStaff(w http.ResponseWriter, r *http.Request, _ principal) error {
	list, err := s.Store.Accounts(r.Context(), store.RoleStaff, store.RoleOfficer, store.RoleAdmin)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, apiv1.StaffList{Staff: convert(list, func(a store.Account) apiv1.Account { return s.account(a, false) })})
	return nil
}

func terminal(t store.Terminal) apiv1.Terminal {
	return apiv1.Terminal{ID: t.ID, Name: t.Name, StationCode: t.StationCode, Offline: t.Offline, Kind: t.Kind, CreatedAt: t.CreatedAt,
		RevokedAt: t.RevokedAt, DisabledAt: t.DisabledAt}
}

// updateTerminal renames, re-grants or disables and enables a terminal.
func (s *Server) updateTerminal(w http.ResponseWriter, r *http.Request, p principal) error {
	var in apiv1.UpdateTerminalRequest
	if err := decode(w, r, &in); err != nil {
		return err
	}
	tm, err := s.Accounts.UpdateTerminal(r.Context(), p.actor(), r.PathValue("id"),
		store.TerminalChange{Name: in.Name, Offline: in.Offline, Disabled: in.Disabled})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, apiv1.TerminalResponse{Terminal: terminal(tm)})
	return nil
}

// updateStaff moves a staff account to another station, or disables and
// enables it.
func (s *Server) updateStaff(w http.ResponseWriter, r *http.Request, p principal) error {
	var in apiv1.UpdateStaffRequest
	if err := decode(w, r, &in); err != nil {
		return err
	}
	a, err := s.Accounts.UpdateStaff(r.Context(), p.actor(), r.PathValue("id"),
		store.StaffChange{StationCode: in.StationCode, Disabled: in.Disabled})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, apiv1.AccountResponse{Account: s.account(a, false)})
	return nil
}

func (s *Server) createTerminal(w http.ResponseWriter, r *http.Request, p principal) error {
	var in apiv1.CreateTerminalRequest
	if err := decode(w, r, &in); err != nil {
		return err
	}
	nt, err := s.Accounts.CreateTerminal(r.Context(), p.actor(), in.Name, in.StationCode, in.Offline, in.Kind)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, apiv1.NewTerminal{Terminal: terminal(nt.Terminal), APIKey: nt.APIKey})
	return nil
}

func (s *Server) listTerminals(w http.ResponseWriter, r *http.Request, _ principal) error {
	list, err := s.Store.Terminals(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, apiv1.Terminals{Terminals: convert(list, terminal)})
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
	var in apiv1.RevokeRequest
	if err := decode(w, r, &in); err != nil {
		return err
	}
	c, err := s.Issuance.Revoke(r.Context(), p.actor(), r.PathValue("id"), in.Reason, in.Note)
	if err != nil {
		return err
	}
	out := s.certificate(c)
	out.RevokeReason = c.RevokeReason
	writeJSON(w, http.StatusOK, apiv1.CertificateResponse{Certificate: out})
	return nil
}

// listAudit lists audit entries with their actors in words, filtered by
// actor, action and time, oldest first unless order=desc.
func (s *Server) listAudit(w http.ResponseWriter, r *http.Request, _ principal) error {
	q := r.URL.Query()
	var aq store.AuditQuery
	var err error
	if v := q.Get("after"); v != "" {
		if aq.After, err = strconv.ParseInt(v, 10, 64); err != nil || aq.After < 0 {
			return problem.New(problem.ValidationFailed, "after: an entry id")
		}
	}
	aq.Limit, _ = strconv.Atoi(q.Get("limit"))
	if aq.Limit <= 0 || aq.Limit > 1000 {
		aq.Limit = 100
	}
	for _, b := range []struct {
		name string
		at   *time.Time
	}{{"from", &aq.From}, {"to", &aq.To}} {
		if v := q.Get(b.name); v != "" {
			if *b.at, err = time.Parse(time.RFC3339, v); err != nil {
				return problem.New(problem.ValidationFailed, "%s: an RFC 3339 time", b.name)
			}
		}
	}
	switch q.Get("order") {
	case "", "asc":
	case "desc":
		aq.Newest = true
	default:
		return problem.New(problem.ValidationFailed, "order: asc or desc")
	}
	aq.ActorName, aq.Action = strings.TrimSpace(q.Get("actor_name")), strings.TrimSpace(q.Get("action"))
	if len(aq.ActorName) > 128 || len(aq.Action) > 64 {
		return problem.New(problem.ValidationFailed, "actor_name and action: at most 128 and 64 bytes")
	}
	entries, err := s.Store.AuditPage(r.Context(), aq)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, apiv1.AuditEntries{Entries: convert(entries, func(e store.NamedEntry) apiv1.AuditEntry {
		return apiv1.AuditEntry{ID: e.ID, At: e.At, Actor: e.Actor, ActorName: e.ActorName, ActorRole: e.ActorRole,
			Action: e.Action, Object: e.Object, Detail: rawJSON(e.Detail)}
	})})
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
	out := apiv1.AuditCheck{OK: rep.FirstBad == nil, Entries: rep.Entries, Pending: rep.Pending}
	if b := rep.FirstBad; b != nil {
		out.FirstBad = &apiv1.AuditBreak{Seq: b.Seq, EntryID: b.EntryID, Reason: b.Reason}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) rotateKeys(w http.ResponseWriter, r *http.Request, p principal) error {
	if s.Signing == nil {
		return problem.New(problem.Unavailable, "the credential keys are not configured on this server")
	}
	k, created, err := s.Signing.Rotate(r.Context(), p.actor())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, apiv1.KeyRotation{
		Key: apiv1.ScheduledKey{KID: k.KID, NotBefore: k.NotBefore, NotAfter: k.NotAfter}, Created: created,
	})
	return nil
}
