package httpapi

import (
	"encoding/hex"
	"net/http"
	"time"

	"tempid/internal/httpapi/apiv1"
	"tempid/internal/idnumber"
	"tempid/internal/keys"
	"tempid/internal/online"
	"tempid/internal/problem"
	"tempid/internal/registry"
	"tempid/internal/store"
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
		return problem.New(problem.ValidationFailed, "station_code: a three-letter telegraph code (e.g. BJP)")
	case p.terminal != nil && station != "" && station != p.terminal.StationCode:
		// Terminals and staff verify where they are registered (API.md):
		// a use recorded at another station would be a false record.
		return problem.New(problem.Forbidden, "station_code: this terminal is registered at another station")
	case p.terminal != nil:
		station = p.terminal.StationCode
	case p.account.Role != store.RoleAdmin && station != "" && station != p.account.StationCode:
		return problem.New(problem.Forbidden, "station_code: you verify at your own station only")
	case station == "" && p.account.StationCode == "":
		// An administrator is bound to no station: where the code was
		// shown is theirs to say, else the use would be recorded nowhere.
		return problem.New(problem.ValidationFailed, "station_code: an administrator names the station they verify at")
	case station == "":
		station = p.account.StationCode
	}
	res, err := s.Verifications.Verify(r.Context(), online.Request{
		Code: in.Code, Operation: in.Operation, StationCode: station, Verifier: p.actor(),
		Gate: p.terminal != nil && p.terminal.Kind == store.TerminalGate,
	})
	if err != nil {
		return err
	}
	out := apiv1.VerifyResponse{Verdict: apiv1.Invalid, Kind: res.Kind, Replay: res.Replay, VerifiedAt: res.VerifiedAt, PassNotAfter: res.PassNotAfter}
	if res.Valid {
		out.Verdict = apiv1.Valid
	} else {
		out.Reason = string(res.Reason)
	}
	if s.Metrics != nil {
		s.countVerification(out.Verdict, out.Reason, in.Operation)
	}
	if c := res.Certificate; c != nil {
		out.Certificate = &apiv1.VerifiedCertificate{ID: c.ID, Status: c.StatusAt(res.VerifiedAt), ExpiresAt: c.ExpiresAt}
	}
	if res.NameMasked != "" || res.IDMasked != "" {
		// name is the full name only where the clerk compares it with a
		// booking (the counter operations and id_check); else the masked.
		out.Holder = &apiv1.Holder{Name: res.NameMasked, NameMasked: res.NameMasked, IDNumberMasked: res.IDMasked, IDNumber: res.IDNumber}
		if res.Name != "" {
			out.Holder.Name = res.Name
		}
	}
	if res.Kind == online.KindSlip {
		if err := s.slipAnswer(r, p, in.Operation, res, &out); err != nil {
			return err
		}
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
		RevokedCertificates: certs, RevokedDevices: devices, WithSealKeys: true, NextUpdate: bundleNextUpdate, Epoch: bundleEpoch,
	})
	if err != nil {
		return err
	}
	writeBundle(w, r, raw)
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

// slipAnswer adds what a slip's verification says besides a code's: its
// last uses and the used_elsewhere warning, the full name where the full
// identity is shown (a slip's holder shows the printed name, so the clerk
// compares like with like), and at a staff session for those operations
// the registry's reference photo, fetched for the screen and not kept.
func (s *Server) slipAnswer(r *http.Request, p principal, op string, res online.Result, out *apiv1.VerifyResponse) error {
	if res.Certificate == nil {
		return nil
	}
	elsewhere := res.UsedElsewhere
	out.UsedElsewhere = &elsewhere
	out.Uses = make([]apiv1.SlipUse, 0, len(res.Uses))
	for _, u := range res.Uses {
		out.Uses = append(out.Uses, apiv1.SlipUse{At: u.At, StationCode: u.StationCode, Operation: u.Operation})
	}
	if out.Holder == nil || res.Name == "" {
		return nil
	}
	out.Holder.Name = res.Name
	if p.terminal != nil || s.Registry == nil {
		return nil
	}
	id, err := idnumber.Parse(res.IDNumber, s.Clock.Now())
	if err != nil {
		return nil
	}
	photo, err := registry.PhotoOf(r.Context(), s.Registry, res.Name, id)
	if err != nil {
		// The verdict stands without the photo: the clerk still has the
		// printed identity to compare.
		s.Log.Warn("registry photo unavailable", "err", err)
		return nil
	}
	out.Holder.Photo = photo
	return nil
}
