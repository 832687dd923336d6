// Package issuance applies the certificate rules: who a certificate is for
// (R1), how many a person may have each month and for how long each is
// valid (R2), and when a new one may replace the active one (R5). It
// validates and prepares; the store enforces the counts atomically.
package issuance

import (
	"context"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"tempid/internal/clock"
	"tempid/internal/idnumber"
	"tempid/internal/personname"
	"tempid/internal/pii"
	"tempid/internal/policy"
	"tempid/internal/problem"
	"tempid/internal/store"
)

// CityBook tells which city codes exist.
type CityBook interface {
	Known(code string) bool
}

// PassMaker makes the first pass of a new certificate (the credential
// package's issuer). Nil means certificates are issued without a pass.
type PassMaker interface {
	MakePass(ctx context.Context, in PassInput) (PassOutput, error)
}

// PassInput is what a pass is made from.
type PassInput struct {
	CertificateID string
	CertExpiry    time.Time
	// FaceCheckAt is when the authorising face check passed: the pass's
	// not-before.
	FaceCheckAt time.Time
	NameMasked  string
	IDMasked    string
	IDNumber    idnumber.Number
	DeviceKey   []byte
}

// PassOutput is a signed pass and the record of it.
type PassOutput struct {
	Bytes     []byte
	NotBefore time.Time
	NotAfter  time.Time
	IssuerKID string
}

// Service issues, lists and revokes certificates.
type Service struct {
	Store  *store.Store
	PII    *pii.Keyring
	Policy policy.Settings
	Clock  clock.Clock
	Cities CityBook
	Passes PassMaker
	// Slips signs slips; nil means slips cannot be issued.
	Slips SlipMaker
}

// Subject is a validated person: a name and an ID number.
type Subject struct {
	Name     string
	IDNumber idnumber.Number
}

// ParseSubject validates a name and an ID number as the API receives them:
// the name by the rule of package personname (NFC, trimmed, no hidden
// characters), the ID number by GB 11643. Both are refused here, before any
// registry or face provider sees them.
func (s *Service) ParseSubject(name, id string) (Subject, error) {
	name, err := personname.Normalize(name)
	if err != nil {
		return Subject{}, err
	}
	n, err := idnumber.Parse(id, s.Clock.Now())
	if err != nil {
		var ie *idnumber.Error
		if errors.As(err, &ie) {
			return Subject{}, problem.New(problem.InvalidIDNumber, "%s", ie.Detail).With("reason", string(ie.Reason))
		}
		return Subject{}, problem.New(problem.InvalidIDNumber, "the ID number is not valid")
	}
	return Subject{Name: name, IDNumber: n}, nil
}

// HolderIndex is the blind index that stands for an ID number in the
// database.
func (s *Service) HolderIndex(id idnumber.Number) []byte {
	return s.PII.BlindIndex("id_number", id.String())
}

// NameIndex is the blind index of a name, to compare a face check's subject
// with an application's without storing the name in the clear.
func (s *Service) NameIndex(name string) []byte {
	return s.PII.BlindIndex("name", strings.TrimSpace(name))
}

// Application asks for a certificate.
type Application struct {
	Actor       store.Actor
	AccountID   string
	SessionID   string
	FaceCheckID string
	Name        string
	IDNumber    string
	CityCode    string
}

// Result is an issued certificate with its first pass and the quota after it.
type Result struct {
	Certificate store.Certificate
	Superseded  string
	Quota       Quota
	Pass        *PassOutput
}

