package issuance

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"tempid/internal/credential"
	"tempid/internal/idnumber"
	"tempid/internal/problem"
	"tempid/internal/store"
)

// SlipMaker signs slips (the credential package's issuer, package keys).
type SlipMaker interface {
	MakeSlip(ctx context.Context, in SlipInput) (string, error)
}

// SlipInput is what a slip carries: the certificate, its times, where and
// how it was issued, and the holder's identity.
type SlipInput struct {
	CertificateID string
	IssuedAt      time.Time
	CertExpiry    time.Time
	// Channel is credential.ChannelWindow or credential.ChannelKiosk.
	Channel    byte
	Station    string
	NameMasked string
	IDMasked   string
	IDNumber   idnumber.Number
}

// Documents an officer may name with the method "document" (API.md gives
// these as examples; the list is the policy of this deployment).
var documentTypes = map[string]bool{
	"passport": true, "driving_licence": true, "household_register": true,
	"residence_permit": true, "temporary_id_card": true, "military_id": true, "other": true,
}

// SlipApplication asks for a slip at the window or a kiosk.
type SlipApplication struct {
	Actor store.Actor
	// Channel is store.ChannelWindow or store.ChannelKiosk.
	Channel     string
	StationCode string
	// IssuedBy is the officer's account id or the kiosk's terminal id;
	// AccountID the account the certificate belongs to (the officer's, or
	// store.KioskAccountID).
	IssuedBy  string
	AccountID string
	Name      string
	IDNumber  string
	// Method is how the person was confirmed; DocumentType goes with
	// store.MethodDocument. A kiosk's method is store.MethodFaceCheck,
	// with its FaceCheckID.
	Method          string
	DocumentType    string
	Note            string
	CityCode        string
	SupersedeReason string
	FaceCheckID     string
}

// SlipResult is an issued slip with the full identity printed beside it.
type SlipResult struct {
	Certificate store.Certificate
	Superseded  string
	Slip        string
	Name        string
	IDNumber    idnumber.Number
}

const maxTextBytes = 500

func checkText(field, v string) (string, error) {
	v = strings.TrimSpace(v)
	if len(v) > maxTextBytes || !utf8.ValidString(v) {
		return "", problem.New(problem.ValidationFailed, "%s: at most %d bytes of text", field, maxTextBytes)
	}
	return v, nil
}

