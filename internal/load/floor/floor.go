// Package floor is the baseline tempid's load benchmarks are measured
// against: a minimal server that answers the two requests the load
// scenarios time, POST /api/v1/verifications and POST /api/v1/certificates,
// with the same wire format as tempid and exactly the durable work the
// rules require of them, and nothing else.
//
// Per verification: JSON in and out, the terminal's API key by its hash,
// the two signature checks of the code through package credential, one
// read by primary key (the certificate's status and the device's
// revocation), the claim upsert on code_claims, one verification row and
// one audit row chained to the one before it by hash, committed before
// the answer. Per issuance: the session, the face check read and marked
// used, the holder locked, the month's certificates counted, the
// certificate and its pass inserted, name and ID number sealed, an audit
// row, one signature. Writes are group-committed: on SQLite by one writer
// goroutine on the driver and pragmas tempid uses; on PostgreSQL through
// native pgx, a batch's statements sent as two pipelines (BEGIN and the
// statements whose answers decide, then the inserts and COMMIT).
//
// The preparation the load scenarios make before they time anything
// (sign-up, login, face checks, a terminal) is served in a minimal form:
// no password hashing worth the name, no face detection, no audit. The
// floor is a measuring stick for a developer's machine, never a server
// for passengers.
package floor

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"tempid/internal/credential"
	"tempid/internal/httpapi/apiv1"
	"tempid/internal/idnumber"
	"tempid/internal/pii"
	"tempid/internal/policy"
	"tempid/internal/problem"
)

// Options configure a floor server.
type Options struct {
	// DSN is a PostgreSQL URL; empty means SQLite in DataDir. Without a
	// search_path in the DSN the floor's tables go to the schema
	// tempid_floor.
	DSN     string
	DataDir string
	// AdminUser and AdminPassword are the one administrator, who may
	// register terminals.
	AdminUser, AdminPassword string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Server is a running floor: its database and its keys, all made at start.
type Server struct {
	db        backend
	keys      *pii.Keyring
	issuer    ed25519.PrivateKey
	issuerPub ed25519.PublicKey
	issuerKID [4]byte
	sealKey   []byte
	pol       policy.Settings
	now       func() time.Time
	// terminals caches terminals by the hash of their API key.
	terminals sync.Map
}

// sealKID names the floor's one seal key in its passes.
const sealKID = 1

// Open opens (and creates) the floor's database and makes its keys.
func Open(ctx context.Context, o Options) (*Server, error) {
	keys, err := pii.ParseKeyring(pii.NewKeyFile())
	if err != nil {
		return nil, err
	}
	_, issuer, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	s := &Server{keys: keys, issuer: issuer, pol: policy.Default(), now: o.Now, sealKey: make([]byte, credential.SealKeySize)}
	rand.Read(s.sealKey)
	s.issuerPub = issuer.Public().(ed25519.PublicKey)
	s.issuerKID = credential.KeyID(s.issuerPub)
	if s.now == nil {
		s.now = time.Now
	}
	if o.DSN != "" {
		s.db, err = openPostgres(ctx, o.DSN)
	} else {
		s.db, err = openSQLite(ctx, o.DataDir)
	}
	if err != nil {
		return nil, err
	}
	if o.AdminUser != "" {
		if err := s.db.exec(ctx, `INSERT INTO accounts (id, username, password_hash, role) VALUES ($1, $2, $3, 'admin')
			ON CONFLICT (username) DO UPDATE SET password_hash = excluded.password_hash`,
			newID(s.now()), o.AdminUser, passwordHash(o.AdminPassword)); err != nil {
			s.db.close()
			return nil, err
		}
	}
	return s, nil
}

// Close closes the database.
func (s *Server) Close() { s.db.close() }

// Dialect is "sqlite" or "postgres".
func (s *Server) Dialect() string { return s.db.dialect() }

// Handler serves the floor's routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	mux.HandleFunc("POST /api/v1/accounts", s.handle(s.signUp))
	mux.HandleFunc("POST /api/v1/session", s.handle(s.login))
	mux.HandleFunc("POST /api/v1/face-checks", s.handle(s.startFaceCheck))
	mux.HandleFunc("POST /api/v1/face-checks/{id}/capture", s.handle(s.capture))
	mux.HandleFunc("POST /api/v1/admin/terminals", s.handle(s.addTerminal))
	mux.HandleFunc("POST /api/v1/certificates", s.handle(s.apply))
	mux.HandleFunc("POST /api/v1/verifications", s.handle(s.verify))
	return mux
}