// Apply issues a certificate for the application's subject after a passed
// apply face check for that subject. The face check decides who may apply:
// a companion's account may apply for a traveller whose face was checked.
func (s *Service) Apply(ctx context.Context, a Application) (Result, error) {
	subj, err := s.ParseSubject(a.Name, a.IDNumber)
	if err != nil {
		return Result{}, err
	}
	if s.Cities != nil && !s.Cities.Known(a.CityCode) {
		return Result{}, problem.New(problem.ValidationFailed, "city_code: unknown city")
	}
	if a.FaceCheckID == "" {
		return Result{}, problem.New(problem.ValidationFailed, "face_check_id: required")
	}
	now := s.Clock.Now()
	issuedAt := now.Truncate(time.Second)
	id := store.NewID()
	holder := s.HolderIndex(subj.IDNumber)
	cert := store.Certificate{
		ID:          id,
		HolderIndex: holder,
		AccountID:   a.AccountID,
		NameCT:      s.PII.SealString(subj.Name, "certificate.name:"+id),
		IDNumberCT:  s.PII.SealString(subj.IDNumber.String(), "certificate.id_number:"+id),
		NameMasked:  idnumber.MaskName(subj.Name),
		IDMasked:    subj.IDNumber.Masked(),
		CityCode:    a.CityCode,
		IssuedAt:    issuedAt,
		ExpiresAt:   issuedAt.Add(s.Policy.CertificateValidity),
	}
	month := s.Policy.MonthOf(now)
	in := store.Issuance{
		Certificate: cert,
		FaceCheck: store.FaceCheckUse{
			ID: a.FaceCheckID, AccountID: a.AccountID, Purpose: store.PurposeApply,
			SubjectIndex: holder, NameIndex: s.NameIndex(subj.Name),
			Now: now, Window: s.Policy.FaceCheckUseWindow,
		},
		MonthStart: month.Start(), MonthEnd: month.End(),
		MonthlyLimit: s.Policy.MonthlyLimit, RenewalWindow: s.Policy.RenewalWindow,
	}
	var pass *PassOutput
	if s.Passes != nil {
		// The pass names the face check's device key and starts at its
		// time. Reading the check first is safe: the transaction below
		// consumes it only if it is still unused, and a completed check
		// never changes its key or time.
		fc, err := s.Store.FaceCheck(ctx, a.FaceCheckID)
		if errors.Is(err, store.ErrNotFound) || (err == nil && fc.AccountID != a.AccountID) {
			return Result{}, problem.New(problem.NotFound, "no such face check")
		}
		if err != nil {
			return Result{}, err
		}
		if fc.Status == store.FacePassed {
			out, err := s.Passes.MakePass(ctx, PassInput{
				CertificateID: id, CertExpiry: cert.ExpiresAt, FaceCheckAt: fc.CompletedAt,
				NameMasked: cert.NameMasked, IDMasked: cert.IDMasked, IDNumber: subj.IDNumber, DeviceKey: fc.DeviceKey,
			})
			if err != nil {
				return Result{}, err
			}
			pass = &out
			in.Pass = &store.Pass{
				ID: store.NewID(), CertificateID: id, FaceCheckID: a.FaceCheckID, SessionID: a.SessionID,
				DeviceKeyHash: fc.DeviceKeyHash, IssuerKID: out.IssuerKID,
				NotBefore: out.NotBefore, NotAfter: out.NotAfter, IssuedAt: now,
			}
		}
	}
	result := func(issued store.Issued) Result {
		return Result{
			Certificate: issued.Certificate,
			Superseded:  issued.Superseded,
			Quota:       s.quota(month, issued.UsedThisMonth),
			Pass:        pass,
		}
	}
	// Under an Idempotency-Key the answer, rendered from this Result, is
	// recorded in the issuing transaction itself.
	ctx = store.WithResultMapping(ctx, func(v any) any { return result(v.(store.Issued)) })
	issued, err := s.Store.IssueCertificate(ctx, a.Actor, in)
	if err != nil {
		return Result{}, err
	}
	return result(issued), nil
}

// Quota is a person's use of the monthly limit.
type Quota struct {
	Month     string    `json:"month"`
	Used      int       `json:"used"`
	Limit     int       `json:"limit"`
	Remaining int       `json:"remaining"`
	ResetsAt  time.Time `json:"resets_at"`
}

