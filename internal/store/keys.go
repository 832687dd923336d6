package store

import (
	"context"
	"database/sql"
	"time"
)

// IssuerKey is a stored Ed25519 issuer key. The private key is wrapped
// under the master key (pii.Keyring.Wrap); the public key and kid are in
// the clear because they are published.
type IssuerKey struct {
	ID        string
	KID       string // 8 lowercase hex digits, credential.KeyID of the public key
	PublicKey []byte
	PrivateCT []byte
	// NotBefore and NotAfter bound the pass_nbf the key may sign.
	NotBefore time.Time
	NotAfter  time.Time
	CreatedAt time.Time
}

// SealKey is a stored AES-256 seal key, wrapped under the master key.
type SealKey struct {
	KID       uint16
	KeyCT     []byte
	NotBefore time.Time
	NotAfter  time.Time
	CreatedAt time.Time
}

// KeyPair is an issuer key and the seal key that starts with it.
type KeyPair struct {
	Issuer IssuerKey
	Seal   SealKey
}

// Keys returns every issuer and seal key, oldest window first.
func (s *Store) Keys(ctx context.Context) ([]IssuerKey, []SealKey, error) {
	return keysOf(ctx, s.r.QueryContext)
}

// keysOf reads every key through query, which is the pool's or a
// transaction's, so that the scheduler plans from what its transaction sees.
func keysOf(ctx context.Context, query func(ctx context.Context, q string, args ...any) (*sql.Rows, error)) ([]IssuerKey, []SealKey, error) {
	rows, err := query(ctx, `SELECT id, kid, public_key, private_ct, not_before, not_after, created_at FROM issuer_keys ORDER BY not_before, id`)
	if err != nil {
		return nil, nil, classify(err)
	}
	var issuers []IssuerKey
	for rows.Next() {
		var k IssuerKey
		var nb, na, ca int64
		if err := rows.Scan(&k.ID, &k.KID, &k.PublicKey, &k.PrivateCT, &nb, &na, &ca); err != nil {
			rows.Close()
			return nil, nil, err
		}
		k.NotBefore, k.NotAfter, k.CreatedAt = fromMS(nb), fromMS(na), fromMS(ca)
		issuers = append(issuers, k)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, classify(err)
	}
	rows, err = query(ctx, `SELECT kid, key_ct, not_before, not_after, created_at FROM seal_keys ORDER BY not_before, kid`)
	if err != nil {
		return nil, nil, classify(err)
	}
	defer rows.Close()
	var seals []SealKey
	for rows.Next() {
		var k SealKey
		var kid, nb, na, ca int64
		if err := rows.Scan(&kid, &k.KeyCT, &nb, &na, &ca); err != nil {
			return nil, nil, err
		}
		k.KID, k.NotBefore, k.NotAfter, k.CreatedAt = uint16(kid), fromMS(nb), fromMS(na), fromMS(ca)
		seals = append(seals, k)
	}
	return issuers, seals, classify(rows.Err())
}

// KeyPlan decides, from every key there is, which key pair to add next;
// nil means nothing is to be added. It runs inside the scheduling
// transaction, possibly more than once, so it must be a pure function of
// its arguments (fresh random keys aside).
type KeyPlan func(issuers []IssuerKey, seals []SealKey) (*KeyPair, error)

// ScheduleKeys adds the key pair plan asks for, in one transaction that
// holds the schedule's lock row: the latest issuer key's and seal key's
// windows are ended where the new pair's begins (so exactly one key signs
// at any time), the new pair is inserted, and both changes are audited.
// It returns the pair added, or nil when plan asked for none.
func (s *Store) ScheduleKeys(ctx context.Context, actor Actor, now time.Time, plan KeyPlan) (*KeyPair, error) {
	var out *KeyPair
	err := s.write(ctx, func(t *Tx) error {
		out = nil
		// The lock: a second scheduler waits here, then sees the keys the
		// first one added and plans nothing.
		if _, err := t.exec(ctx, `UPDATE key_schedule SET version = version + 1 WHERE id = 1`); err != nil {
			return err
		}
		issuers, seals, err := keysOf(ctx, t.query)
		if err != nil {
			return err
		}
		p, err := plan(issuers, seals)
		if err != nil || p == nil {
			return err
		}
		start := ms(p.Issuer.NotBefore)
		if n := len(issuers); n > 0 {
			last := issuers[n-1]
			if _, err := t.exec(ctx, `UPDATE issuer_keys SET not_after = $1 WHERE id = $2`, start, last.ID); err != nil {
				return err
			}
			if err := t.audit(ctx, now, actor, "key.issuer.end", "issuer_key:"+last.KID, map[string]any{
				"not_after": p.Issuer.NotBefore, "was": last.NotAfter, "successor": p.Issuer.KID,
			}); err != nil {
				return err
			}
		}
		if n := len(seals); n > 0 {
			if _, err := t.exec(ctx, `UPDATE seal_keys SET not_after = $1 WHERE kid = $2`, ms(p.Seal.NotBefore), int64(seals[n-1].KID)); err != nil {
				return err
			}
		}
		k := p.Issuer
		if _, err := t.exec(ctx, `INSERT INTO issuer_keys (id, kid, public_key, private_ct, not_before, not_after, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, k.ID, k.KID, k.PublicKey, k.PrivateCT, start, ms(k.NotAfter), ms(k.CreatedAt)); err != nil {
			return err
		}
		sk := p.Seal
		if _, err := t.exec(ctx, `INSERT INTO seal_keys (kid, key_ct, not_before, not_after, created_at) VALUES ($1, $2, $3, $4, $5)`,
			int64(sk.KID), sk.KeyCT, ms(sk.NotBefore), ms(sk.NotAfter), ms(sk.CreatedAt)); err != nil {
			return err
		}
		if err := t.audit(ctx, now, actor, "key.create", "issuer_key:"+k.KID, map[string]any{
			"not_before": k.NotBefore, "not_after": k.NotAfter, "seal_kid": sk.KID,
		}); err != nil {
			return err
		}
		out = p
		return nil
	})
	return out, err
}