// IssueSlip issues a paper certificate after the window's officer or the
// kiosk's face check has confirmed the person (the caller has asked the
// registry). The slip is signed before the transaction — its content is
// known — and stored with the certificate for reprints.
func (s *Service) IssueSlip(ctx context.Context, a SlipApplication) (SlipResult, error) {
	if s.Slips == nil {
		return SlipResult{}, problem.New(problem.Unavailable, "the credential keys are not configured on this server")
	}
	subj, err := s.ParseSubject(a.Name, a.IDNumber)
	if err != nil {
		return SlipResult{}, err
	}
	if !credential.ValidStation(a.StationCode) {
		return SlipResult{}, problem.New(problem.Forbidden, "this account or terminal has no valid station")
	}
	if a.CityCode != "" && s.Cities != nil && !s.Cities.Known(a.CityCode) {
		return SlipResult{}, problem.New(problem.ValidationFailed, "city_code: unknown city")
	}
	channel := credential.ChannelWindow
	var fcUse *store.FaceCheckUse
	now := s.Clock.Now()
	holder := s.HolderIndex(subj.IDNumber)
	switch a.Channel {
	case store.ChannelWindow:
		switch a.Method {
		case store.MethodRegistryPhoto, store.MethodQuestions:
			if a.DocumentType != "" {
				return SlipResult{}, problem.New(problem.ValidationFailed, "document_type: only with the method document")
			}
		case store.MethodDocument:
			if !documentTypes[a.DocumentType] {
				return SlipResult{}, problem.New(problem.ValidationFailed, "document_type: required with the method document (passport, driving_licence, household_register, …)")
			}
		default:
			return SlipResult{}, problem.New(problem.ValidationFailed, "method: registry_photo, document or questions")
		}
	case store.ChannelKiosk:
		channel = credential.ChannelKiosk
		if a.FaceCheckID == "" {
			return SlipResult{}, problem.New(problem.ValidationFailed, "face_check_id: required")
		}
		a.Method, a.DocumentType, a.SupersedeReason = store.MethodFaceCheck, "", ""
		fcUse = &store.FaceCheckUse{
			ID: a.FaceCheckID, AccountID: store.KioskAccountID, Purpose: store.PurposeApply,
			SubjectIndex: holder, NameIndex: s.NameIndex(subj.Name),
			Now: now, Window: s.Policy.FaceCheckUseWindow,
		}
	default:
		return SlipResult{}, problem.New(problem.ValidationFailed, "channel: window or kiosk")
	}
	if _, err := checkText("note", a.Note); err != nil {
		return SlipResult{}, err
	}
	reason, err := checkText("supersede_reason", a.SupersedeReason)
	if err != nil {
		return SlipResult{}, err
	}
	issuedAt := now.Truncate(time.Second)
	id := store.NewID()
	cert := store.Certificate{
		ID:              id,
		HolderIndex:     holder,
		AccountID:       a.AccountID,
		NameCT:          s.PII.SealString(subj.Name, "certificate.name:"+id),
		IDNumberCT:      s.PII.SealString(subj.IDNumber.String(), "certificate.id_number:"+id),
		NameMasked:      idnumber.MaskName(subj.Name),
		IDMasked:        subj.IDNumber.Masked(),
		CityCode:        a.CityCode,
		IssuedAt:        issuedAt,
		ExpiresAt:       issuedAt.Add(min(s.Policy.CertificateValidity, credential.MaxSlipLifetime)),
		Channel:         a.Channel,
		StationCode:     a.StationCode,
		IssuedBy:        a.IssuedBy,
		Method:          a.Method,
		DocumentType:    a.DocumentType,
		SupersedeReason: reason,
	}
	cert.Slip, err = s.Slips.MakeSlip(ctx, SlipInput{
		CertificateID: id, IssuedAt: cert.IssuedAt, CertExpiry: cert.ExpiresAt, Channel: channel,
		Station: a.StationCode, NameMasked: cert.NameMasked, IDMasked: cert.IDMasked, IDNumber: subj.IDNumber,
	})
	if err != nil {
		return SlipResult{}, err
	}
	limit := s.Policy.WindowSlipsPerDay
	if a.Channel == store.ChannelKiosk {
		limit = s.Policy.KioskSlipsPerDay
	}
	dayStart, dayEnd := s.Policy.DayOf(now)
	result := func(issued store.Issued) SlipResult {
		return SlipResult{Certificate: issued.Certificate, Superseded: issued.Superseded, Slip: cert.Slip, Name: subj.Name, IDNumber: subj.IDNumber}
	}
	// Under an Idempotency-Key the answer, rendered from this result, is
	// recorded in the issuing transaction itself.
	ctx = store.WithResultMapping(ctx, func(v any) any { return result(v.(store.Issued)) })
	issued, err := s.Store.IssueSlip(ctx, a.Actor, store.SlipIssuance{
		Certificate: cert, FaceCheck: fcUse, Now: now,
		DayStart: dayStart, DayEnd: dayEnd, DailyLimit: limit, RenewalWindow: s.Policy.RenewalWindow,
	})
	if err != nil {
		return SlipResult{}, err
	}
	return result(issued), nil
}

// Reprint returns a stored slip with its holder's full identity, for the
// print page again after a printer failed: the same certificate and text.
func (s *Service) Reprint(ctx context.Context, id string) (SlipResult, error) {
	c, err := s.Store.Certificate(ctx, id)
	if err != nil {
		return SlipResult{}, err
	}
	if c.Slip == "" {
		return SlipResult{}, store.ErrNotFound
	}
	name, err := s.OpenName(c)
	if err != nil {
		return SlipResult{}, err
	}
	num, err := s.OpenIDNumber(c)
	if err != nil {
		return SlipResult{}, err
	}
	return SlipResult{Certificate: c, Slip: c.Slip, Name: name, IDNumber: idnumber.Number(num)}, nil
}
