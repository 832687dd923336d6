// Package apiv1 is the contract of tempid's HTTP API v1 (API.md) as Go
// types: the request bodies the server reads and the answers it sends. The
// server, the load generator and the tests all use these types, so that a
// renamed or retyped member breaks the build rather than a client.
//
// The answers were maps before they were types, and encoding/json writes
// a map's members in sorted order: the members of every answer type are
// declared in that order so that the bytes on the wire stayed the same.
// Keep a new member in its sorted place. Types embedded whole from the
// domain (Quota, City and the statistics) keep their own declared order.
package apiv1

import (
	"encoding/json"
	"time"
)

// Account is an account as the API shows it. A passenger's masked name
// and ID number are always shown; the full ones only to the passenger
// themselves (session and login), to pre-fill applications.
type Account struct {
	CreatedAt time.Time `json:"created_at"`
	// DisabledAt is set while an administrator has the account disabled.
	DisabledAt     time.Time `json:"disabled_at,omitzero"`
	ID             string    `json:"id"`
	IDNumber       string    `json:"id_number,omitempty"`
	IDNumberMasked string    `json:"id_number_masked,omitempty"`
	Name           string    `json:"name,omitempty"`
	NameMasked     string    `json:"name_masked,omitempty"`
	Role           string    `json:"role"`
	StationCode    string    `json:"station_code,omitempty"`
	Username       string    `json:"username"`
}

// SignUpRequest is the body of POST /api/v1/accounts.
type SignUpRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Name     string `json:"name"`
	IDNumber string `json:"id_number"`
	Phone    string `json:"phone,omitempty"`
}

// AccountResponse is the answer to sign-up and to creating staff.
type AccountResponse struct {
	Account Account `json:"account"`
}

