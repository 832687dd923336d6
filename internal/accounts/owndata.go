package accounts

import (
	"context"
	"errors"
	"time"

	"tempid/internal/idnumber"
	"tempid/internal/problem"
	"tempid/internal/registry"
	"tempid/internal/store"
)

// A passenger's own data (SPEC "Data protection and audit", data-subject
// rights): saved travellers, what tempid holds about them, the withdrawal
// of the face-recognition consent and the deletion of the account.

// MaxTravellers is how many saved travellers an account may keep.
const MaxTravellers = 15

// ownPassenger refuses accounts that have no passenger data of their own.
func ownPassenger(a store.Account) error {
	if a.Role != store.RolePassenger {
		return problem.New(problem.Forbidden, "only passenger accounts have saved travellers and data of their own here")
	}
	return nil
}

// AddTraveller saves a traveller for the account after the identity
// registry confirms name and ID number, as it does for a companion's
// application. The same person saved again is not saved twice: the saved
// traveller is returned with added false.
func (s *Service) AddTraveller(ctx context.Context, a store.Account, name, idNumber string) (tr store.Traveller, added bool, err error) {
	if err := ownPassenger(a); err != nil {
		return tr, false, err
	}
	subj, err := s.Issuance.ParseSubject(name, idNumber)
	if err != nil {
		return tr, false, err
	}
	if err := registry.Confirmed(ctx, s.Registry, subj.Name, subj.IDNumber); err != nil {
		return tr, false, err
	}
	id := store.NewID()
	tr = store.Traveller{
		ID:         id,
		AccountID:  a.ID,
		NameCT:     s.PII.SealString(subj.Name, "traveller.name:"+id),
		IDNumberCT: s.PII.SealString(subj.IDNumber.String(), "traveller.id_number:"+id),
		IDIndex:    s.Issuance.HolderIndex(subj.IDNumber),
		NameMasked: idnumber.MaskName(subj.Name),
		IDMasked:   subj.IDNumber.Masked(),
		CreatedAt:  s.Clock.Now(),
	}
	tr, added, err = s.Store.AddTraveller(ctx, store.AccountActor(a.ID), tr, MaxTravellers)
	var full *store.TravellerLimitReached
	if errors.As(err, &full) {
		return tr, false, problem.New(problem.TravellerLimitReached, "at most %d saved travellers; remove one first", full.Limit).With("limit", full.Limit)
	}
	return tr, added, err
}

// Travellers lists the account's saved travellers.
func (s *Service) Travellers(ctx context.Context, a store.Account) ([]store.Traveller, error) {
	if err := ownPassenger(a); err != nil {
		return nil, err
	}
	return s.Store.Travellers(ctx, a.ID)
}

// TravellerName opens a saved traveller's name, shown to the account that
// typed it.
func (s *Service) TravellerName(tr store.Traveller) (string, error) {
	return s.PII.OpenString(tr.NameCT, "traveller.name:"+tr.ID)
}

// Traveller returns one of the account's saved travellers with its full
// name and ID number, to fill an application for them; another account's
// is not found.
func (s *Service) Traveller(ctx context.Context, a store.Account, id string) (tr store.Traveller, name, idNumber string, err error) {
	if err := ownPassenger(a); err != nil {
		return tr, "", "", err
	}
	tr, err = s.Store.TravellerOf(ctx, a.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		return tr, "", "", problem.New(problem.NotFound, "no such saved traveller")
	}
	if err != nil {
		return tr, "", "", err
	}
	if name, err = s.TravellerName(tr); err != nil {
		return tr, "", "", err
	}
	idNumber, err = s.PII.OpenString(tr.IDNumberCT, "traveller.id_number:"+tr.ID)
	return tr, name, idNumber, err
}

// RemoveTraveller deletes one of the account's saved travellers.
func (s *Service) RemoveTraveller(ctx context.Context, a store.Account, id string) error {
	if err := ownPassenger(a); err != nil {
		return err
	}
	return s.Store.DeleteTraveller(ctx, store.AccountActor(a.ID), a.ID, id, s.Clock.Now())
}

// OwnData is what tempid holds about a passenger, for them to see and
// download: the account (its identity masked, the phone number masked),
// the certificates it applied for and those issued to the passenger's
// identity otherwise, its face-check results, consents, device keys,
// sessions and saved travellers.
type OwnData struct {
	Account      store.Account
	PhoneMasked  string
	Certificates []store.Certificate
	// HeldCertificates are the certificates issued to the passenger's own
	// identity that the account did not apply for: by a companion's
	// account, as a guest, at a window or a kiosk.
	HeldCertificates []store.Certificate
	FaceChecks       []store.FaceCheck
	Consents         []store.Consent
	Devices          []store.Device
	Sessions         []store.Session
	Travellers       []store.Traveller
	At               time.Time
}

