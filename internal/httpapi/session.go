package httpapi

import (
	"net"
	"net/http"
	"time"

	"tempid/internal/httpapi/apiv1"
)

// The session: logging in and out, and who the caller is.

// clientIP is the peer address of the request. tempid does not trust
// X-Forwarded-For: a proxy in front must be configured to pass the peer.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (s *Server) login(w http.ResponseWriter, r *http.Request, _ principal) error {
	var in apiv1.LoginRequest
	if err := decode(w, r, &in); err != nil {
		return err
	}
	li, err := s.Accounts.Login(r.Context(), in.Username, in.Password, clientIP(r))
	if err != nil {
		return err
	}
	// Rotation: a session this browser had before the login ends now, so
	// a token planted before login is worth nothing after it.
	for _, name := range []string{sessionCookie, demoSessionCookie} {
		if c, err := r.Cookie(name); err == nil {
			if old, _, err := s.Accounts.Authenticate(r.Context(), c.Value); err == nil {
				if err := s.Accounts.Logout(r.Context(), old); err != nil {
					return err
				}
			}
		}
	}
	s.setSession(w, r, li.Token, li.Session.ExpiresAt)
	writeJSON(w, http.StatusOK, apiv1.Session{Account: s.account(li.Account, true), CSRFToken: li.Session.CSRFToken})
	return nil
}

func (s *Server) getSession(w http.ResponseWriter, r *http.Request, p principal) error {
	writeJSON(w, http.StatusOK, apiv1.Session{
		Account: s.account(p.account, true), CSRFToken: p.session.CSRFToken, ExpiresAt: p.session.ExpiresAt,
	})
	return nil
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, p principal) error {
	if err := s.Accounts.Logout(r.Context(), p.session); err != nil {
		return err
	}
	s.setSession(w, r, "", time.Time{})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// setSession sets or clears the session cookie.
func (s *Server) setSession(w http.ResponseWriter, r *http.Request, token string, expires time.Time) {
	secure := !s.Demo || r.TLS != nil
	name := sessionCookie
	if !secure {
		name = demoSessionCookie
	}
	c := &http.Cookie{Name: name, Value: token, Path: "/", Secure: secure, HttpOnly: true, SameSite: http.SameSiteStrictMode}
	if token == "" {
		c.MaxAge = -1
	} else {
		// A relative lifetime, so the browser's clock does not matter; the
		// server enforces the absolute expiry anyway.
		c.MaxAge = max(1, int(expires.Sub(s.Clock.Now()).Seconds()))
	}
	http.SetCookie(w, c)
}

// getVerifier tells a staff member or terminal who the server takes it
// for, so a terminal can check its API key.
func (s *Server) getVerifier(w http.ResponseWriter, r *http.Request, p principal) error {
	if p.terminal != nil {
		t := terminal(*p.terminal)
		writeJSON(w, http.StatusOK, apiv1.Verifier{Terminal: &t})
		return nil
	}
	a := s.account(p.account, false)
	writeJSON(w, http.StatusOK, apiv1.Verifier{Account: &a})
	return nil
}
