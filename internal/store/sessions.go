package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"tempid/internal/problem"
)

// Session is a login session. Only the SHA-256 of its token is stored.
type Session struct {
	ID        string
	TokenHash []byte
	AccountID string
	CSRFToken string
	CreatedAt time.Time
	ExpiresAt time.Time
	EndedAt   time.Time
}

// CreateSession records a new session.
func (s *Store) CreateSession(ctx context.Context, actor Actor, se Session) error {
	return s.write(ctx, func(t *Tx) error {
		if _, err := t.exec(ctx, `INSERT INTO sessions (token_hash, id, account_id, csrf_token, created_at, expires_at, ended_at)
			VALUES ($1, $2, $3, $4, $5, $6, NULL)`, se.TokenHash, se.ID, se.AccountID, se.CSRFToken, ms(se.CreatedAt), ms(se.ExpiresAt)); err != nil {
			return err
		}
		return t.audit(ctx, se.CreatedAt, actor, "session.login", "account:"+se.AccountID, map[string]any{"session": se.ID})
	})
}

// SessionByToken returns a live session and its account: not ended, not
// expired at now, account not disabled.
func (s *Store) SessionByToken(ctx context.Context, tokenHash []byte, now time.Time) (Session, Account, error) {
	var se Session
	var created, expires int64
	var ended sql.NullInt64
	row := s.hotRead(ctx, sessionByToken, tokenHash)
	var a Account
	var station sql.NullString
	var acreated int64
	var disabled sql.NullInt64
	err := row.Scan(&se.ID, &se.AccountID, &se.CSRFToken, &created, &expires, &ended,
		&a.ID, &a.Username, &a.PasswordHash, &a.Role, &station, &a.NameCT, &a.IDNumberCT, &a.IDIndex, &a.NameMasked,
		&a.IDMasked, &a.PhoneCT, &acreated, &disabled)
	if errors.Is(err, sql.ErrNoRows) {
		return se, a, ErrNotFound
	}
	if err != nil {
		return se, a, classify(err)
	}
	se.TokenHash, se.CreatedAt, se.ExpiresAt, se.EndedAt = tokenHash, fromMS(created), fromMS(expires), nullMS(ended)
	a.StationCode, a.CreatedAt, a.DisabledAt = station.String, fromMS(acreated), nullMS(disabled)
	if !se.EndedAt.IsZero() || !now.Before(se.ExpiresAt) || !a.DisabledAt.IsZero() {
		return se, a, ErrNotFound
	}
	return se, a, nil
}

// sessionByToken reads a session with its account. Every signed-in
// request reads it, so it is a hot read (hotread.go).
var sessionByToken = `SELECT s.id, s.account_id, s.csrf_token, s.created_at, s.expires_at, s.ended_at, ` + prefixed("a.", accountColumns) + `
	FROM sessions s JOIN accounts a ON a.id = s.account_id WHERE s.token_hash = $1`

// prefixed qualifies every column of a column list with a table alias.
func prefixed(alias, columns string) string {
	cols := strings.Split(columns, ",")
	for i, c := range cols {
		cols[i] = alias + strings.TrimSpace(c)
	}
	return strings.Join(cols, ", ")
}

