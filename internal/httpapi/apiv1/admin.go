package apiv1

import (
	"encoding/json"
	"time"
)

// CreateStaffRequest is the body of POST /api/v1/admin/staff.
type CreateStaffRequest struct {
	Username    string `json:"username"`
	Password    string `json:"password"`
	Role        string `json:"role"`
	StationCode string `json:"station_code,omitempty"`
}

// StaffList is the answer to GET /api/v1/admin/staff.
type StaffList struct {
	Staff []Account `json:"staff"`
}

// CreateTerminalRequest is the body of POST /api/v1/admin/terminals.
type CreateTerminalRequest struct {
	Name        string `json:"name"`
	StationCode string `json:"station_code"`
	Offline     bool   `json:"offline"`
	// Kind is gate, handheld (the default when empty) or kiosk.
	Kind string `json:"kind,omitempty"`
}

// NewTerminal is the answer to registering a terminal: its API key is
// shown this once.
type NewTerminal struct {
	APIKey   string   `json:"api_key"`
	Terminal Terminal `json:"terminal"`
}

// Terminals is the answer to GET /api/v1/admin/terminals.
type Terminals struct {
	Terminals []Terminal `json:"terminals"`
}

// RevokeRequest is the body of POST /api/v1/admin/certificates/{id}/revoke.
type RevokeRequest struct {
	// Note is free text for the audit log; the passenger never sees it.
	Note string `json:"note,omitempty"`
	// Reason is found_id_card, wrong_details, suspected_misuse or other
	// (which needs a note); any other text is taken as other with that
	// text as the note.
	Reason string `json:"reason"`
}

// AuditEntry is one entry of the audit log; Detail is its stored JSON
// object.
type AuditEntry struct {
	Action string `json:"action"`
	Actor  string `json:"actor"`
	// ActorName is the actor in words: a staff or passenger username, a
	// terminal's name, or system, cli or guest as Actor says.
	ActorName string `json:"actor_name"`
	// ActorRole is the account's role, "terminal", or system, cli or guest.
	ActorRole string          `json:"actor_role"`
	At        time.Time       `json:"at"`
	Detail    json.RawMessage `json:"detail"`
	ID        int64           `json:"id"`
	Object    string          `json:"object"`
}

// AuditEntries is the answer to GET /api/v1/admin/audit.
type AuditEntries struct {
	Entries []AuditEntry `json:"entries"`
}

// AuditBreak is where the audit chain first does not hold.
type AuditBreak struct {
	EntryID int64  `json:"entry_id"`
	Reason  string `json:"reason"`
	Seq     int64  `json:"seq"`
}

// AuditCheck is the answer to GET /api/v1/admin/audit/verify.
type AuditCheck struct {
	Entries  int64       `json:"entries"`
	FirstBad *AuditBreak `json:"first_bad,omitempty"`
	OK       bool        `json:"ok"`
	Pending  int64       `json:"pending"`
}

// KeyRotation is the answer to POST /api/v1/admin/keys/rotate: the key
// scheduled, and whether this call created it.
type KeyRotation struct {
	Created bool         `json:"created"`
	Key     ScheduledKey `json:"key"`
}

// ScheduledKey is an issuer key in the schedule.
type ScheduledKey struct {
	KID       string    `json:"kid"`
	NotAfter  time.Time `json:"not_after"`
	NotBefore time.Time `json:"not_before"`
}

// Count is a number in a time bucket.
type Count struct {
	At    time.Time `json:"at"`
	Count int64     `json:"count"`
}

// VerifyCount is verifications in a time bucket, by verdict.
type VerifyCount struct {
	At      time.Time `json:"at"`
	Valid   int64     `json:"valid"`
	Invalid int64     `json:"invalid"`
	// Offline counts the verifications terminals made offline and
	// uploaded later (POST /api/v1/terminal/scans).
	Offline int64 `json:"offline"`
	// Replayed and Malformed split Invalid: codes shown again, and scans
	// that are no code; the rest are real rejections.
	Replayed  int64 `json:"replayed"`
	Malformed int64 `json:"malformed"`
}

// ReasonCount is a number of failures with one reason.
type ReasonCount struct {
	Reason string `json:"reason"`
	Count  int64  `json:"count"`
}

// CityCount is a number of certificates from one city.
type CityCount struct {
	Code  string `json:"code"`
	Count int64  `json:"count"`
	Name  string `json:"name"`
}

// ApplicantCount is a number of certificates applied for by logged-in
// accounts ("account") or by guests ("guest").
type ApplicantCount struct {
	Applicant string `json:"applicant"`
	Count     int64  `json:"count"`
}

// Stats is the answer to GET /api/v1/admin/stats; Bucket is the bucket
// as asked ("" for the default, hour).
type Stats struct {
	Applicants    []ApplicantCount `json:"applicants"`
	Bucket        string           `json:"bucket"`
	Channels      []ChannelCount   `json:"channels"`
	Cities        []CityCount      `json:"cities"`
	FaceFailures  []ReasonCount    `json:"face_failures"`
	Failures      []ReasonCount    `json:"failures"`
	From          time.Time        `json:"from"`
	Issuance      []Count          `json:"issuance"`
	Officers      []OfficerCount   `json:"officers"`
	To            time.Time        `json:"to"`
	Verifications []VerifyCount    `json:"verifications"`
}

// ChannelCount is the number of certificates issued through one channel:
// app, window or kiosk.
type ChannelCount struct {
	Channel string `json:"channel"`
	Count   int64  `json:"count"`
}

// OfficerCount is the number of slips one officer issued at the window.
type OfficerCount struct {
	ID          string `json:"id"`
	Slips       int64  `json:"slips"`
	StationCode string `json:"station_code"`
	Username    string `json:"username"`
}

// UpdateTerminalRequest is the body of PATCH /api/v1/admin/terminals/{id};
// members left out stay as they are.
type UpdateTerminalRequest struct {
	Disabled *bool   `json:"disabled,omitempty"`
	Name     *string `json:"name,omitempty"`
	Offline  *bool   `json:"offline,omitempty"`
}

// UpdateStaffRequest is the body of PATCH /api/v1/admin/staff/{id};
// members left out stay as they are.
type UpdateStaffRequest struct {
	Disabled    *bool   `json:"disabled,omitempty"`
	StationCode *string `json:"station_code,omitempty"`
}

// TerminalResponse is the answer to PATCH /api/v1/admin/terminals/{id}.
type TerminalResponse struct {
	Terminal Terminal `json:"terminal"`
}
