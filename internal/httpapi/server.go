// Package httpapi is tempid's HTTP API v1 (API.md): it decodes and
// validates requests, calls the domain, and renders answers and
// RFC 9457 problems. It holds no rules of its own.
package httpapi

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

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
	"tempid/internal/registry"
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
	// Registry confirms identities at the manual window and holds the
	// reference photos, where it has the capability.
	Registry registry.Registry
	// Demo allows the session cookie without Secure on plain HTTP.
	Demo bool
	// Metrics, if set, are observed and served at /metrics.
	Metrics *metrics.Metrics
	// Ready reports whether everything besides the database is ready
	// (keys loaded); nil means ready.
	Ready func() error
	// Providers, if set, report the outside providers' health by name for
	// /readyz: nil is "ok". A provider's outage is shown, not made a
	// failed probe: the node still verifies codes without it.
	Providers func() map[string]error
	// Extra registers the routes of the other parts of the service on the
	// mux: accounts, face checks, credentials, web apps.
	Extra []func(mux *http.ServeMux)
	// RequestTimeout is every request's deadline; zero means
	// DefaultRequestTimeout.
	RequestTimeout time.Duration

	faults faultLog
	// requestSeries keeps the request metric's series by route, method
	// and status (requestObserver).
	requestSeries sync.Map
	// verificationSeries keeps the verification metric's series by
	// verdict, reason and operation, the same way.
	verificationSeries sync.Map
}

// Handler returns the API with its middleware.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	s.routes(mux)
	return s.middleware(mux)
}

type ctxKey int

func requestID(ctx context.Context) string {
	if st, _ := ctx.Value(requestStateKey).(*requestState); st != nil {
		return st.id
	}
	return ""
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

// header is one answer header with its value, made once.
type header struct {
	key   string // in canonical form
	value []string
}

func headerOf(key, value string) header {
	// Capacity equal to length: a handler's Header().Add copies instead
	// of writing into the value every answer shares.
	return header{key: http.CanonicalHeaderKey(key), value: []string{value}[:1:1]}
}

// documentHeaders go on every answer that is not the API's: the web apps'
// pages and their assets. They are made once and put in the header map as
// they are, with no canonicalising or allocating per request.
var documentHeaders = []header{
	headerOf("X-Content-Type-Options", "nosniff"),
	headerOf("Referrer-Policy", "no-referrer"),
	headerOf("X-Frame-Options", "DENY"),
	headerOf("Cross-Origin-Opener-Policy", "same-origin"),
	headerOf("Permissions-Policy", "camera=(self), geolocation=(self), microphone=()"),
	headerOf("Content-Security-Policy", "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"),
}

// apiHeaders go on every answer under /api/. JSON is no document: what
// governs a page (the referrer it sends, its window's opener, its camera,
// what it may load) has nothing to act on, so an API answer carries the
// set for REST answers: not sniffed, not framed, a policy that allows
// nothing should it be opened as a page, and not cached. Fewer headers
// also keep the header map small, which net/http copies at every
// answer.
var apiHeaders = []header{
	headerOf("X-Content-Type-Options", "nosniff"),
	headerOf("X-Frame-Options", "DENY"),
	headerOf("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"),
	headerOf("Cache-Control", "no-store"),
}

var strictTransport = headerOf("Strict-Transport-Security", "max-age=31536000")

// middleware adds a request id, security headers, panic recovery and an
// access log line. The log line holds the route pattern, never the path:
// a path may hold an identifier, and the query may hold an ID number.
//
// It runs for every request, the verifications at a gate among them, so it
// is kept cheap: headers made once, one context value, the access log line
// built from typed attributes (no reflection, nothing boxed) and only when
// Info is logged, and the request metric's series looked up once per
// route, method and status. Failures are logged in full where they are
// answered (writeError); the access line is the same for every request.
func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		// The request id names a request in the logs and in a problem's
		// answer: unique, not secret.
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], rand.Uint64())
		id := hex.EncodeToString(b[:])
		// Every request's deadline, which every wait for the database
		// honours (see DefaultRequestTimeout).
		ctx, cancel := context.WithTimeout(r.Context(), s.requestTimeout())
		defer cancel()
		state := &requestState{id: id}
		state.rec.ResponseWriter = w
		rec := &state.rec
		r = r.WithContext(context.WithValue(ctx, requestStateKey, state))
		h := w.Header()
		h["X-Request-Id"] = []string{id}
		headers := documentHeaders
		if len(r.URL.Path) > 5 && r.URL.Path[:5] == "/api/" {
			headers = apiHeaders
		}
		for _, sh := range headers {
			h[sh.key] = sh.value
		}
		if r.TLS != nil {
			h[strictTransport.key] = strictTransport.value
		}
		defer func() {
			if v := recover(); v != nil {
				s.Log.Error("panic", "request_id", id, "panic", v, "stack", string(debug.Stack()))
				if rec.status == 0 {
					s.writeError(rec, r, problem.New(problem.Internal, "internal error"))
				}
			}
			elapsed := time.Since(start)
			status, msg := rec.status, "request"
			if state.closed() {
				// The client gave up: 499 by nginx's convention, at
				// Info, and not a server error in the metrics.
				status, msg = statusClientClosed, "client_closed"
			}
			if h := s.Log.Handler(); h.Enabled(ctx, slog.LevelInfo) {
				// A record made here has no caller (pc 0): the line
				// is the same for every request, and finding the
				// caller's frame was a stack walk per request.
				line := slog.NewRecord(start.Add(elapsed), slog.LevelInfo, msg, 0)
				line.AddAttrs(slog.String("request_id", id), slog.String("method", r.Method),
					slog.String("route", r.Pattern), slog.Int("status", status),
					slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000))
				h.Handle(ctx, line)
			}
			if s.Metrics != nil {
				s.requestObserver(r.Pattern, r.Method, status).Observe(elapsed.Seconds())
			}
		}()
		next.ServeHTTP(rec, r)
	})
}

// requestSeries names one series of the request metric.
type requestSeries struct {
	route, method string
	status        int
}

// requestObserver returns the request metric's series for a route, a
// method and a status, looked up in the metric once and then kept: the
// routes, methods and statuses a server answers are few.
func (s *Server) requestObserver(route, method string, status int) prometheus.Observer {
	if route == "" {
		route = "unmatched"
	}
	key := requestSeries{route, method, status}
	if o, ok := s.requestSeries.Load(key); ok {
		return o.(prometheus.Observer)
	}
	o := s.Metrics.Requests.WithLabelValues(route, method, strconv.Itoa(status))
	s.requestSeries.Store(key, o)
	return o
}

// verificationSeries names one series of the verification metric.
type verificationSeries struct{ verdict, reason, operation string }

// countVerification counts one verification's answer in its series,
// looked up in the metric once and then kept (the verdicts, reasons and
// operations are few).
func (s *Server) countVerification(verdict, reason, operation string) {
	key := verificationSeries{verdict, reason, operation}
	c, ok := s.verificationSeries.Load(key)
	if !ok {
		c, _ = s.verificationSeries.LoadOrStore(key, s.Metrics.Verifications.WithLabelValues(verdict, reason, operation))
	}
	c.(prometheus.Counter).Inc()
}

// statusClientClosed is the status logged and counted for a request whose
// client went away before the answer (nginx's 499).
const statusClientClosed = 499

// NewHTTPServer wraps a handler with the timeouts a public server needs.
// WriteTimeout is longer than DefaultRequestTimeout: a request is always
// answered before the server would drop its connection.
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
