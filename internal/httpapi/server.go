// Package httpapi is tempid's HTTP API v1 (API.md): it decodes and
// validates requests, calls the domain, and renders answers and
// RFC 9457 problems. It holds no rules of its own.
package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"tempid/internal/accounts"
	"tempid/internal/clock"
	"tempid/internal/facecheck"
	"tempid/internal/issuance"
	"tempid/internal/keys"
	"tempid/internal/metrics"
	"tempid/internal/online"
	"tempid/internal/policy"
	"tempid/internal/problem"
	"tempid/internal/regions"
	"tempid/internal/store"
)

// Server serves the API.
type Server struct {
	Log        *slog.Logger
	Store      *store.Store
	Issuance   *issuance.Service
	Accounts   *accounts.Service
	FaceChecks *facecheck.Service
	Cities     *regions.Index
	Policy     policy.Settings
	Clock      clock.Clock
	// Signing signs passes and bundles and publishes the issuer keys.
	Signing *keys.Service
	// Verifications verifies codes online.
	Verifications *online.Service
	// Demo allows the session cookie without Secure on plain HTTP.
	Demo bool
	// Metrics, if set, are observed and served at /metrics.
	Metrics *metrics.Metrics
	// Ready reports whether everything besides the database is ready
	// (keys loaded); nil means ready.
	Ready func() error
	// Extra registers the routes of the other parts of the service on the
	// mux: accounts, face checks, credentials, web apps.
	Extra []func(mux *http.ServeMux)
}

// Handler returns the API with its middleware.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	s.routes(mux)
	return s.middleware(mux)
}

type ctxKey int

const requestIDKey ctxKey = iota

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// statusRecorder remembers the status a handler sent, for the access log.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// middleware adds a request id, security headers, panic recovery and an
// access log line. The log line holds the route pattern, never the path:
// a path may hold an identifier, and the query may hold an ID number.
func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		var b [8]byte
		rand.Read(b[:])
		id := hex.EncodeToString(b[:])
		r = r.WithContext(context.WithValue(r.Context(), requestIDKey, id))
		h := w.Header()
		h.Set("X-Request-Id", id)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(self), geolocation=(self), microphone=()")
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
		if r.TLS != nil {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		if len(r.URL.Path) > 5 && r.URL.Path[:5] == "/api/" {
			h.Set("Cache-Control", "no-store")
		}
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				s.Log.Error("panic", "request_id", id, "panic", v, "stack", string(debug.Stack()))
				if rec.status == 0 {
					s.writeError(rec, r, problem.New(problem.Internal, "internal error"))
				}
			}
			elapsed := time.Since(start)
			s.Log.Info("request", "request_id", id, "method", r.Method, "route", r.Pattern, "status", rec.status,
				"duration_ms", float64(elapsed.Microseconds())/1000)
			if s.Metrics != nil {
				route := r.Pattern
				if route == "" {
					route = "unmatched"
				}
				s.Metrics.Requests.WithLabelValues(route, r.Method, strconv.Itoa(rec.status)).Observe(elapsed.Seconds())
			}
		}()
		next.ServeHTTP(rec, r)
	})
}

// NewHTTPServer wraps a handler with the timeouts a public server needs.
func NewHTTPServer(addr string, h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}
