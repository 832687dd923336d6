// Package facecheck runs face checks: it starts a check for a subject
// (apply) or a certificate (view) with the device key that will show the
// codes, records the biometric consent, hands the capture to a provider,
// and keeps only the result. It also enforces the failure throttle: after
// a run of failures for one subject a growing delay, after many in a day a
// lock that sends the person to the station's manual window.
package facecheck

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"time"

	"tempid/internal/clock"
	"tempid/internal/credential"
	"tempid/internal/face"
	"tempid/internal/idnumber"
	"tempid/internal/issuance"
	"tempid/internal/policy"
	"tempid/internal/problem"
	"tempid/internal/registry"
	"tempid/internal/store"
)

// Service starts and completes face checks.
type Service struct {
	Store    *store.Store
	Registry registry.Registry
	Issuance *issuance.Service
	Provider face.Provider
	Policy   policy.Settings
	Clock    clock.Clock
	// ProviderTimeout bounds one provider call.
	ProviderTimeout time.Duration
	// ReturnURL is where a hosted provider sends the passenger back (the
	// app's /face-return page, absolute); the check's id is added as the
	// face_check query parameter. Needed only with a face.Hosted provider.
	ReturnURL string
}

// Start is a request to start a face check. A guest (AccountID is
// store.GuestAccountID) names the subject for both purposes; an account's
// view check names its certificate.
type Start struct {
	AccountID     string
	SessionID     string
	Purpose       string
	Name          string // apply, and a guest's view
	IDNumber      string // apply, and a guest's view
	CertificateID string // an account's view
	DeviceKeyJWK  []byte
	Consent       bool
	// NoDevice marks a kiosk's check: the slip is paper, so no device key
	// is bound.
	NoDevice bool
	// Actor is recorded in the audit; empty means the account.
	Actor store.Actor
	// ClientIP is the guest's address, for the guest throttle.
	ClientIP string
	// AccountIDIndex is the logged-in account's own identity (its blind
	// index), nil for guests, kiosks and accounts without one. With an
	// account, an apply check for its own identity or a person it applied
	// for before is refused at once by R5 and R2 (SPEC "Early refusal").
	AccountIDIndex []byte
	// Early marks an account's apply check, which hears R5 and R2 when it
	// starts for the persons AccountIDIndex and AccountID make known.
	Early bool
}

// maxDelay caps the growing delay after consecutive failures.
const maxDelay = time.Hour

