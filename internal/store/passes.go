package store

import (
	"context"
	"time"
)

// Pass records an issued pass: which device key may show codes for which
// certificate, from which login session. No pass bytes are kept; the
// record is what logout needs to revoke the session's device keys (R4).
type Pass struct {
	ID            string
	CertificateID string
	FaceCheckID   string
	SessionID     string
	DeviceKeyHash []byte
	IssuerKID     string
	NotBefore     time.Time
	NotAfter      time.Time
	IssuedAt      time.Time
}

func (t *Tx) insertPass(ctx context.Context, actor Actor, p Pass) error {
	if _, err := t.exec(ctx, insertPass, p.insertArgs()...); err != nil {
		return err
	}
	return t.audit(ctx, p.IssuedAt, actor, "pass.issue", "certificate:"+p.CertificateID, p.auditDetail())
}

const insertPass = `INSERT INTO passes (id, certificate_id, face_check_id, session_id, device_key_hash, issuer_kid, not_before, not_after, issued_at)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`

func (p Pass) insertArgs() []any {
	return []any{p.ID, p.CertificateID, p.FaceCheckID, p.SessionID, p.DeviceKeyHash, p.IssuerKID, ms(p.NotBefore), ms(p.NotAfter), ms(p.IssuedAt)}
}

func (p Pass) auditDetail() passDetail {
	return passDetail{FaceCheck: p.FaceCheckID, IssuerKID: p.IssuerKID, NotAfter: p.NotAfter, Pass: p.ID}
}

// passDetail is the audit detail of a pass, its members in the order of
// their names.
type passDetail struct {
	FaceCheck string    `json:"face_check"`
	IssuerKID string    `json:"issuer_kid"`
	NotAfter  time.Time `json:"not_after"`
	Pass      string    `json:"pass"`
}
