// Package problem is tempid's error model: a refusal carries a stable code
// from the API contract, which clients switch on, and a human detail, which
// they show. Domain and storage code return *Error for every expected
// refusal; anything else is an internal failure.
package problem

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Codes of API.md.
const (
	ValidationFailed        = "validation_failed"
	InvalidIDNumber         = "invalid_id_number"
	Unauthenticated         = "unauthenticated"
	Forbidden               = "forbidden"
	CSRFFailed              = "csrf_failed"
	ConsentRequired         = "consent_required"
	NotFound                = "not_found"
	ActiveCertificateExists = "active_certificate_exists"
	FaceCheckNotPassed      = "face_check_not_passed"
	FaceCheckUsed           = "face_check_used"
	FaceCheckMismatch       = "face_check_mismatch"
	FaceCheckExpired        = "face_check_expired"
	TooLarge                = "too_large"
	IdentityMismatch        = "identity_mismatch"
	QuotaExhausted          = "quota_exhausted"
	SlipLimitReached        = "slip_limit_reached"
	TravellerLimitReached   = "traveller_limit_reached"
	RateLimited             = "rate_limited"
	FaceChecksLocked        = "face_checks_locked"
	Unavailable             = "unavailable"
	RequestInProgress       = "request_in_progress"
	IdempotencyKeyReused    = "idempotency_key_reused"
	Conflict                = "conflict"
	Internal                = "internal"
)

var statuses = map[string]int{
	ValidationFailed:        http.StatusBadRequest,
	InvalidIDNumber:         http.StatusBadRequest,
	Unauthenticated:         http.StatusUnauthorized,
	Forbidden:               http.StatusForbidden,
	CSRFFailed:              http.StatusForbidden,
	ConsentRequired:         http.StatusForbidden,
	NotFound:                http.StatusNotFound,
	ActiveCertificateExists: http.StatusConflict,
	FaceCheckNotPassed:      http.StatusConflict,
	FaceCheckUsed:           http.StatusConflict,
	FaceCheckMismatch:       http.StatusConflict,
	Conflict:                http.StatusConflict,
	FaceCheckExpired:        http.StatusGone,
	TooLarge:                http.StatusRequestEntityTooLarge,
	IdentityMismatch:        http.StatusUnprocessableEntity,
	QuotaExhausted:          http.StatusTooManyRequests,
	SlipLimitReached:        http.StatusTooManyRequests,
	TravellerLimitReached:   http.StatusConflict,
	RateLimited:             http.StatusTooManyRequests,
	FaceChecksLocked:        http.StatusTooManyRequests,
	Unavailable:             http.StatusServiceUnavailable,
	RequestInProgress:       http.StatusConflict,
	IdempotencyKeyReused:    http.StatusUnprocessableEntity,
	Internal:                http.StatusInternalServerError,
}

// Error is a refusal with a stable code.
type Error struct {
	Code   string
	Detail string
	// RetryAfter, when set, becomes the Retry-After header.
	RetryAfter time.Duration
	// Members are extra members of the problem document, such as
	// resets_at or renewable_at.
	Members map[string]any
	// HTTPStatus, when set, replaces the status of the code: API.md
	// answers a few refusals with another status than their code's usual
	// one (415 validation_failed for a body of the wrong media type).
	HTTPStatus int
}

// New returns a refusal with a code and a detail.
func New(code, format string, args ...any) *Error {
	return &Error{Code: code, Detail: fmt.Sprintf(format, args...)}
}

// With adds a member to the problem document.
func (e *Error) With(name string, value any) *Error {
	if e.Members == nil {
		e.Members = map[string]any{}
	}
	e.Members[name] = value
	return e
}

// Retry sets the Retry-After of the refusal.
func (e *Error) Retry(d time.Duration) *Error {
	e.RetryAfter = d
	return e
}

// WithStatus sets the HTTP status of the refusal, for the few that API.md
// answers with another status than their code's.
func (e *Error) WithStatus(status int) *Error {
	e.HTTPStatus = status
	return e
}

func (e *Error) Error() string { return e.Code + ": " + e.Detail }

// Status is the HTTP status for the error's code, or the one set by
// WithStatus.
func (e *Error) Status() int {
	if e.HTTPStatus != 0 {
		return e.HTTPStatus
	}
	if s, ok := statuses[e.Code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// Is reports whether err is a refusal with the given code.
func Is(err error, code string) bool {
	var p *Error
	return errors.As(err, &p) && p.Code == code
}

// As returns the refusal in err, if any.
func As(err error) (*Error, bool) {
	var p *Error
	ok := errors.As(err, &p)
	return p, ok
}
