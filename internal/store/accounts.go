package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"tempid/internal/problem"
)

// Account roles.
const (
	RolePassenger = "passenger"
	RoleStaff     = "staff"
	// RoleOfficer is a railway officer at a station's manual window: a
	// staff member who also issues slips.
	RoleOfficer = "officer"
	RoleAdmin   = "admin"
)

// Account is a passenger, staff or admin login. A passenger's real-name
// identity is sealed; staff accounts have none.
type Account struct {
	ID           string
	Username     string
	PasswordHash string
	Role         string
	StationCode  string
	NameCT       []byte
	IDNumberCT   []byte
	IDIndex      []byte
	NameMasked   string
	IDMasked     string
	PhoneCT      []byte
	CreatedAt    time.Time
	DisabledAt   time.Time
}

const accountColumns = `id, username, password_hash, role, station_code, name_ct, id_number_ct, id_index, name_masked, id_masked,
	phone_ct, created_at, disabled_at`

func scanAccount(row interface{ Scan(...any) error }) (Account, error) {
	var a Account
	var station sql.NullString
	var created int64
	var disabled sql.NullInt64
	err := row.Scan(&a.ID, &a.Username, &a.PasswordHash, &a.Role, &station, &a.NameCT, &a.IDNumberCT, &a.IDIndex, &a.NameMasked,
		&a.IDMasked, &a.PhoneCT, &created, &disabled)
	if errors.Is(err, sql.ErrNoRows) {
		return a, ErrNotFound
	}
	a.StationCode, a.CreatedAt, a.DisabledAt = station.String, fromMS(created), nullMS(disabled)
	return a, err
}

// NormalizeUsername is the form usernames are stored and compared in.
func NormalizeUsername(u string) string { return strings.ToLower(strings.TrimSpace(u)) }

// CreateAccount inserts an account; a taken username is a conflict.
func (s *Store) CreateAccount(ctx context.Context, actor Actor, a Account) error {
	return s.write(ctx, func(t *Tx) error {
		_, err := t.exec(ctx, `INSERT INTO accounts (`+accountColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, NULL)`,
			a.ID, NormalizeUsername(a.Username), a.PasswordHash, a.Role, nullString(a.StationCode), a.NameCT, a.IDNumberCT, a.IDIndex,
			a.NameMasked, a.IDMasked, a.PhoneCT, ms(a.CreatedAt))
		if isUniqueViolation(err) {
			return problem.New(problem.Conflict, "this username is taken")
		}
		if err != nil {
			return err
		}
		return t.audit(ctx, a.CreatedAt, actor, "account.create", "account:"+a.ID, map[string]any{
			"role": a.Role, "station": a.StationCode, "holder": a.NameMasked, "id_number": a.IDMasked,
		})
	})
}

// Account returns an account by id.
func (s *Store) Account(ctx context.Context, id string) (Account, error) {
	a, err := scanAccount(s.queryRow(ctx, `SELECT `+accountColumns+` FROM accounts WHERE id = $1`, id))
	return a, classify(err)
}

// AccountByUsername returns an account by username.
func (s *Store) AccountByUsername(ctx context.Context, username string) (Account, error) {
	a, err := scanAccount(s.queryRow(ctx, `SELECT `+accountColumns+` FROM accounts WHERE username = $1`, NormalizeUsername(username)))
	return a, classify(err)
}

// Accounts lists accounts of the given roles, by username.
func (s *Store) Accounts(ctx context.Context, roles ...string) ([]Account, error) {
	rows, err := s.query(ctx, `SELECT `+accountColumns+` FROM accounts ORDER BY username`)
	if err != nil {
		return nil, classify(err)
	}
	defer rows.Close()
	var out []Account
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return nil, err
		}
		for _, r := range roles {
			if a.Role == r {
				out = append(out, a)
			}
		}
	}
	return out, rows.Err()
}

// StaffChange is an administrator's edit of a staff, officer or admin
// account; nil members stay as they are.
type StaffChange struct {
	StationCode *string
	Disabled    *bool
}

// UpdateStaff applies a change to a staff, officer or admin account and
// records what changed. Disabling ends the account's sessions in the same
// transaction, so it is logged out everywhere at once; enabling lets it
// log in again. Passengers are not staff: for them it is not found. The
// caller checks that the station suits the role.
func (s *Store) UpdateStaff(ctx context.Context, actor Actor, id string, ch StaffChange, now time.Time) (Account, error) {
	var out Account
	err := s.write(ctx, func(t *Tx) error {
		a, err := scanAccount(t.queryRow(ctx, `SELECT `+accountColumns+` FROM accounts WHERE id = $1`+s.dialect.lockRow, id))
		if errors.Is(err, ErrNotFound) || (err == nil && a.Role != RoleStaff && a.Role != RoleOfficer && a.Role != RoleAdmin) {
			return problem.New(problem.NotFound, "no such staff account")
		}
		if err != nil {
			return err
		}
		detail := map[string]any{}
		if ch.StationCode != nil && *ch.StationCode != a.StationCode {
			detail["station"] = map[string]any{"from": a.StationCode, "to": *ch.StationCode}
			a.StationCode = *ch.StationCode
		}
		if ch.Disabled != nil && *ch.Disabled != !a.DisabledAt.IsZero() {
			detail["disabled"] = map[string]any{"from": !*ch.Disabled, "to": *ch.Disabled}
			a.DisabledAt = time.Time{}
			if *ch.Disabled {
				a.DisabledAt = now
				res, err := t.exec(ctx, `UPDATE sessions SET ended_at = $1 WHERE account_id = $2 AND ended_at IS NULL AND expires_at > $1`, ms(now), id)
				if err != nil {
					return err
				}
				n, _ := res.RowsAffected()
				detail["sessions_ended"] = n
			}
		}
		out = a
		if len(detail) == 0 {
			return nil
		}
		var disabled any
		if !a.DisabledAt.IsZero() {
			disabled = ms(a.DisabledAt)
		}
		if _, err := t.exec(ctx, `UPDATE accounts SET station_code = $1, disabled_at = $2 WHERE id = $3`,
			nullString(a.StationCode), disabled, id); err != nil {
			return err
		}
		detail["username"], detail["role"] = a.Username, a.Role
		return t.audit(ctx, now, actor, "staff.update", "account:"+id, detail)
	})
	return out, err
}