// handle turns a handler's error into a problem answer.
func (s *Server) handle(fn func(w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		err := fn(w, r)
		if err == nil {
			return
		}
		var p *problem.Error
		if !errors.As(err, &p) {
			p = problem.New(problem.Internal, "%v", err)
		}
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(p.Status())
		json.NewEncoder(w).Encode(map[string]any{"code": p.Code, "detail": p.Detail, "status": p.Status()})
	}
}

func decodeJSON(r *http.Request, v any) error {
	if err := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 64<<10)).Decode(v); err != nil {
		return problem.New(problem.ValidationFailed, "body: %v", err)
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, err = w.Write(b)
	return err
}

// newID is a time-ordered 128-bit identifier in hex: 48 bits of
// milliseconds, then 80 random bits, so new rows go to the end of their
// primary keys as tempid's do.
func newID(now time.Time) string {
	var b [16]byte
	ms := uint64(now.UnixMilli())
	for i := range 6 {
		b[i] = byte(ms >> (40 - 8*i))
	}
	rand.Read(b[6:])
	return hex.EncodeToString(b[:])
}

func passwordHash(pw string) []byte {
	h := sha256.Sum256([]byte("tempid-floor\x00" + pw))
	return h[:]
}

func tokenHash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

func newToken() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

const sessionCookie = "tempid_session"

// The preparation routes.

func (s *Server) signUp(w http.ResponseWriter, r *http.Request) error {
	var in apiv1.SignUpRequest
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	if in.Username == "" || in.Password == "" {
		return problem.New(problem.ValidationFailed, "username and password: required")
	}
	now := s.now()
	id, err := idnumber.Parse(in.IDNumber, now)
	if err != nil {
		return problem.New(problem.InvalidIDNumber, "id_number: %v", err)
	}
	if err := s.db.exec(r.Context(), `INSERT INTO accounts (id, username, password_hash, role, id_index) VALUES ($1, $2, $3, 'passenger', $4)`,
		newID(now), in.Username, passwordHash(in.Password), s.keys.BlindIndex("id_number", id.String())); err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, map[string]any{})
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) error {
	var in apiv1.LoginRequest
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	var accountID, role string
	var hash []byte
	err := s.db.queryRow(r.Context(), `SELECT id, role, password_hash FROM accounts WHERE username = $1`, in.Username).Scan(&accountID, &role, &hash)
	if err != nil || subtle.ConstantTimeCompare(hash, passwordHash(in.Password)) != 1 {
		return problem.New(problem.Unauthenticated, "wrong username or password")
	}
	token, csrf := newToken(), newToken()
	now := s.now()
	expires := now.Add(12 * time.Hour)
	if err := s.db.exec(r.Context(), `INSERT INTO sessions (token_hash, account_id, role, csrf_token, expires_at) VALUES ($1, $2, $3, $4, $5)`,
		tokenHash(token), accountID, role, csrf, expires.UnixMilli()); err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: token, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
	return writeJSON(w, http.StatusOK, apiv1.Session{Account: apiv1.Account{ID: accountID, Username: in.Username, Role: role}, CSRFToken: csrf, ExpiresAt: expires})
}

// session is a logged-in account, as a state-changing request needs it.
type session struct {
	accountID, role string
}

// session reads the request's session by its token's hash and checks
// the CSRF token.
func (s *Server) session(r *http.Request) (session, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return session{}, problem.New(problem.Unauthenticated, "log in first")
	}
	var se session
	var csrf string
	var expires int64
	err = s.db.queryRow(r.Context(), `SELECT account_id, role, csrf_token, expires_at FROM sessions WHERE token_hash = $1`, tokenHash(c.Value)).
		Scan(&se.accountID, &se.role, &csrf, &expires)
	if errors.Is(err, errNoRows) || (err == nil && s.now().UnixMilli() >= expires) {
		return session{}, problem.New(problem.Unauthenticated, "log in first")
	}
	if err != nil {
		return session{}, err
	}
	if subtle.ConstantTimeCompare([]byte(r.Header.Get("X-CSRF-Token")), []byte(csrf)) != 1 {
		return session{}, problem.New(problem.CSRFFailed, "X-CSRF-Token: missing or wrong")
	}
	return se, nil
}

