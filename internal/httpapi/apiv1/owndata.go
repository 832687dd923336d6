package apiv1

import "time"

// A passenger's own data (API.md "Guest (no account) and data rights";
// docs/design.md "Data-subject rights").

// Traveller is a saved traveller (常用乘车人). Its name is shown in full to
// the account that typed it (not in the data download, which is masked
// throughout); the ID number masked, and in full only by
// GET /api/v1/travellers/{id}, to fill an application.
type Traveller struct {
	CreatedAt      time.Time `json:"created_at"`
	ID             string    `json:"id"`
	IDNumber       string    `json:"id_number,omitempty"`
	IDNumberMasked string    `json:"id_number_masked"`
	Name           string    `json:"name,omitempty"`
	NameMasked     string    `json:"name_masked"`
}

// TravellerRequest is the body of POST /api/v1/travellers.
type TravellerRequest struct {
	Name     string `json:"name"`
	IDNumber string `json:"id_number"`
}

// TravellerResponse wraps one saved traveller.
type TravellerResponse struct {
	Traveller Traveller `json:"traveller"`
}

// Travellers is the answer to GET /api/v1/travellers: the saved
// travellers, oldest first, and how many an account may keep.
type Travellers struct {
	Limit      int         `json:"limit"`
	Travellers []Traveller `json:"travellers"`
}

// DeleteAccountRequest is the body of DELETE /api/v1/accounts/me: the
// password, given again.
type DeleteAccountRequest struct {
	Password string `json:"password"`
}

// OwnAccount is the account as its own data shows it: identity and phone
// masked.
type OwnAccount struct {
	CreatedAt      time.Time `json:"created_at"`
	ID             string    `json:"id"`
	IDNumberMasked string    `json:"id_number_masked"`
	NameMasked     string    `json:"name_masked"`
	PhoneMasked    string    `json:"phone_masked,omitempty"`
	Role           string    `json:"role"`
	Username       string    `json:"username"`
}

// FaceCheckRecord is a face check as it is kept: what for, the result and
// who checked, never an image (none is stored).
type FaceCheckRecord struct {
	CertificateID string    `json:"certificate_id,omitempty"`
	CompletedAt   time.Time `json:"completed_at,omitzero"`
	ConsentAt     time.Time `json:"consent_at"`
	CreatedAt     time.Time `json:"created_at"`
	ID            string    `json:"id"`
	Provider      string    `json:"provider"`
	Purpose       string    `json:"purpose"`
	Reason        string    `json:"reason,omitempty"`
	// Result is pending, passed or failed.
	Result      string    `json:"result"`
	SubjectName string    `json:"subject_name_masked"`
	UsedAt      time.Time `json:"used_at,omitzero"`
}

// Consent is a consent of the account and, once withdrawn, when.
type Consent struct {
	GivenAt time.Time `json:"given_at"`
	ID      string    `json:"id"`
	Purpose string    `json:"purpose"`
	// Status is "given" or "withdrawn".
	Status      string    `json:"status"`
	WithdrawnAt time.Time `json:"withdrawn_at,omitzero"`
}

// Device is a device key that was given passes of the account's
// certificates, named by the SHA-256 of its public key (hex).
type Device struct {
	FirstPassAt time.Time `json:"first_pass_at"`
	KeyHash     string    `json:"key_hash"`
	LastPassAt  time.Time `json:"last_pass_at"`
	Passes      int       `json:"passes"`
	RevokedAt   time.Time `json:"revoked_at,omitzero"`
}

// SessionRecord is a login session; its token is never shown (only its
// hash is kept).
type SessionRecord struct {
	CreatedAt time.Time `json:"created_at"`
	Current   bool      `json:"current,omitempty"`
	EndedAt   time.Time `json:"ended_at,omitzero"`
	ExpiresAt time.Time `json:"expires_at"`
	ID        string    `json:"id"`
}

// OwnData is the answer to GET /api/v1/me/data: what tempid holds about
// the passenger, personal data masked. Certificates are those the account
// applied for (for the passenger or a companion); CertificatesHeld those
// issued to the passenger's identity otherwise (by another account, as a
// guest, at a window or a kiosk).
type OwnData struct {
	Account          OwnAccount        `json:"account"`
	Certificates     []Certificate     `json:"certificates"`
	CertificatesHeld []Certificate     `json:"certificates_held"`
	Consents         []Consent         `json:"consents"`
	Devices          []Device          `json:"devices"`
	ExportedAt       time.Time         `json:"exported_at"`
	FaceChecks       []FaceCheckRecord `json:"face_checks"`
	Sessions         []SessionRecord   `json:"sessions"`
	Travellers       []Traveller       `json:"travellers"`
}
