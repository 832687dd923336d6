// Package accounts proves who is on the other end: passenger sign-up with
// a registry-confirmed real-name identity, staff and admin accounts, login
// sessions with CSRF tokens, terminals with API keys, and the login
// throttle. Passwords are argon2id; tokens and keys are stored as SHA-256
// hashes only.
package accounts

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"tempid/internal/clock"
	"tempid/internal/credential"
	"tempid/internal/idnumber"
	"tempid/internal/issuance"
	"tempid/internal/pii"
	"tempid/internal/policy"
	"tempid/internal/problem"
	"tempid/internal/registry"
	"tempid/internal/store"
)

// Service manages accounts, sessions and terminals.
type Service struct {
	Store    *store.Store
	PII      *pii.Keyring
	Registry registry.Registry
	Issuance *issuance.Service
	Policy   policy.Settings
	Clock    clock.Clock
	Password PasswordParams

	dummyOnce sync.Once
	dummyHash string
	// terminals caches live terminals by the SHA-256 of their API key
	// (string(hash) -> cachedTerminal). Unknown keys are never cached, so
	// it holds at most the railway's terminals.
	terminals sync.Map
}

// terminalCacheTTL is how long a node trusts a terminal it looked up by
// its API key before asking the database again. Gates present their key
// with every scan, so without the cache every verification would pay one
// more query. A revocation made on this node takes effect at once; one
// made on another node, within this time.
const terminalCacheTTL = time.Second

type cachedTerminal struct {
	tm    store.Terminal
	until time.Time
}

// Password and username bounds.
const (
	minPassword = 10
	maxPassword = 128
	maxUsername = 64
)

// SignUp is a passenger's registration.
type SignUp struct {
	Username string
	Password string
	Name     string
	IDNumber string
	Phone    string
}

