package httpapi

import (
	"context"
	"net/http"
	"time"

	"tempid/internal/httpapi/apiv1"
	"tempid/internal/problem"
	"tempid/internal/store"
)

// healthz says the process is up.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request, _ principal) error {
	writeJSON(w, http.StatusOK, apiv1.Health{Status: "ok"})
	return nil
}

// about says whether the server runs in demo mode; the apps show a
// ribbon then.
func (s *Server) about(w http.ResponseWriter, r *http.Request, _ principal) error {
	writeJSON(w, http.StatusOK, apiv1.About{Demo: s.Demo})
	return nil
}

// readyz says whether this node can serve: whether the database answers
// (a read, every time), whether it can write to it (a probe write at most
// once a second, or the outcome of the latest write; see store.Writable)
// and whether its keys are loaded. A node that can read but not write — a
// full disk, a read-only file system, a standby — is not ready, and its
// body names the cause. It is polled often, so its failures are written
// here, neither logged nor counted as errors.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request, _ principal) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	err := s.Store.Ping(ctx)
	if err == nil {
		err = s.Store.Writable(ctx)
	}
	if err != nil {
		cause := store.CauseOf(err)
		if cause == "" {
			cause = "unknown"
		}
		s.writeProblem(w, problem.New(problem.Unavailable, "not ready: the database cannot be written (%s)", cause).
			Retry(time.Second).With("cause", cause))
		return nil
	}
	if s.Ready != nil {
		if err := s.Ready(); err != nil {
			s.writeProblem(w, problem.New(problem.Unavailable, "not ready: %v", err).Retry(time.Second).With("cause", "keys"))
			return nil
		}
	}
	out := apiv1.Health{Status: "ready", Database: s.Store.Dialect(), Writable: true}
	if s.Providers != nil {
		// A node without its vendor still verifies codes: it stays ready
		// and says which provider is down.
		out.Providers = map[string]string{}
		for name, err := range s.Providers() {
			out.Providers[name] = "ok"
			if err != nil {
				out.Providers[name] = "unavailable: " + err.Error()
			}
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
