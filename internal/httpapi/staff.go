package httpapi

import (
	"encoding/hex"
	"net/http"
	"time"

	"tempid/internal/issuance"
	"tempid/internal/keys"
	"tempid/internal/problem"
	"tempid/internal/verification"
	"tempid/internal/verify"
)

// bundleNextUpdate is how soon a terminal should fetch its next trust
// bundle: hourly keeps revocations (logout, R4) reaching offline gates
// well within the 24-hour freshness limit.
const bundleNextUpdate = time.Hour

func (s *Server) staffRoutes(mux *http.ServeMux) {
	s.route(mux, "POST /api/v1/certificates/{id}/passes", passenger, s.withKeys(s.newPass))
	s.route(mux, "POST /api/v1/verifications", staffOrTerminal, s.withKeys(s.verifyCode))
	s.route(mux, "GET /api/v1/trust-bundle", staffOrTerminal, s.withKeys(s.trustBundle))
	s.route(mux, "GET /.well-known/tempid/keys", public, s.withKeys(s.wellKnownKeys))
}

// withKeys refuses with 503 while the credential is not configured (a
// server built without keys, as some tests and tools do), rather than
// failing with a nil pointer.
func (s *Server) withKeys(h func(w http.ResponseWriter, r *http.Request, p principal) error) func(w http.ResponseWriter, r *http.Request, p principal) error {
	return func(w http.ResponseWriter, r *http.Request, p principal) error {
		if s.Keys == nil || s.Verifications == nil || s.Issuance == nil || s.Issuance.Passes == nil {
			return problem.New(problem.Unavailable, "the credential keys are not configured on this server")
		}
		return h(w, r, p)
	}
}

func (s *Server) newPass(w http.ResponseWriter, r *http.Request, p principal) error {
	var in struct {
		FaceCheckID string `json:"face_check_id"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	out, err := s.Issuance.NewPass(r.Context(), issuance.PassRequest{
		Actor: p.actor(), AccountID: p.account.ID, SessionID: p.session.ID,
		CertificateID: r.PathValue("id"), FaceCheckID: in.FaceCheckID,
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"pass": passJSON(&out, s.Policy.StepDuration)})
	return nil
}

func (s *Server) verifyCode(w http.ResponseWriter, r *http.Request, p principal) error {
	var in struct {
		Code        string `json:"code"`
		Operation   string `json:"operation"`
		StationCode string `json:"station_code"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	station := in.StationCode
	switch {
	case station != "" && !verification.ValidStation(station):
		return problem.New(problem.ValidationFailed, "station_code: 1 to 16 letters or digits")
	case p.terminal != nil && station != "" && station != p.terminal.StationCode:
		// A terminal is registered at one station; a different one in the
		// request is a misconfiguration to fix, not a fact to record.
		return problem.New(problem.ValidationFailed, "station_code: this terminal is registered at another station")
	case p.terminal != nil:
		station = p.terminal.StationCode
	case station == "":
		station = p.account.StationCode
	}
	res, err := s.Verifications.Verify(r.Context(), verification.Request{
		Code: in.Code, Operation: in.Operation, StationCode: station, Verifier: p.actor(),
	})
	if err != nil {
		return err
	}
	out := map[string]any{"verdict": "invalid", "replay": res.Replay, "verified_at": res.VerifiedAt}
	if res.Valid {
		out["verdict"] = "valid"
	} else {
		out["reason"] = res.Reason
	}
	if s.Metrics != nil {
		reason, _ := out["reason"].(verify.Reason)
		s.Metrics.Verifications.WithLabelValues(out["verdict"].(string), string(reason), in.Operation).Inc()
	}
	if c := res.Certificate; c != nil {
		out["certificate"] = map[string]any{"id": c.ID, "status": c.StatusAt(res.VerifiedAt), "expires_at": c.ExpiresAt}
	}
	if res.NameMasked != "" || res.IDMasked != "" {
		// name is the masked name too: staff never see a full name (R6).
		holder := map[string]any{"name": res.NameMasked, "name_masked": res.NameMasked, "id_number_masked": res.IDMasked}
		if res.IDNumber != "" {
			holder["id_number"] = res.IDNumber
		}
		out["holder"] = holder
	}
	if !res.PassNotAfter.IsZero() {
		out["pass_not_after"] = res.PassNotAfter
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// trustBundle serves the signed bundle to terminals with the offline
// grant. Seal keys open every passenger's ID number, so the bundle — which
// carries them — goes to no one else: not to staff sessions (a browser is
// no place for seal keys) nor to online-only terminals.
func (s *Server) trustBundle(w http.ResponseWriter, r *http.Request, p principal) error {
	if p.terminal == nil || !p.terminal.Offline {
		return problem.New(problem.Forbidden, "the trust bundle is for terminals granted offline verification")
	}
	now := s.Clock.Now()
	certs, err := s.Store.RevokedCertificates(r.Context(), now)
	if err != nil {
		return err
	}
	devices, err := s.Store.RevokedDevices(r.Context(), now)
	if err != nil {
		return err
	}
	raw, err := s.Keys.Bundle(now, keys.BundleInput{
		RevokedCertificates: certs, RevokedDevices: devices, WithSealKeys: true, NextUpdate: bundleNextUpdate, Epoch: bundleEpoch,
	})
	if err != nil {
		return err
	}
	writeBundle(w, r, raw)
	return nil
}

func (s *Server) wellKnownKeys(w http.ResponseWriter, r *http.Request, _ principal) error {
	published := s.Keys.Published(s.Clock.Now())
	list := make([]map[string]any, 0, len(published))
	for _, k := range published {
		list = append(list, map[string]any{
			"kid": hex.EncodeToString(k.KID[:]), "alg": "Ed25519", "public_key": b64url(k.Public),
			"not_before": k.NotBefore, "not_after": k.NotAfter,
		})
	}
	// Five minutes: a key is published a day before it signs, so caches
	// can never hide a signing key for long.
	w.Header().Set("Cache-Control", "public, max-age=300")
	writeJSON(w, http.StatusOK, map[string]any{"keys": list})
	return nil
}

func (s *Server) rotateKeys(w http.ResponseWriter, r *http.Request, p principal) error {
	if s.Keys == nil {
		return problem.New(problem.Unavailable, "the credential keys are not configured on this server")
	}
	k, created, err := s.Keys.Rotate(r.Context(), p.actor())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"key": map[string]any{"kid": k.KID, "not_before": k.NotBefore, "not_after": k.NotAfter}, "created": created,
	})
	return nil
}