func validUsername(u string) bool {
	u = store.NormalizeUsername(u)
	if len(u) < 3 || len(u) > maxUsername {
		return false
	}
	for _, r := range u {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}

func validPassword(p string) error {
	if n := utf8.RuneCountInString(p); n < minPassword || len(p) > maxPassword {
		return problem.New(problem.ValidationFailed, "password: %d to %d characters", minPassword, maxPassword)
	}
	return nil
}

// SignUp creates a passenger account after the identity registry confirms
// the name and ID number (R1).
func (s *Service) SignUp(ctx context.Context, in SignUp) (store.Account, error) {
	if !validUsername(in.Username) {
		return store.Account{}, problem.New(problem.ValidationFailed, "username: 3 to %d of a-z, 0-9, '.', '_' and '-'", maxUsername)
	}
	if err := validPassword(in.Password); err != nil {
		return store.Account{}, err
	}
	phone := strings.TrimSpace(in.Phone)
	if len(phone) > 32 {
		return store.Account{}, problem.New(problem.ValidationFailed, "phone: at most 32 characters")
	}
	subj, err := s.Issuance.ParseSubject(in.Name, in.IDNumber)
	if err != nil {
		return store.Account{}, err
	}
	if err := registry.Confirmed(ctx, s.Registry, subj.Name, subj.IDNumber); err != nil {
		return store.Account{}, err
	}
	id := store.NewID()
	a := store.Account{
		ID:           id,
		Username:     in.Username,
		PasswordHash: s.Password.hash(in.Password),
		Role:         store.RolePassenger,
		NameCT:       s.PII.SealString(subj.Name, "account.name:"+id),
		IDNumberCT:   s.PII.SealString(subj.IDNumber.String(), "account.id_number:"+id),
		IDIndex:      s.Issuance.HolderIndex(subj.IDNumber),
		NameMasked:   idnumber.MaskName(subj.Name),
		IDMasked:     subj.IDNumber.Masked(),
		CreatedAt:    s.Clock.Now(),
	}
	if phone != "" {
		a.PhoneCT = s.PII.SealString(phone, "account.phone:"+id)
	}
	if err := s.Store.CreateAccount(ctx, store.AccountActor(id), a); err != nil {
		return store.Account{}, err
	}
	return a, nil
}

// Identity opens a passenger account's own name and ID number.
func (s *Service) Identity(a store.Account) (name string, id string, err error) {
	if a.NameCT == nil {
		return "", "", nil
	}
	if name, err = s.PII.OpenString(a.NameCT, "account.name:"+a.ID); err != nil {
		return "", "", err
	}
	id, err = s.PII.OpenString(a.IDNumberCT, "account.id_number:"+a.ID)
	return name, id, err
}

// QuotaOf returns the month's quota of the account's own identity (an
// empty idNumber) or of a person the account has applied for. Anyone
// else's is not found, so that the quota cannot probe who used
// certificates.
func (s *Service) QuotaOf(ctx context.Context, a store.Account, idNumber string) (issuance.Quota, error) {
	if idNumber == "" {
		if a.IDIndex == nil {
			return issuance.Quota{}, problem.New(problem.NotFound, "this account has no identity of its own")
		}
		_, own, err := s.Identity(a)
		if err != nil {
			return issuance.Quota{}, err
		}
		idNumber = own
	}
	subj, err := s.Issuance.ParseSubject("-", idNumber)
	if err != nil {
		return issuance.Quota{}, err
	}
	if holder := s.Issuance.HolderIndex(subj.IDNumber); string(holder) != string(a.IDIndex) {
		applied, err := s.Store.AccountAppliedFor(ctx, a.ID, holder)
		if err != nil {
			return issuance.Quota{}, err
		}
		if !applied {
			return issuance.Quota{}, problem.New(problem.NotFound, "no quota to show for this person")
		}
	}
	return s.Issuance.QuotaOf(ctx, subj.IDNumber)
}

// CreateStaff creates a staff member or an officer (both bound to a
// station) or an admin.
func (s *Service) CreateStaff(ctx context.Context, actor store.Actor, username, password, role, station string) (store.Account, error) {
	if !validUsername(username) {
		return store.Account{}, problem.New(problem.ValidationFailed, "username: 3 to %d of a-z, 0-9, '.', '_' and '-'", maxUsername)
	}
	if err := validPassword(password); err != nil {
		return store.Account{}, err
	}
	station = strings.TrimSpace(station)
	switch {
	case role != store.RoleStaff && role != store.RoleOfficer && role != store.RoleAdmin:
		return store.Account{}, problem.New(problem.ValidationFailed, "role: staff, officer or admin")
	case role != store.RoleAdmin && !validStation(station):
		return store.Account{}, problem.New(problem.ValidationFailed, "station_code: staff and officers are bound to a station, its three-letter telegraph code (e.g. BJP)")
	case role == store.RoleAdmin && station != "" && !validStation(station):
		return store.Account{}, problem.New(problem.ValidationFailed, "station_code: a three-letter telegraph code (e.g. BJP)")
	}
	a := store.Account{ID: store.NewID(), Username: username, PasswordHash: s.Password.hash(password), Role: role,
		StationCode: station, CreatedAt: s.Clock.Now()}
	return a, s.Store.CreateAccount(ctx, actor, a)
}

// validStation: a station is its three-letter telegraph code, [A-Z]{3}.
func validStation(code string) bool { return credential.ValidStation(code) }

// LoggedIn is a new session: the token goes in the cookie, the CSRF token
// to the page.
type LoggedIn struct {
	Token   string
	Session store.Session
	Account store.Account
}

// Login checks a username and password and starts a new session. A wrong
// username and a wrong password give the same refusal, after the same
// work.
//
// Before any password is checked, the attempt takes a place under the
// throttle's limits in the database (store.ReserveThrottle): per account
// and address, per account, and per address. Past a limit logins are
// refused with rate_limited until the oldest failure leaves the window, so
// guesses sent in parallel, to any node, reach the password check at most
// the limit's number of times. A wrong password leaves its place taken as
// a failure; the right one gives it back and forgives the account's
// failures. See docs/design.md, "Login throttle".
func (s *Service) Login(ctx context.Context, username, password, ip string) (LoggedIn, error) {
	now := s.Clock.Now()
	reservation, limits, err := s.reserveLogin(ctx, username, ip, now)
	if err != nil {
		return LoggedIn{}, err
	}
	a, err := s.Store.AccountByUsername(ctx, username)
	hash := a.PasswordHash
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			return LoggedIn{}, err
		}
		hash = s.dummy()
	}
	ok, herr := checkPassword(hash, password)
	if err != nil || herr != nil || !ok || !a.DisabledAt.IsZero() {
		// The reservation stays: it is this failure's record.
		return LoggedIn{}, problem.New(problem.Unauthenticated, "wrong username or password")
	}
	// A success gives its place back and forgives the account's failures
	// (NIST counts consecutive failures); the address's failures on other
	// accounts stay.
	if err := s.Store.ReleaseThrottle(ctx, reservation, limits[:2]); err != nil {
		return LoggedIn{}, err
	}
	token := randomToken()
	se := store.Session{
		ID: store.NewID(), TokenHash: tokenHash(token), AccountID: a.ID, CSRFToken: randomToken(),
		CreatedAt: now, ExpiresAt: now.Add(s.Policy.SessionLifetime),
	}
	if err := s.Store.CreateSession(ctx, store.AccountActor(a.ID), se); err != nil {
		return LoggedIn{}, err
	}
	return LoggedIn{Token: token, Session: se, Account: a}, nil
}