func (s *Server) startFaceCheck(w http.ResponseWriter, r *http.Request) error {
	se, err := s.session(r)
	if err != nil {
		return err
	}
	var in apiv1.FaceCheckRequest
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	if in.Purpose != "apply" || in.Subject == nil {
		return problem.New(problem.ValidationFailed, "purpose: the floor makes apply checks only")
	}
	now := s.now()
	num, err := idnumber.Parse(in.Subject.IDNumber, now)
	if err != nil {
		return problem.New(problem.InvalidIDNumber, "subject.id_number: %v", err)
	}
	pub, err := credential.ParseJWK(in.DeviceKey)
	if err != nil {
		return problem.New(problem.ValidationFailed, "device_key: %v", err)
	}
	key, err := credential.CompressDeviceKey(pub)
	if err != nil {
		return problem.New(problem.ValidationFailed, "device_key: %v", err)
	}
	id := newID(now)
	if err := s.db.exec(r.Context(), `INSERT INTO face_checks (id, account_id, subject_index, device_key, created_at) VALUES ($1, $2, $3, $4, $5)`,
		id, se.accountID, s.keys.BlindIndex("id_number", num.String()), key[:], now.UnixMilli()); err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, apiv1.FaceCheckResponse{FaceCheck: apiv1.FaceCheck{
		ID: id, Purpose: in.Purpose, Status: "pending", CaptureURL: "/api/v1/face-checks/" + id + "/capture",
		ExpiresAt: now.Add(10 * time.Minute),
	}})
}

// capture passes a face check whatever the image: the floor has no face
// provider.
func (s *Server) capture(w http.ResponseWriter, r *http.Request) error {
	se, err := s.session(r)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	n, err := s.db.execCount(r.Context(), `UPDATE face_checks SET completed_at = $1 WHERE id = $2 AND account_id = $3 AND completed_at IS NULL`,
		s.now().UnixMilli(), id, se.accountID)
	if err != nil {
		return err
	}
	if n == 0 {
		return problem.New(problem.NotFound, "no such face check waiting for a capture")
	}
	return writeJSON(w, http.StatusOK, apiv1.FaceCheckResponse{FaceCheck: apiv1.FaceCheck{ID: id, Purpose: "apply", Status: "passed"}})
}

func (s *Server) addTerminal(w http.ResponseWriter, r *http.Request) error {
	se, err := s.session(r)
	if err != nil {
		return err
	}
	if se.role != "admin" {
		return problem.New(problem.Forbidden, "administrators only")
	}
	var in apiv1.CreateTerminalRequest
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	if !credential.ValidStation(in.StationCode) {
		return problem.New(problem.ValidationFailed, "station_code: a three-letter telegraph code")
	}
	now := s.now()
	id, key := newID(now), newToken()
	if err := s.db.exec(r.Context(), `INSERT INTO terminals (key_hash, id, station_code) VALUES ($1, $2, $3)`, tokenHash(key), id, in.StationCode); err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, apiv1.NewTerminal{APIKey: key, Terminal: apiv1.Terminal{ID: id, Name: in.Name, StationCode: in.StationCode, CreatedAt: now}})
}

// terminal is a terminal found by its API key.
type terminal struct{ id, station string }

// terminal finds the request's terminal by the hash of its API key: in
// memory after the first request (the floor never revokes a terminal).
func (s *Server) terminal(r *http.Request) (terminal, error) {
	key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || key == "" {
		return terminal{}, problem.New(problem.Unauthenticated, "Authorization: Bearer <API key>")
	}
	h := tokenHash(key)
	if t, ok := s.terminals.Load(string(h)); ok {
		return t.(terminal), nil
	}
	var t terminal
	err := s.db.queryRow(r.Context(), `SELECT id, station_code FROM terminals WHERE key_hash = $1`, h).Scan(&t.id, &t.station)
	if errors.Is(err, errNoRows) {
		return terminal{}, problem.New(problem.Unauthenticated, "unknown API key")
	}
	if err != nil {
		return terminal{}, err
	}
	s.terminals.Store(string(h), t)
	return t, nil
}

// errNoRows is what a backend's Scan returns for no row.
var errNoRows = errors.New("floor: no row")

func (s *Server) String() string { return fmt.Sprintf("floor on %s", s.db.dialect()) }
