package httpapi_test

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"tempid/internal/clock"
	"tempid/internal/httpapi"
)

// TestAboutSaysWhetherTheServerIsADemo: the apps show their demo ribbon
// from this answer, so a server without --demo must say false.
func TestAboutSaysWhetherTheServerIsADemo(t *testing.T) {
	for _, demo := range []bool{false, true} {
		s := &httpapi.Server{Demo: demo, Clock: clock.NewManual(time.Now()), Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/about", nil))
		want := map[bool]string{false: `{"demo":false}`, true: `{"demo":true}`}[demo] + "\n"
		if rec.Code != 200 || rec.Body.String() != want {
			t.Errorf("demo %v: %d %q, want 200 %q", demo, rec.Code, rec.Body.String(), want)
		}
	}
}