// reserveLogin takes a password check's place under the login throttle's
// limits (per account and address, per account, per address) and returns
// the reservation and the limits, the account's two first; past a limit
// it refuses with rate_limited.
func (s *Service) reserveLogin(ctx context.Context, username, ip string, now time.Time) (string, []store.ThrottleLimit, error) {
	ip = throttledAddress(ip)
	user := store.NormalizeUsername(username)
	acctKey := s.PII.BlindIndex("login_username", user)
	pairKey := s.PII.BlindIndex("login_username_ip", user+"\x00"+ip)
	ipKey := s.PII.BlindIndex("login_ip", ip)
	limits := []store.ThrottleLimit{
		{Scope: store.ThrottleLoginAccountIP, Key: pairKey, Limit: s.Policy.LoginFailuresPerAccountIP},
		{Scope: store.ThrottleLoginAccount, Key: acctKey, Limit: s.Policy.LoginFailuresPerAccount},
		{Scope: store.ThrottleLoginIP, Key: ipKey, Limit: s.Policy.LoginFailuresPerIP},
	}
	reservation, err := s.Store.ReserveThrottle(ctx, limits, now.Add(-s.Policy.LoginWindow), now)
	var full *store.Throttled
	if errors.As(err, &full) {
		wait := full.Oldest.Add(s.Policy.LoginWindow).Sub(now)
		return "", nil, problem.New(problem.RateLimited, "too many failed logins; try again later").Retry(max(wait, time.Second))
	}
	return reservation, limits, err
}

// throttledAddress is the address a login is throttled by: an IPv6
// address stands for its /64, which one subscriber holds whole, so that
// walking through it does not give a guesser fresh addresses (and fresh
// places under the per-address limits). IPv4-mapped addresses count as
// IPv4; anything unparsable counts as itself.
func throttledAddress(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	if a = a.Unmap(); a.Is4() {
		return a.String()
	}
	p, _ := a.WithZone("").Prefix(64)
	return p.String()
}

// dummy returns a hash with this service's costs, made once. It is
// compared against when a username does not exist, so that a login for an
// unknown user costs as much as one for a known user.
func (s *Service) dummy() string {
	s.dummyOnce.Do(func() { s.dummyHash = s.Password.hash("tempid dummy password") })
	return s.dummyHash
}

// Authenticate returns the live session and account of a session token.
func (s *Service) Authenticate(ctx context.Context, token string) (store.Session, store.Account, error) {
	if token == "" || len(token) > 128 {
		return store.Session{}, store.Account{}, problem.New(problem.Unauthenticated, "log in first")
	}
	se, a, err := s.Store.SessionByToken(ctx, tokenHash(token), s.Clock.Now())
	if errors.Is(err, store.ErrNotFound) {
		return se, a, problem.New(problem.Unauthenticated, "the session has ended; log in again")
	}
	return se, a, err
}

// Logout ends a session and revokes the device keys it showed passes with.
func (s *Service) Logout(ctx context.Context, se store.Session) error {
	_, err := s.Store.EndSession(ctx, store.AccountActor(se.AccountID), se.ID, s.Clock.Now())
	return err
}

// NewTerminal is a registered terminal and its API key, shown once.
type NewTerminal struct {
	Terminal store.Terminal
	APIKey   string
}

// apiKeyPrefix marks tempid terminal keys, so a leaked one is recognisable.
const apiKeyPrefix = "tidk_"

// CreateTerminal registers a terminal of a kind (gate, handheld — the
// default — or kiosk) at a station.
func (s *Service) CreateTerminal(ctx context.Context, actor store.Actor, name, station string, offline bool, kind string) (NewTerminal, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 64 || !utf8.ValidString(name) {
		return NewTerminal{}, problem.New(problem.ValidationFailed, "name: 1 to 64 bytes of text")
	}
	if !validStation(station) {
		return NewTerminal{}, problem.New(problem.ValidationFailed, "station_code: a three-letter telegraph code (e.g. BJP)")
	}
	switch kind {
	case "":
		kind = store.TerminalHandheld
	case store.TerminalGate, store.TerminalHandheld, store.TerminalKiosk:
	default:
		return NewTerminal{}, problem.New(problem.ValidationFailed, "kind: gate, handheld or kiosk")
	}
	key := apiKeyPrefix + randomToken()
	tm := store.Terminal{ID: store.NewID(), Name: name, StationCode: station, Offline: offline, Kind: kind, KeyHash: tokenHash(key), CreatedAt: s.Clock.Now()}
	if err := s.Store.CreateTerminal(ctx, actor, tm); err != nil {
		return NewTerminal{}, err
	}
	return NewTerminal{Terminal: tm, APIKey: key}, nil
}