// DataOf gathers a passenger's data. Reading it is recorded in the audit
// log, as every read of personal data on someone's behalf is.
func (s *Service) DataOf(ctx context.Context, a store.Account) (OwnData, error) {
	if err := ownPassenger(a); err != nil {
		return OwnData{}, err
	}
	d := OwnData{Account: a, At: s.Clock.Now()}
	if a.PhoneCT != nil {
		phone, err := s.PII.OpenString(a.PhoneCT, "account.phone:"+a.ID)
		if err != nil {
			return OwnData{}, err
		}
		d.PhoneMasked = maskPhone(phone)
	}
	var err error
	if d.Certificates, err = s.Store.AllCertificatesOfAccount(ctx, a.ID); err != nil {
		return OwnData{}, err
	}
	if a.IDIndex != nil {
		held, err := s.Store.CertificatesOfHolder(ctx, a.IDIndex, time.UnixMilli(0), d.At.Add(24*time.Hour))
		if err != nil {
			return OwnData{}, err
		}
		for _, c := range held {
			if c.AccountID != a.ID {
				d.HeldCertificates = append(d.HeldCertificates, c)
			}
		}
	}
	if d.FaceChecks, err = s.Store.FaceChecksOf(ctx, a.ID); err != nil {
		return OwnData{}, err
	}
	if d.Consents, err = s.Store.ConsentsOf(ctx, a.ID); err != nil {
		return OwnData{}, err
	}
	if d.Devices, err = s.Store.DevicesOf(ctx, a.ID); err != nil {
		return OwnData{}, err
	}
	if d.Sessions, err = s.Store.SessionsOf(ctx, a.ID); err != nil {
		return OwnData{}, err
	}
	if d.Travellers, err = s.Store.Travellers(ctx, a.ID); err != nil {
		return OwnData{}, err
	}
	err = s.Store.RecordAudit(ctx, store.AccountActor(a.ID), "account.data.read", "account:"+a.ID, map[string]any{
		"certificates": len(d.Certificates), "face_checks": len(d.FaceChecks), "travellers": len(d.Travellers),
	}, d.At)
	return d, err
}

// maskPhone keeps a phone number's first 3 and last 4 characters, as
// Chinese services print a mobile number (138****5678); a shorter one is
// masked whole but its last 2.
func maskPhone(p string) string {
	r := []rune(p)
	keepHead, keepTail := 3, 4
	if len(r) < 9 {
		keepHead, keepTail = 0, min(2, len(r))
	}
	out := make([]rune, len(r))
	for i, c := range r {
		if i < keepHead || i >= len(r)-keepTail {
			out[i] = c
		} else {
			out[i] = '*'
		}
	}
	return string(out)
}

// WithdrawFaceConsent withdraws the account's consent to face
// recognition: its pending checks end, and its next check asks for
// consent again.
func (s *Service) WithdrawFaceConsent(ctx context.Context, a store.Account) error {
	if err := ownPassenger(a); err != nil {
		return err
	}
	_, err := s.Store.WithdrawFaceConsent(ctx, store.AccountActor(a.ID), a.ID, s.Clock.Now())
	return err
}

// DeleteAccount deletes a passenger's own account once the password is
// given again (store.DeleteAccount says what is ended, erased and kept).
// The password check counts under the login throttle as a login does: a
// wrong one is a failure of the account from this address, and past the
// limits the deletion is refused with rate_limited before the password is
// checked. A wrong password is forbidden, not unauthenticated: the session
// is still good.
func (s *Service) DeleteAccount(ctx context.Context, a store.Account, password, ip string) error {
	if err := ownPassenger(a); err != nil {
		return err
	}
	now := s.Clock.Now()
	reservation, limits, err := s.reserveLogin(ctx, a.Username, ip, now)
	if err != nil {
		return err
	}
	ok, herr := checkPassword(a.PasswordHash, password)
	if herr != nil || !ok {
		return problem.New(problem.Forbidden, "the password is wrong")
	}
	if err := s.Store.ReleaseThrottle(ctx, reservation, limits[:2]); err != nil {
		return err
	}
	_, err = s.Store.DeleteAccount(ctx, store.AccountActor(a.ID), a.ID, now)
	return err
}
