package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"tempid/internal/problem"
)

// Traveller is a saved traveller (常用乘车人): a person an account applies
// for as a companion. Name and ID number are sealed with the row's
// identity; IDIndex is the ID number's blind index.
type Traveller struct {
	ID         string
	AccountID  string
	NameCT     []byte
	IDNumberCT []byte
	IDIndex    []byte
	NameMasked string
	IDMasked   string
	CreatedAt  time.Time
}

const travellerColumns = `id, account_id, name_ct, id_number_ct, id_index, name_masked, id_masked, created_at`

func scanTraveller(row interface{ Scan(...any) error }) (Traveller, error) {
	var tr Traveller
	var created int64
	err := row.Scan(&tr.ID, &tr.AccountID, &tr.NameCT, &tr.IDNumberCT, &tr.IDIndex, &tr.NameMasked, &tr.IDMasked, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return tr, ErrNotFound
	}
	tr.CreatedAt = fromMS(created)
	return tr, err
}

// TravellerLimitReached is AddTraveller's refusal when the account already
// saved limit travellers.
type TravellerLimitReached struct{ Limit int }

func (e *TravellerLimitReached) Error() string { return "store: saved travellers limit reached" }

// AddTraveller saves a traveller for its account, at most limit per
// account. A person (the blind index) already saved is not saved twice:
// the saved row is returned with added false. The account's row is
// locked first, so two additions in parallel cannot both take the last
// place.
func (s *Store) AddTraveller(ctx context.Context, actor Actor, tr Traveller, limit int) (saved Traveller, added bool, err error) {
	err = s.write(ctx, func(t *Tx) error {
		var id string
		if err := t.queryRow(ctx, `SELECT id FROM accounts WHERE id = $1 AND deleted_at IS NULL`+s.dialect.lockRow, tr.AccountID).Scan(&id); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return problem.New(problem.NotFound, "no such account")
			}
			return err
		}
		old, err := scanTraveller(t.queryRow(ctx, `SELECT `+travellerColumns+` FROM travellers WHERE account_id = $1 AND id_index = $2`,
			tr.AccountID, tr.IDIndex))
		if err == nil {
			saved, added = old, false
			return nil
		}
		if !errors.Is(err, ErrNotFound) {
			return err
		}
		var n int
		if err := t.queryRow(ctx, `SELECT count(*) FROM travellers WHERE account_id = $1`, tr.AccountID).Scan(&n); err != nil {
			return err
		}
		if n >= limit {
			return &TravellerLimitReached{Limit: limit}
		}
		if _, err := t.exec(ctx, `INSERT INTO travellers (`+travellerColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			tr.ID, tr.AccountID, tr.NameCT, tr.IDNumberCT, tr.IDIndex, tr.NameMasked, tr.IDMasked, ms(tr.CreatedAt)); err != nil {
			return err
		}
		saved, added = tr, true
		return t.audit(ctx, tr.CreatedAt, actor, "traveller.add", "traveller:"+tr.ID, map[string]any{
			"account": tr.AccountID, "holder": tr.NameMasked, "id_number": tr.IDMasked,
		})
	})
	return saved, added, err
}

// Travellers lists an account's saved travellers, oldest first.
func (s *Store) Travellers(ctx context.Context, accountID string) ([]Traveller, error) {
	return queryAll(ctx, s, scanTraveller, `SELECT `+travellerColumns+` FROM travellers WHERE account_id = $1 ORDER BY created_at, id`, accountID)
}

// TravellerOf returns a saved traveller of an account; another account's
// is ErrNotFound, as one that does not exist.
func (s *Store) TravellerOf(ctx context.Context, accountID, id string) (Traveller, error) {
	tr, err := scanTraveller(s.queryRow(ctx, `SELECT `+travellerColumns+` FROM travellers WHERE id = $1 AND account_id = $2`, id, accountID))
	return tr, classify(err)
}

// DeleteTraveller removes a saved traveller of an account; another
// account's is not found.
func (s *Store) DeleteTraveller(ctx context.Context, actor Actor, accountID, id string, now time.Time) error {
	return s.write(ctx, func(t *Tx) error {
		var masked string
		err := t.queryRow(ctx, `DELETE FROM travellers WHERE id = $1 AND account_id = $2 RETURNING id_masked`, id, accountID).Scan(&masked)
		if errors.Is(err, sql.ErrNoRows) {
			return problem.New(problem.NotFound, "no such saved traveller")
		}
		if err != nil {
			return err
		}
		return t.audit(ctx, now, actor, "traveller.remove", "traveller:"+id, map[string]any{"account": accountID, "id_number": masked})
	})
}