// AuthenticateTerminal returns the live terminal of an API key.
func (s *Service) AuthenticateTerminal(ctx context.Context, key string) (store.Terminal, error) {
	if !strings.HasPrefix(key, apiKeyPrefix) || len(key) > 128 {
		return store.Terminal{}, problem.New(problem.Unauthenticated, "unknown or revoked API key")
	}
	hash := tokenHash(key)
	// The cache runs on the machine's clock, not s.Clock: it bounds how
	// stale an answer may be in real time, which a test clock must not
	// stretch.
	now := time.Now()
	if c, ok := s.terminals.Load(string(hash)); ok && now.Before(c.(cachedTerminal).until) {
		return c.(cachedTerminal).tm, nil
	}
	tm, err := s.Store.TerminalByKey(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		s.terminals.Delete(string(hash))
		return tm, problem.New(problem.Unauthenticated, "unknown or revoked API key")
	}
	if err != nil {
		return tm, err
	}
	s.terminals.Store(string(hash), cachedTerminal{tm: tm, until: now.Add(terminalCacheTTL)})
	return tm, nil
}

// RevokeTerminal revokes a terminal's API key; this node refuses the key
// from now on, other nodes within terminalCacheTTL.
func (s *Service) RevokeTerminal(ctx context.Context, actor store.Actor, id string) error {
	if err := s.Store.RevokeTerminal(ctx, actor, id, s.Clock.Now()); err != nil {
		return err
	}
	s.forgetTerminal(id)
	return nil
}

// UpdateTerminal renames a terminal, changes its offline grant, or
// disables or enables it. A disabled terminal's key is refused on this
// node at once, on others within terminalCacheTTL.
func (s *Service) UpdateTerminal(ctx context.Context, actor store.Actor, id string, ch store.TerminalChange) (store.Terminal, error) {
	if ch.Name != nil {
		name := strings.TrimSpace(*ch.Name)
		if name == "" || len(name) > 64 || !utf8.ValidString(name) {
			return store.Terminal{}, problem.New(problem.ValidationFailed, "name: 1 to 64 bytes of text")
		}
		ch.Name = &name
	}
	tm, err := s.Store.UpdateTerminal(ctx, actor, id, ch, s.Clock.Now())
	if err != nil {
		return tm, err
	}
	s.forgetTerminal(id)
	return tm, nil
}

// UpdateStaff moves a staff member or officer to another station, or
// disables or enables an account. Disabling ends its sessions and refuses
// its logins until it is enabled; an administrator cannot disable their
// own account, so that some administrator is always left to enable it.
func (s *Service) UpdateStaff(ctx context.Context, actor store.Actor, id string, ch store.StaffChange) (store.Account, error) {
	if ch.Disabled != nil && *ch.Disabled && actor == store.AccountActor(id) {
		return store.Account{}, problem.New(problem.ValidationFailed, "disabled: you cannot disable your own account")
	}
	a, err := s.Store.Account(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return a, problem.New(problem.NotFound, "no such staff account")
	}
	if err != nil {
		return a, err
	}
	if ch.StationCode != nil {
		station := strings.TrimSpace(*ch.StationCode)
		switch {
		case a.Role != store.RoleAdmin && !validStation(station):
			return store.Account{}, problem.New(problem.ValidationFailed, "station_code: staff and officers are bound to a station, its three-letter telegraph code (e.g. BJP)")
		case station != "" && !validStation(station):
			return store.Account{}, problem.New(problem.ValidationFailed, "station_code: a three-letter telegraph code (e.g. BJP)")
		}
		ch.StationCode = &station
	}
	return s.Store.UpdateStaff(ctx, actor, id, ch, s.Clock.Now())
}

// forgetTerminal drops a terminal from this node's key cache.
func (s *Service) forgetTerminal(id string) {
	s.terminals.Range(func(k, c any) bool {
		if c.(cachedTerminal).tm.ID == id {
			s.terminals.Delete(k)
		}
		return true
	})
}

// randomToken returns 256 random bits, base64url.
func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func tokenHash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}
