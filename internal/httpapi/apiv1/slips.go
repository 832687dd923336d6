package apiv1

import "time"

// SlipLookupRequest is the body of POST /api/v1/slips/lookup.
type SlipLookupRequest struct {
	Name     string `json:"name"`
	IDNumber string `json:"id_number"`
}

// SlipLookup is the registry's answer at the window: whether it confirms
// the pair and, where it has one, its reference photo (a data URL, for the
// screen; never stored).
type SlipLookup struct {
	Confirmed bool   `json:"confirmed"`
	Photo     string `json:"photo,omitempty"`
}

// SlipRequest is the body of POST /api/v1/slips.
type SlipRequest struct {
	Name            string `json:"name"`
	IDNumber        string `json:"id_number"`
	Method          string `json:"method"`
	DocumentType    string `json:"document_type,omitempty"`
	Note            string `json:"note,omitempty"`
	CityCode        string `json:"city_code,omitempty"`
	SupersedeReason string `json:"supersede_reason,omitempty"`
}

// KioskFaceCheckRequest is the body of POST /api/v1/kiosk/face-checks: no
// device key, since the slip is paper.
type KioskFaceCheckRequest struct {
	Purpose string   `json:"purpose"`
	Subject *Subject `json:"subject,omitempty"`
	Consent bool     `json:"consent"`
}

// KioskSlipRequest is the body of POST /api/v1/kiosk/slips.
type KioskSlipRequest struct {
	FaceCheckID string `json:"face_check_id"`
	Name        string `json:"name"`
	IDNumber    string `json:"id_number"`
	CityCode    string `json:"city_code,omitempty"`
}

// SlipHolder is the full identity printed beside a slip's QR.
type SlipHolder struct {
	IDNumber string `json:"id_number"`
	Name     string `json:"name"`
}

// Slip is an issued (or reprinted) slip: the certificate, the TIDS1: text
// and the identity to print.
type Slip struct {
	Certificate Certificate `json:"certificate"`
	Holder      SlipHolder  `json:"holder"`
	Slip        string      `json:"slip"`
}

// SlipUse is one recorded use of a slip.
type SlipUse struct {
	At          time.Time `json:"at"`
	Operation   string    `json:"operation"`
	StationCode string    `json:"station_code"`
}
