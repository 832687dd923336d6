package httpapi

import (
	"context"
	"net/http"
	"time"

	"tempid/internal/httpapi/apiv1"
	"tempid/internal/problem"
)

// healthz says the process is up.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request, _ principal) error {
	writeJSON(w, http.StatusOK, apiv1.Health{Status: "ok"})
	return nil
}

// readyz says whether the database answers and the keys are loaded.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request, _ principal) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.Store.Ping(ctx); err != nil {
		return err
	}
	if s.Ready != nil {
		if err := s.Ready(); err != nil {
			return problem.New(problem.Unavailable, "not ready: %v", err)
		}
	}
	writeJSON(w, http.StatusOK, apiv1.Health{Status: "ready", Database: s.Store.Dialect()})
	return nil
}
