package httpapi

import (
	"encoding/hex"
	"net/http"
	"time"

	"tempid/internal/httpapi/apiv1"
	"tempid/internal/keys"
	"tempid/internal/online"
	"tempid/internal/problem"
)

// bundleNextUpdate is how soon a terminal should fetch its next trust
// bundle: hourly keeps revocations (logout, R4) reaching offline gates
// well within the 24-hour freshness limit.
const bundleNextUpdate = time.Hour

func (s *Server) verifyCode(w http.ResponseWriter, r *http.Request, p principal) error {
	var in apiv1.VerifyRequest
	if err := decode(w, r, &in); err != nil {
		return err
	}
	station := in.StationCode
	switch {
	case station != "" && !online.ValidStation(station):
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
	res, err := s.Verifications.Verify(r.Context(), online.Request{
		Code: in.Code, Operation: in.Operation, StationCode: station, Verifier: p.actor(),
	})
	if err != nil {
		return err
	}
	out := apiv1.VerifyResponse{Verdict: apiv1.Invalid, Replay: res.Replay, VerifiedAt: res.VerifiedAt, PassNotAfter: res.PassNotAfter}
	if res.Valid {
		out.Verdict = apiv1.Valid
	} else {
		out.Reason = string(res.Reason)
	}
	if s.Metrics != nil {
		s.Metrics.Verifications.WithLabelValues(out.Verdict, out.Reason, in.Operation).Inc()
	}
	if c := res.Certificate; c != nil {
		out.Certificate = &apiv1.VerifiedCertificate{ID: c.ID, Status: c.StatusAt(res.VerifiedAt), ExpiresAt: c.ExpiresAt}
	}
	if res.NameMasked != "" || res.IDMasked != "" {
		// name is the masked name too: staff never see a full name (R6).
		out.Holder = &apiv1.Holder{Name: res.NameMasked, NameMasked: res.NameMasked, IDNumberMasked: res.IDMasked, IDNumber: res.IDNumber}
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
	raw, err := s.Signing.Bundle(now, keys.BundleInput{
		RevokedCertificates: certs, RevokedDevices: devices, WithSealKeys: true, NextUpdate: bundleNextUpdate,
	})
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(raw)
	return nil
}

func (s *Server) wellKnownKeys(w http.ResponseWriter, r *http.Request, _ principal) error {
	published := s.Signing.Published(s.Clock.Now())
	out := apiv1.PublishedKeys{Keys: make([]apiv1.PublishedKey, 0, len(published))}
	for _, k := range published {
		out.Keys = append(out.Keys, apiv1.PublishedKey{
			KID: hex.EncodeToString(k.KID[:]), Alg: "Ed25519", PublicKey: b64url(k.Public),
			NotBefore: k.NotBefore, NotAfter: k.NotAfter,
		})
	}
	// Five minutes: a key is published a day before it signs, so caches
	// can never hide a signing key for long.
	w.Header().Set("Cache-Control", "public, max-age=300")
	writeJSON(w, http.StatusOK, out)
	return nil
}