// LoginRequest is the body of POST /api/v1/session.
type LoginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// Session is the answer to login and to GET /api/v1/session; only the
// latter says when the session expires.
type Session struct {
	Account   Account   `json:"account"`
	CSRFToken string    `json:"csrf_token"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// City is a prefecture-level division.
type City struct {
	Code     string `json:"code"`
	Name     string `json:"name"`
	Province string `json:"province"`
}

// Located is the answer to GET /api/v1/regions/locate: the city at the
// position, or null.
type Located struct {
	City *City `json:"city"`
}

// Cities is the answer to GET /api/v1/regions/cities.
type Cities struct {
	Cities []City `json:"cities"`
}

// Subject is the person a face check or an application is for.
type Subject struct {
	Name     string `json:"name"`
	IDNumber string `json:"id_number"`
}

// FaceCheckRequest is the body of POST /api/v1/face-checks: a Subject for
// purpose apply, a CertificateID for purpose view.
type FaceCheckRequest struct {
	Purpose       string          `json:"purpose"`
	Subject       *Subject        `json:"subject,omitempty"`
	CertificateID string          `json:"certificate_id,omitempty"`
	DeviceKey     json.RawMessage `json:"device_key,omitempty"`
	Consent       bool            `json:"consent"`
}

// FaceCheck is a face check: in full when it starts, then its id, status
// and (failed) reason after the capture.
//
// A capture check names CaptureURL, where the app posts the picture; a
// hosted check (docs/api-face-checks.md) names RedirectURL, the provider's
// page the passenger goes to, and CompleteURL, which the app calls on the
// passenger's return.
type FaceCheck struct {
	CaptureURL  string    `json:"capture_url,omitempty"`
	CompleteURL string    `json:"complete_url,omitempty"`
	ExpiresAt   time.Time `json:"expires_at,omitzero"`
	ID          string    `json:"id"`
	Provider    string    `json:"provider,omitempty"`
	Purpose     string    `json:"purpose,omitempty"`
	Reason      string    `json:"reason,omitempty"`
	RedirectURL string    `json:"redirect_url,omitempty"`
	Status      string    `json:"status"`
}

// FaceCheckResponse wraps a face check.
type FaceCheckResponse struct {
	FaceCheck FaceCheck `json:"face_check"`
}

// Holder is the person a certificate or a verified code belongs to. A
// certificate shows the masked name and ID number; a verification adds
// name (the masked name, but a slip's full name where API.md shows the
// full identity) and, for those operations only, the full ID number, and
// for a slip at a staff session the registry's reference photo.
type Holder struct {
	IDNumber       string `json:"id_number,omitempty"`
	IDNumberMasked string `json:"id_number_masked"`
	Name           string `json:"name,omitempty"`
	NameMasked     string `json:"name_masked"`
	Photo          string `json:"photo,omitempty"`
}

// CertificateCity is the city a certificate was issued for.
type CertificateCity struct {
	Code string `json:"code"`
	Name string `json:"name"`
}

// Certificate is a certificate with masked data only. RevokeReason is
// shown to administrators and to the account that applied for it,
// SupersededBy to that account only.
type Certificate struct {
	Channel      string          `json:"channel"`
	City         CertificateCity `json:"city"`
	ExpiresAt    time.Time       `json:"expires_at"`
	Holder       Holder          `json:"holder"`
	ID           string          `json:"id"`
	IssuedAt     time.Time       `json:"issued_at"`
	RenewableAt  time.Time       `json:"renewable_at"`
	RevokeReason string          `json:"revoke_reason,omitempty"`
	Status       string          `json:"status"`
	// SupersededBy is the certificate that replaced a superseded one;
	// shown to the account that applied for it.
	SupersededBy string `json:"superseded_by,omitempty"`
}

// CertificateResponse wraps one certificate.
type CertificateResponse struct {
	Certificate Certificate `json:"certificate"`
}

// Certificates is a list of certificates: a passenger's in a month, or
// an administrator's search (no month).
type Certificates struct {
	Certificates []Certificate `json:"certificates"`
	Month        string        `json:"month,omitempty"`
}

// Pass is a signed pass (base64url) and when it is good; the phone makes
// a code from it every StepSeconds (CREDENTIAL.md).
type Pass struct {
	NotAfter    time.Time `json:"not_after"`
	NotBefore   time.Time `json:"not_before"`
	Pass        string    `json:"pass"`
	StepSeconds int       `json:"step_seconds"`
}

// PassRequest is the body of POST /api/v1/certificates/{id}/passes.
type PassRequest struct {
	FaceCheckID string `json:"face_check_id"`
}

// PassResponse wraps a new pass.
type PassResponse struct {
	Pass Pass `json:"pass"`
}

// Quota is a person's certificates in a month.
type Quota struct {
	Month     string    `json:"month"`
	Used      int       `json:"used"`
	Limit     int       `json:"limit"`
	Remaining int       `json:"remaining"`
	ResetsAt  time.Time `json:"resets_at"`
}

// QuotaResponse is the answer to GET /api/v1/quota.
type QuotaResponse struct {
	Quota Quota `json:"quota"`
}

// ApplyRequest is the body of POST /api/v1/certificates.
type ApplyRequest struct {
	FaceCheckID string `json:"face_check_id"`
	Name        string `json:"name"`
	IDNumber    string `json:"id_number"`
	CityCode    string `json:"city_code"`
}

// Applied is the answer to an application: the certificate, its first
// pass when the face check bound a device, and the quota after it.
type Applied struct {
	Certificate Certificate `json:"certificate"`
	Pass        *Pass       `json:"pass,omitempty"`
	Quota       Quota       `json:"quota"`
}

// VerifyRequest is the body of POST /api/v1/verifications.
type VerifyRequest struct {
	Code        string `json:"code"`
	Operation   string `json:"operation"`
	StationCode string `json:"station_code,omitempty"`
}

// VerifiedCertificate is the certificate a verified code names.
type VerifiedCertificate struct {
	ExpiresAt time.Time `json:"expires_at"`
	ID        string    `json:"id"`
	Status    string    `json:"status"`
}

// VerifyResponse is a verdict: an answer, not an error, whether the code
// is valid or not. Reason is set when it is invalid; Certificate and
// Holder when the issuer signed the pass.
type VerifyResponse struct {
	Certificate *VerifiedCertificate `json:"certificate,omitempty"`
	Holder      *Holder              `json:"holder,omitempty"`
	// Kind is "code" or "slip".
	Kind         string    `json:"kind"`
	PassNotAfter time.Time `json:"pass_not_after,omitzero"`
	Reason       string    `json:"reason,omitempty"`
	Replay       bool      `json:"replay"`
	// UsedElsewhere and Uses are a slip's: a warning that it was admitted
	// at another station within 2 h (the verdict stays valid), and its
	// last uses.
	UsedElsewhere *bool     `json:"used_elsewhere,omitempty"`
	Uses          []SlipUse `json:"uses,omitempty"`
	Verdict       string    `json:"verdict"`
	VerifiedAt    time.Time `json:"verified_at"`
}

// Verdicts.
const (
	Valid   = "valid"
	Invalid = "invalid"
)

// Terminal is a registered gate or scanner.
type Terminal struct {
	CreatedAt time.Time `json:"created_at"`
	// DisabledAt is set while an administrator has the terminal disabled.
	DisabledAt  time.Time `json:"disabled_at,omitzero"`
	ID          string    `json:"id"`
	Kind        string    `json:"kind"`
	Name        string    `json:"name"`
	Offline     bool      `json:"offline"`
	RevokedAt   time.Time `json:"revoked_at,omitzero"`
	StationCode string    `json:"station_code"`
}

// Verifier is the answer to GET /api/v1/verifier: the terminal or the
// staff account the server takes the caller for.
type Verifier struct {
	Account  *Account  `json:"account,omitempty"`
	Terminal *Terminal `json:"terminal,omitempty"`
}

// PublishedKey is an issuer key as /.well-known/tempid/keys publishes it.
type PublishedKey struct {
	Alg       string    `json:"alg"`
	KID       string    `json:"kid"`
	NotAfter  time.Time `json:"not_after"`
	NotBefore time.Time `json:"not_before"`
	PublicKey string    `json:"public_key"`
}

// PublishedKeys is the answer of /.well-known/tempid/keys.
type PublishedKeys struct {
	Keys []PublishedKey `json:"keys"`
}

// About says what kind of server this is: Demo is true when it runs with
// --demo (a development registry, a face simulator that compares no
// faces), so that every app can say so on screen.
type About struct {
	Demo bool `json:"demo"`
}

// Health is the answer of /healthz and /readyz.
type Health struct {
	Database string `json:"database,omitempty"`
	// Providers names each outside provider (identity registry, face
	// vendor) with "ok" or why it is unavailable; absent without any.
	Providers map[string]string `json:"providers,omitempty"`
	Status    string            `json:"status"`
	Writable  bool              `json:"writable,omitempty"`
}

// GuestPassResponse is the answer to POST /api/v1/guest/passes: the
// subject's active certificate and a pass of it for the check's device.
type GuestPassResponse struct {
	Certificate Certificate `json:"certificate"`
	Pass        Pass        `json:"pass"`
}

// CertificateStatusRequest is the body of POST
// /api/v1/guest/certificate-status: a current code from the phone.
type CertificateStatusRequest struct {
	Code string `json:"code"`
}

// CertificateStatus is a certificate's id, status and expiry, as a
// guest's app learns them with a code.
type CertificateStatus struct {
	ID        string    `json:"id"`
	Status    string    `json:"status"`
	ExpiresAt time.Time `json:"expires_at"`
}

// CertificateStatusResponse wraps a CertificateStatus.
type CertificateStatusResponse struct {
	Certificate CertificateStatus `json:"certificate"`
}
