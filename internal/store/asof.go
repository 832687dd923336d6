package store

import (
	"context"
	"time"
)

// CertificateAndDeviceAsOf is CertificateAndDevice with the device's
// revocation as it stood at a past instant: only a revocation made by then
// counts. The certificate is returned as it is now; its ChangedAt tells
// when its status last changed.
func (s *Store) CertificateAndDeviceAsOf(ctx context.Context, id string, deviceHash []byte, at time.Time) (c Certificate, deviceRevoked bool, err error) {
	var statusAt int64
	c, err = scanVerified(s.hotRead(ctx, `SELECT `+verifiedColumns+`, status_at,
		EXISTS (SELECT 1 FROM revoked_devices WHERE device_key_hash = $2 AND revoked_at <= $3 AND expires_at > $3)
		FROM certificates WHERE id = $1`, id, deviceHash, ms(at)), id, &statusAt, &deviceRevoked)
	if err == nil {
		c.ChangedAt = fromMS(statusAt)
	}
	return c, deviceRevoked, classify(err)
}