func (s *Service) quota(m policy.Month, used int) Quota {
	return Quota{
		Month: m.String(), Used: used, Limit: s.Policy.MonthlyLimit,
		Remaining: max(0, s.Policy.MonthlyLimit-used), ResetsAt: m.End(),
	}
}

// QuotaOf returns a person's quota this month.
func (s *Service) QuotaOf(ctx context.Context, id idnumber.Number) (Quota, error) {
	m := s.Policy.MonthOf(s.Clock.Now())
	used, err := s.Store.CountIssued(ctx, s.HolderIndex(id), m.Start(), m.End())
	if err != nil {
		return Quota{}, err
	}
	return s.quota(m, used), nil
}

// History lists the certificates an account applied for in a month.
func (s *Service) History(ctx context.Context, accountID string, m policy.Month) ([]store.Certificate, error) {
	return s.Store.CertificatesOfAccount(ctx, accountID, m.Start(), m.End())
}

// CertificateOf returns a certificate the account applied for; anyone
// else's is not found, so that ids cannot be probed.
func (s *Service) CertificateOf(ctx context.Context, accountID, id string) (store.Certificate, error) {
	c, err := s.Store.Certificate(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && c.AccountID != accountID) {
		return store.Certificate{}, problem.New(problem.NotFound, "no such certificate")
	}
	return c, err
}

// RenewableAt is when a new certificate may be applied for while c is
// active (R5).
func (s *Service) RenewableAt(c store.Certificate) time.Time {
	return c.ExpiresAt.Add(-s.Policy.RenewalWindow)
}

// maxReasonBytes bounds a revocation's note.
const maxReasonBytes = 500

// Revocation reasons: the codes stored with a revoked certificate and
// shown to its passenger in words. A note may go with any of them and
// must go with RevokeOther; it stays in the audit log.
const (
	RevokeFoundIDCard     = "found_id_card"
	RevokeWrongDetails    = "wrong_details"
	RevokeSuspectedMisuse = "suspected_misuse"
	RevokeOther           = "other"
)

// RevokeReasons lists the revocation reasons, in the console's order.
func RevokeReasons() []string {
	return []string{RevokeFoundIDCard, RevokeWrongDetails, RevokeSuspectedMisuse, RevokeOther}
}

// Revoke revokes a certificate with a reason from RevokeReasons and an
// optional note; it stops verifying at once and still counts against the
// quota. A reason outside the list is what clients written before the
// list send (free text): it is taken as RevokeOther with the text as its
// note, so the passenger is never shown an administrator's words.
func (s *Service) Revoke(ctx context.Context, actor store.Actor, id, reason, note string) (store.Certificate, error) {
	reason, note = strings.TrimSpace(reason), strings.TrimSpace(note)
	known := false
	for _, r := range RevokeReasons() {
		known = known || r == reason
	}
	if !known && reason != "" {
		if note != "" {
			note = reason + " — " + note
		} else {
			note = reason
		}
		reason = RevokeOther
	}
	switch {
	case reason == "":
		return store.Certificate{}, problem.New(problem.ValidationFailed, "reason: one of %s", strings.Join(RevokeReasons(), ", "))
	case len(note) > maxReasonBytes || !utf8.ValidString(note):
		return store.Certificate{}, problem.New(problem.ValidationFailed, "note: at most %d bytes of text", maxReasonBytes)
	case reason == RevokeOther && note == "":
		return store.Certificate{}, problem.New(problem.ValidationFailed, "note: say why, for the reason other")
	}
	return s.Store.RevokeCertificate(ctx, actor, id, reason, note, s.Clock.Now())
}

// OpenIDNumber decrypts a certificate's ID number, for counter operations
// and sealing.
func (s *Service) OpenIDNumber(c store.Certificate) (string, error) {
	return s.PII.OpenString(c.IDNumberCT, "certificate.id_number:"+c.ID)
}

// OpenName decrypts a certificate holder's name.
func (s *Service) OpenName(c store.Certificate) (string, error) {
	return s.PII.OpenString(c.NameCT, "certificate.name:"+c.ID)
}