// EndSession ends a session (logout) and puts the device keys of the
// passes it was shown with on the revocation list until their certificates
// expire (R4). It returns how many device keys were revoked.
func (s *Store) EndSession(ctx context.Context, actor Actor, sessionID string, now time.Time) (int, error) {
	revoked := 0
	err := s.write(ctx, func(t *Tx) error {
		revoked = 0
		res, err := t.exec(ctx, `UPDATE sessions SET ended_at = $1 WHERE id = $2 AND ended_at IS NULL`, ms(now), sessionID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		revoked, err = t.revokeDevices(ctx, now, `SELECT p.device_key_hash, max(c.expires_at) FROM passes p JOIN certificates c ON c.id = p.certificate_id
			WHERE p.session_id = $1 AND c.expires_at > $2 GROUP BY p.device_key_hash`, sessionID, ms(now))
		if err != nil {
			return err
		}
		return t.audit(ctx, now, actor, "session.logout", "session:"+sessionID, map[string]any{"revoked_devices": revoked})
	})
	return revoked, err
}

// RevokedDevices lists the revoked device-key hashes still in force.
func (s *Store) RevokedDevices(ctx context.Context, now time.Time) ([][]byte, error) {
	rows, err := s.query(ctx, `SELECT device_key_hash FROM revoked_devices WHERE expires_at > $1 ORDER BY device_key_hash`, ms(now))
	if err != nil {
		return nil, classify(err)
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var h []byte
		if err := rows.Scan(&h); err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// Terminal is a gate or hand-held scanner, authenticated by an API key of
// which only the SHA-256 is stored.
type Terminal struct {
	ID          string
	Name        string
	StationCode string
	Offline     bool
	// Kind is TerminalGate, TerminalHandheld or TerminalKiosk.
	Kind      string
	KeyHash   []byte
	CreatedAt time.Time
	RevokedAt time.Time
	// DisabledAt is set while an administrator has the terminal disabled:
	// its key is refused until it is enabled again.
	DisabledAt time.Time
}

// Terminal kinds: a fixed, unattended gate; a staff-held scanner; a
// self-service kiosk that issues slips.
const (
	TerminalGate     = "gate"
	TerminalHandheld = "handheld"
	TerminalKiosk    = "kiosk"
)

const terminalColumns = `id, name, station_code, offline, key_hash, created_at, revoked_at, kind, disabled_at`

func scanTerminal(row interface{ Scan(...any) error }) (Terminal, error) {
	var tm Terminal
	var created int64
	var revoked, disabled sql.NullInt64
	err := row.Scan(&tm.ID, &tm.Name, &tm.StationCode, &tm.Offline, &tm.KeyHash, &created, &revoked, &tm.Kind, &disabled)
	if errors.Is(err, sql.ErrNoRows) {
		return tm, ErrNotFound
	}
	tm.CreatedAt, tm.RevokedAt, tm.DisabledAt = fromMS(created), nullMS(revoked), nullMS(disabled)
	return tm, err
}

// CreateTerminal registers a terminal.
func (s *Store) CreateTerminal(ctx context.Context, actor Actor, tm Terminal) error {
	if tm.Kind == "" {
		tm.Kind = TerminalHandheld
	}
	return s.write(ctx, func(t *Tx) error {
		if _, err := t.exec(ctx, `INSERT INTO terminals (`+terminalColumns+`) VALUES ($1, $2, $3, $4, $5, $6, NULL, $7, NULL)`,
			tm.ID, tm.Name, tm.StationCode, tm.Offline, tm.KeyHash, ms(tm.CreatedAt), tm.Kind); err != nil {
			return err
		}
		return t.audit(ctx, tm.CreatedAt, actor, "terminal.create", "terminal:"+tm.ID, map[string]any{
			"name": tm.Name, "station": tm.StationCode, "offline": tm.Offline, "kind": tm.Kind,
		})
	})
}

// TerminalByKey returns the live (neither revoked nor disabled) terminal with this key hash.
func (s *Store) TerminalByKey(ctx context.Context, keyHash []byte) (Terminal, error) {
	tm, err := scanTerminal(s.queryRow(ctx, `SELECT `+terminalColumns+` FROM terminals WHERE key_hash = $1 AND revoked_at IS NULL AND disabled_at IS NULL`, keyHash))
	return tm, classify(err)
}

// Terminals lists every terminal, newest first.
func (s *Store) Terminals(ctx context.Context) ([]Terminal, error) {
	return queryAll(ctx, s, scanTerminal, `SELECT `+terminalColumns+` FROM terminals ORDER BY created_at DESC`)
}

// RevokeTerminal revokes a terminal's API key.
func (s *Store) RevokeTerminal(ctx context.Context, actor Actor, id string, now time.Time) error {
	return s.write(ctx, func(t *Tx) error {
		res, err := t.exec(ctx, `UPDATE terminals SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL`, ms(now), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return problem.New(problem.NotFound, "no such active terminal")
		}
		return t.audit(ctx, now, actor, "terminal.revoke", "terminal:"+id, nil)
	})
}

// TerminalChange is an administrator's edit of a terminal; nil members
// stay as they are.
type TerminalChange struct {
	Name     *string
	Offline  *bool
	Disabled *bool
}

// UpdateTerminal applies a change to a terminal and records what changed.
// Disabling a disabled terminal keeps its first time; a revoked terminal
// stays revoked whatever the change.
func (s *Store) UpdateTerminal(ctx context.Context, actor Actor, id string, ch TerminalChange, now time.Time) (Terminal, error) {
	var out Terminal
	err := s.write(ctx, func(t *Tx) error {
		tm, err := scanTerminal(t.queryRow(ctx, `SELECT `+terminalColumns+` FROM terminals WHERE id = $1`+s.dialect.lockRow, id))
		if errors.Is(err, ErrNotFound) {
			return problem.New(problem.NotFound, "no such terminal")
		}
		if err != nil {
			return err
		}
		detail := map[string]any{}
		if ch.Name != nil && *ch.Name != tm.Name {
			detail["name"] = map[string]any{"from": tm.Name, "to": *ch.Name}
			tm.Name = *ch.Name
		}
		if ch.Offline != nil && *ch.Offline != tm.Offline {
			detail["offline"] = map[string]any{"from": tm.Offline, "to": *ch.Offline}
			tm.Offline = *ch.Offline
		}
		if ch.Disabled != nil && *ch.Disabled != !tm.DisabledAt.IsZero() {
			detail["disabled"] = map[string]any{"from": !*ch.Disabled, "to": *ch.Disabled}
			tm.DisabledAt = time.Time{}
			if *ch.Disabled {
				tm.DisabledAt = now
			}
		}
		out = tm
		if len(detail) == 0 {
			return nil
		}
		var disabled any
		if !tm.DisabledAt.IsZero() {
			disabled = ms(tm.DisabledAt)
		}
		if _, err := t.exec(ctx, `UPDATE terminals SET name = $1, offline = $2, disabled_at = $3 WHERE id = $4`,
			tm.Name, tm.Offline, disabled, id); err != nil {
			return err
		}
		detail["station"] = tm.StationCode
		return t.audit(ctx, now, actor, "terminal.update", "terminal:"+id, detail)
	})
	return out, err
}

// Throttle scopes.
const (
	ThrottleLoginAccount = "login_account"
	ThrottleLoginIP      = "login_ip"
	// Guests' face-check starts, per IP address and per person.
	ThrottleGuestIP      = "guest_ip"
	ThrottleGuestSubject = "guest_subject"
)

// RecordThrottle records one failure of a throttled action. It is not
// audited: it changes no state of the service, only its limits.
func (s *Store) RecordThrottle(ctx context.Context, scope string, key []byte, now time.Time) error {
	return s.write(ctx, func(t *Tx) error {
		_, err := t.exec(ctx, `INSERT INTO throttle_events (scope, key, at) VALUES ($1, $2, $3)`, scope, key, ms(now))
		return err
	})
}

// CountThrottle counts failures since a time and returns the oldest.
func (s *Store) CountThrottle(ctx context.Context, scope string, key []byte, since time.Time) (int, time.Time, error) {
	var n int
	var oldest sql.NullInt64
	err := s.queryRow(ctx, `SELECT count(*), min(at) FROM throttle_events WHERE scope = $1 AND key = $2 AND at >= $3`,
		scope, key, ms(since)).Scan(&n, &oldest)
	return n, nullMS(oldest), classify(err)
}