// Begin validates a request and records a pending check. It refuses in
// API.md's order: invalid_id_number, consent_required, identity_mismatch,
// then, for an account's apply check for its own identity or a person it
// applied for before, active_certificate_exists (R5) and quota_exhausted
// (R2), so that no face goes to the provider for an application that
// cannot succeed. For anyone else it never says whether the subject has a
// certificate: that is answered only after the face check (SPEC "Early
// refusal", "Guest").
func (s *Service) Begin(ctx context.Context, in Start) (store.FaceCheck, error) {
	guest := in.AccountID == store.GuestAccountID
	now := s.Clock.Now()
	if guest {
		if err := s.guestThrottle(ctx, store.ThrottleGuestIP, s.Issuance.PII.BlindIndex("guest_ip", in.ClientIP),
			s.Policy.GuestFaceChecksPerIP, now); err != nil {
			return store.FaceCheck{}, err
		}
	}
	bySubject := in.Purpose == store.PurposeApply || (guest && in.Purpose == store.PurposeView)
	switch {
	case in.Purpose != store.PurposeApply && in.Purpose != store.PurposeView:
		return store.FaceCheck{}, problem.New(problem.ValidationFailed, "purpose: apply or view")
	case bySubject && in.CertificateID != "":
		return store.FaceCheck{}, problem.New(problem.ValidationFailed, "certificate_id: only for an account's view check; name the subject")
	}
	// API.md's order of refusals: the ID number, then consent, then the
	// registry.
	var subj issuance.Subject
	if bySubject {
		var err error
		if subj, err = s.Issuance.ParseSubject(in.Name, in.IDNumber); err != nil {
			return store.FaceCheck{}, err
		}
	}
	if !in.Consent {
		return store.FaceCheck{}, problem.New(problem.ConsentRequired,
			"explicit consent to the face check is required: the image is used for this check only and is not kept")
	}
	deviceKey, deviceHash := []byte{}, []byte{}
	if !in.NoDevice {
		pub, err := credential.ParseJWK(in.DeviceKeyJWK)
		if err != nil {
			return store.FaceCheck{}, problem.New(problem.ValidationFailed, "device_key: %v", err)
		}
		compressed, err := credential.CompressDeviceKey(pub)
		if err != nil {
			return store.FaceCheck{}, problem.New(problem.ValidationFailed, "device_key: %v", err)
		}
		hash := credential.DeviceKeyHash(compressed)
		deviceKey, deviceHash = compressed[:], hash[:]
	}
	var who face.Subject
	f := store.FaceCheck{
		ID: store.NewID(), AccountID: in.AccountID, SessionID: in.SessionID, Purpose: in.Purpose,
		DeviceKey: deviceKey, DeviceKeyHash: deviceHash, Provider: s.Provider.Name(), Status: store.FacePending,
		ConsentAt: now, CreatedAt: now, ExpiresAt: now.Add(s.Policy.FaceCheckPendingTTL),
	}
	if bySubject {
		holder := s.Issuance.HolderIndex(subj.IDNumber)
		if guest {
			if err := s.guestThrottle(ctx, store.ThrottleGuestSubject, holder, s.Policy.GuestFaceChecksPerSubject, now); err != nil {
				return store.FaceCheck{}, err
			}
		}
		if err := registry.Confirmed(ctx, s.Registry, subj.Name, subj.IDNumber); err != nil {
			return store.FaceCheck{}, err
		}
		if in.Early && !guest && in.Purpose == store.PurposeApply {
			if err := s.earlyRefusal(ctx, in, holder, now); err != nil {
				return store.FaceCheck{}, err
			}
		}
		f.SubjectIndex, f.NameIndex = holder, s.Issuance.NameIndex(subj.Name)
		f.NameMasked = idnumber.MaskName(subj.Name)
		who = face.Subject{Name: subj.Name, IDNumber: subj.IDNumber.String()}
	} else {
		c, err := s.Issuance.CertificateOf(ctx, in.AccountID, in.CertificateID)
		if err != nil {
			return store.FaceCheck{}, err
		}
		if st := c.StatusAt(now); st != store.StatusActive {
			return store.FaceCheck{}, problem.New(problem.ValidationFailed, "the certificate is %s and cannot be shown", st)
		}
		name, err := s.Issuance.OpenName(c)
		if err != nil {
			return store.FaceCheck{}, err
		}
		number, err := s.Issuance.OpenIDNumber(c)
		if err != nil {
			return store.FaceCheck{}, err
		}
		who = face.Subject{Name: name, IDNumber: number}
		f.CertificateID, f.SubjectIndex, f.NameIndex, f.NameMasked = c.ID, c.HolderIndex, s.Issuance.NameIndex(name), c.NameMasked
	}
	if err := s.throttle(ctx, f.SubjectIndex, now); err != nil {
		return store.FaceCheck{}, err
	}
	who.NameMasked, who.IDIndex = f.NameMasked, f.SubjectIndex
	f.SubjectSealed = s.sealSubject(f.ID, who)
	if h, ok := s.Provider.(face.Hosted); ok {
		// The vendor's session is opened before anything is written, so
		// that a vendor outage leaves nothing behind.
		pctx, cancel := s.providerContext(ctx)
		defer cancel()
		sess, err := h.Begin(pctx, who, s.returnURL(f.ID))
		if err != nil {
			return store.FaceCheck{}, errors.Join(problem.New(problem.Unavailable, "the face check provider is unavailable; nothing was changed, try again"), err)
		}
		if sess.URL == "" || sess.Token == "" {
			return store.FaceCheck{}, problem.New(problem.Unavailable, "the face check provider gave an answer that cannot be used; try again")
		}
		f.ProviderToken, f.RedirectURL = sess.Token, sess.URL
	}
	actor := in.Actor
	if actor == "" {
		actor = store.ActorOf(in.AccountID)
	}
	if err := s.Store.CreateFaceCheck(ctx, actor, f); err != nil {
		return store.FaceCheck{}, err
	}
	return f, nil
}

