package httpapi

import (
	"crypto/subtle"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"tempid/internal/problem"
	"tempid/internal/store"
)

// Session cookie names. The __Host- prefix pins the cookie to this host
// and path and requires Secure; demo mode on plain HTTP cannot set Secure,
// so it uses a plain name.
const (
	sessionCookie     = "__Host-tempid_session"
	demoSessionCookie = "tempid_session"
)

// principal is who made a request: an account through a session cookie, or
// a terminal through its API key.
type principal struct {
	account  store.Account
	session  store.Session
	terminal *store.Terminal
}

func (p principal) actor() store.Actor {
	if p.terminal != nil {
		return store.TerminalActor(p.terminal.ID)
	}
	return store.ActorOf(p.account.ID)
}

// auth says who may call an endpoint.
type auth int

const (
	public    auth = iota // anyone; state changes need a same-origin request
	guest                 // anyone, as the guest account; same origin as public
	passenger             // any logged-in account
	staffOrTerminal
	admin
	officer // an officer's session: the manual window
	kiosk   // a terminal of kind kiosk, by its API key
)

// String names an auth as the route table does.
func (a auth) String() string {
	switch a {
	case public:
		return "public"
	case passenger:
		return "passenger"
	case staffOrTerminal:
		return "staffOrTerminal"
	case admin:
		return "admin"
	case officer:
		return "officer"
	case kiosk:
		return "kiosk"
	case guest:
		return "guest"
	}
	return "auth(" + strconv.Itoa(int(a)) + ")"
}

func stateChanging(r *http.Request) bool {
	return r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodOptions
}

// authenticate finds the principal of a request and checks that it may
// call an endpoint. Browser requests that change state must come from this
// origin and carry the session's CSRF token.
func (s *Server) authenticate(r *http.Request, a auth) (principal, error) {
	var p principal
	if stateChanging(r) && !sameOrigin(r) {
		return p, problem.New(problem.CSRFFailed, "cross-origin request refused")
	}
	switch a {
	case public:
		return p, nil
	case guest:
		return guestPrincipal, nil
	}
	if h := r.Header.Get("Authorization"); h != "" {
		key, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || (a != staffOrTerminal && a != kiosk) {
			return p, problem.New(problem.Unauthenticated, "API keys are for terminals and verification only")
		}
		tm, err := s.Accounts.AuthenticateTerminal(r.Context(), key)
		if err != nil {
			return p, err
		}
		if a == kiosk && tm.Kind != store.TerminalKiosk {
			return p, problem.New(problem.Forbidden, "for terminals of kind kiosk only")
		}
		p.terminal = &tm
		return p, nil
	}
	token := ""
	for _, name := range []string{sessionCookie, demoSessionCookie} {
		if c, err := r.Cookie(name); err == nil {
			token = c.Value
			break
		}
	}
	se, acct, err := s.Accounts.Authenticate(r.Context(), token)
	if err != nil {
		return p, err
	}
	p.session, p.account = se, acct
	if stateChanging(r) {
		got := r.Header.Get("X-CSRF-Token")
		if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(se.CSRFToken)) != 1 {
			return p, problem.New(problem.CSRFFailed, "missing or wrong CSRF token: take it from GET /api/v1/session")
		}
	}
	switch {
	case a == staffOrTerminal && acct.Role != store.RoleStaff && acct.Role != store.RoleOfficer && acct.Role != store.RoleAdmin:
		return p, problem.New(problem.Forbidden, "for railway staff and terminals only")
	case a == officer && acct.Role != store.RoleOfficer:
		return p, problem.New(problem.Forbidden, "for railway officers at the manual window only")
	case a == kiosk:
		return p, problem.New(problem.Forbidden, "for kiosks only")
	case a == admin && acct.Role != store.RoleAdmin:
		return p, problem.New(problem.Forbidden, "for administrators only")
	}
	return p, nil
}

// sameOrigin checks the Origin header (or, without one, Sec-Fetch-Site)
// of a state-changing request. Requests without either come from programs,
// not browsers, and rely on the CSRF token or API key alone.
func sameOrigin(r *http.Request) bool {
	if origin := r.Header.Get("Origin"); origin != "" {
		u, err := url.Parse(origin)
		return err == nil && u.Host == r.Host
	}
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
		return true
	}
	return false
}