// earlyRefusal answers R5's and R2's refusal for a person the account
// already knows: its own identity, or someone it applied for before. For
// anyone else it answers nothing, so that starting a check cannot probe
// who holds a certificate. The issuing transaction checks both again.
func (s *Service) earlyRefusal(ctx context.Context, in Start, holder []byte, now time.Time) error {
	if in.AccountIDIndex == nil || string(holder) != string(in.AccountIDIndex) {
		known, err := s.Store.AccountAppliedFor(ctx, in.AccountID, holder)
		if err != nil || !known {
			return err
		}
	}
	active, err := s.Store.ActiveCertificateOf(ctx, holder, now)
	switch {
	case err == nil:
		if renewable := s.Issuance.RenewableAt(active); now.Before(renewable) {
			return problem.New(problem.ActiveCertificateExists,
				"an active certificate exists; a new one can be applied for from %s", renewable.Format(time.RFC3339)).
				With("renewable_at", renewable)
		}
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	m := s.Policy.MonthOf(now)
	used, err := s.Store.CountIssued(ctx, holder, m.Start(), m.End())
	if err != nil {
		return err
	}
	if used >= s.Policy.MonthlyLimit {
		return problem.New(problem.QuotaExhausted, "%d certificates have been issued for this person this month; the quota resets at %s",
			used, m.End().Format(time.RFC3339)).With("resets_at", m.End())
	}
	return nil
}

// returnURL is the app's page the vendor sends the passenger back to.
func (s *Service) returnURL(id string) string {
	u, err := url.Parse(s.ReturnURL)
	if err != nil {
		return s.ReturnURL
	}
	q := u.Query()
	q.Set("face_check", id)
	u.RawQuery = q.Encode()
	return u.String()
}

// sealedSubject is the sealed form of a check's subject.
type sealedSubject struct {
	Name     string `json:"n"`
	IDNumber string `json:"i"`
}

func (s *Service) sealSubject(id string, who face.Subject) []byte {
	b, _ := json.Marshal(sealedSubject{Name: who.Name, IDNumber: who.IDNumber})
	out := s.Issuance.PII.Seal(b, "face_check.subject:"+id)
	clear(b)
	return out
}

// subjectOf is the subject of a pending check, opened for its provider.
func (s *Service) subjectOf(f store.FaceCheck) (face.Subject, error) {
	who := face.Subject{NameMasked: f.NameMasked, IDIndex: f.SubjectIndex}
	if f.SubjectSealed == nil {
		// A check started before the subject was sealed: the providers
		// that need the full identity cannot complete it.
		return who, nil
	}
	b, err := s.Issuance.PII.Open(f.SubjectSealed, "face_check.subject:"+f.ID)
	if err != nil {
		return who, err
	}
	var ss sealedSubject
	err = json.Unmarshal(b, &ss)
	clear(b)
	who.Name, who.IDNumber = ss.Name, ss.IDNumber
	return who, err
}

func (s *Service) providerContext(ctx context.Context) (context.Context, context.CancelFunc) {
	timeout := s.ProviderTimeout
	if timeout <= 0 {
		timeout = 15 * time.Second
	}
	return context.WithTimeout(ctx, timeout)
}

// guestThrottle counts a guest's face-check start against one limit per
// GuestWindow and refuses it, with the time until the oldest start counted
// leaves the window, once the limit is reached. Every start is counted,
// refused or not: a stranger trying names and ID numbers pays as much as
// one trying faces.
func (s *Service) guestThrottle(ctx context.Context, scope string, key []byte, limit int, now time.Time) error {
	window := s.Policy.GuestWindow
	n, oldest, err := s.Store.CountThrottle(ctx, scope, key, now.Add(-window))
	if err != nil {
		return err
	}
	if n >= limit {
		return problem.New(problem.RateLimited, "too many face checks started without an account; wait before trying again").
			Retry(max(oldest.Add(window).Sub(now), time.Second))
	}
	return s.Store.RecordThrottle(ctx, scope, key, now)
}

// throttle refuses a face check for a subject with too many recent
// failures: past FaceFailureLockAfter in the lock window, a lock until the
// oldest of them leaves the window; past FaceFailureDelayAfter consecutive
// ones, a delay after the last that grows with each further failure.
func (s *Service) throttle(ctx context.Context, subject []byte, now time.Time) error {
	p := s.Policy
	ff, err := s.Store.FaceFailuresOf(ctx, subject, now.Add(-p.FaceFailureLockWindow))
	if err != nil {
		return err
	}
	if ff.InWindow >= p.FaceFailureLockAfter {
		wait := ff.OldestInWindow.Add(p.FaceFailureLockWindow).Sub(now)
		return problem.New(problem.FaceChecksLocked,
			"face checks for this person are locked after %d failures in %s; please go to the station's manual window (人工窗口) for a temporary identity certificate",
			ff.InWindow, p.FaceFailureLockWindow).Retry(max(wait, time.Second))
	}
	if ff.Consecutive >= p.FaceFailureDelayAfter {
		// The delay grows linearly (30 s, 60 s, 90 s, …): steep enough to
		// stop guessing, gentle enough that the daily lock stays reachable.
		delay := min(p.FaceFailureDelay*time.Duration(ff.Consecutive-p.FaceFailureDelayAfter+1), maxDelay)
		if until := ff.LastFailure.Add(delay); now.Before(until) {
			return problem.New(problem.RateLimited, "%d face checks failed in a row; wait before trying again", ff.Consecutive).
				Retry(until.Sub(now))
		}
	}
	return nil
}

// Capture completes a pending check with an image. The image goes to the
// provider and nowhere else; only the result is stored. A provider that
// fails, times out or answers nonsense leaves the check pending and is
// reported as unavailable.
func (s *Service) Capture(ctx context.Context, accountID, id string, c face.Capture) (store.FaceCheck, error) {
	f, err := s.pending(ctx, accountID, id)
	if err != nil {
		return f, err
	}
	if _, hosted := s.Provider.(face.Hosted); hosted || f.ProviderToken != "" {
		return f, problem.New(problem.ValidationFailed, "this face check is done on the provider's page (redirect_url), not with a capture")
	}
	who, err := s.subjectOf(f)
	if err != nil {
		return f, err
	}
	pctx, cancel := s.providerContext(ctx)
	defer cancel()
	res, err := s.Provider.Check(pctx, who, c)
	return s.complete(ctx, accountID, f, res, err)
}

// Complete completes a pending hosted check: the passenger is back from
// the provider's page, and the provider is asked for the result. A check
// the passenger has not finished there stays pending (409
// face_check_not_passed); a provider that fails leaves it pending too,
// reported as unavailable.
func (s *Service) Complete(ctx context.Context, accountID, id string) (store.FaceCheck, error) {
	f, err := s.pending(ctx, accountID, id)
	if err != nil {
		return f, err
	}
	h, hosted := s.Provider.(face.Hosted)
	if !hosted || f.ProviderToken == "" {
		return f, problem.New(problem.ValidationFailed, "this face check is completed with a capture (capture_url)")
	}
	who, err := s.subjectOf(f)
	if err != nil {
		return f, err
	}
	pctx, cancel := s.providerContext(ctx)
	defer cancel()
	res, err := h.Finish(pctx, who, f.ProviderToken)
	if errors.Is(err, face.ErrNotFinished) {
		return f, problem.New(problem.FaceCheckNotPassed, "the face check is not finished on the provider's page; finish it there, or start a new one")
	}
	return s.complete(ctx, accountID, f, res, err)
}

// pending loads a check of the account that may still be completed.
func (s *Service) pending(ctx context.Context, accountID, id string) (store.FaceCheck, error) {
	f, err := s.Store.FaceCheck(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && f.AccountID != accountID) {
		return f, problem.New(problem.NotFound, "no such face check")
	}
	if err != nil {
		return f, err
	}
	now := s.Clock.Now()
	if f.Status != store.FacePending {
		return f, problem.New(problem.FaceCheckUsed, "this face check already has a result; start a new one")
	}
	if !now.Before(f.ExpiresAt) {
		return f, problem.New(problem.FaceCheckExpired, "this face check has expired; start a new one")
	}
	if err := s.throttle(ctx, f.SubjectIndex, now); err != nil {
		return f, err
	}
	return f, nil
}

// complete stores a provider's result, or reports the provider's failure
// with nothing changed.
func (s *Service) complete(ctx context.Context, accountID string, f store.FaceCheck, res face.Result, err error) (store.FaceCheck, error) {
	if err != nil {
		return f, errors.Join(problem.New(problem.Unavailable, "the face check provider is unavailable; nothing was changed, try again"), err)
	}
	if res.Passed && res.Reason != "" || !res.Passed && res.Reason == "" || res.Score < 0 || res.Score > 1e6 {
		return f, problem.New(problem.Unavailable, "the face check provider gave an answer that cannot be used; try again")
	}
	return s.Store.CompleteFaceCheck(ctx, store.ActorOf(accountID), f.ID, accountID, store.FaceResult{
		Passed: res.Passed, Score: res.Score, Reason: res.Reason, Reference: res.Reference,
	}, s.Clock.Now())
}
