package httpapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"tempid/internal/problem"
	"tempid/internal/store"
)

// Body limits of API.md.
const (
	maxJSONBody    = 1 << 20
	maxCaptureBody = 8 << 20
)

// decode reads a JSON body into v: the right media type (415 otherwise),
// at most limit bytes (413 before reading when the declared length is
// larger), no unknown members, exactly one value.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	_, err := decodeRaw(w, r, v)
	return err
}

// decodeRaw is decode that also returns the body as received, for an
// idempotent request's hash.
func decodeRaw(w http.ResponseWriter, r *http.Request, v any) ([]byte, error) {
	_, body, err := readTyped(w, r, maxJSONBody, "application/json")
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return nil, problem.New(problem.ValidationFailed, "malformed JSON body: %s", jsonError(err))
	}
	if dec.More() {
		return nil, problem.New(problem.ValidationFailed, "malformed JSON body: more than one value")
	}
	return body, nil
}

// jsonError describes a decoding error without echoing the input.
func jsonError(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("syntax error at byte %d", syn.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("%s must be %s", typ.Field, typ.Type)
	case errors.Is(err, io.EOF):
		return "empty body"
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown member " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	}
	return "cannot be read"
}

// readTyped reads a body of one of the allowed media types (API.md: JSON,
// captures an image) and returns its type. A declared type that is not
// allowed, or a charset other than UTF-8, is refused with 415 before the
// body is read; so is a body that declares no type at all. A request
// without a body needs no type: the handler says what is missing.
func readTyped(w http.ResponseWriter, r *http.Request, limit int64, allowed ...string) (string, []byte, error) {
	unsupported := func() error {
		return problem.New(problem.ValidationFailed, "the body must be %s", strings.Join(allowed, " or ")).
			WithStatus(http.StatusUnsupportedMediaType)
	}
	ct := r.Header.Get("Content-Type")
	mt := ct
	if ct != "" && !slices.Contains(allowed, ct) {
		// Parsed only when it is not one of the types as such.
		var params map[string]string
		var err error
		mt, params, err = mime.ParseMediaType(ct)
		if cs, ok := params["charset"]; err != nil || !slices.Contains(allowed, mt) || ok && !strings.EqualFold(cs, "utf-8") {
			return "", nil, unsupported()
		}
	}
	body, err := readBody(w, r, limit)
	if err != nil {
		return "", nil, err
	}
	if ct == "" && len(body) > 0 {
		return "", nil, unsupported()
	}
	return mt, body, nil
}

// readBody reads at most limit bytes; a larger body is refused with 413,
// before reading when Content-Length says so.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, tooLarge(limit)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, tooLarge(limit)
	}
	if err != nil {
		return nil, problem.New(problem.ValidationFailed, "the body could not be read")
	}
	return body, nil
}

func tooLarge(limit int64) error {
	return problem.New(problem.TooLarge, "the body is larger than %d bytes", limit)
}

// writeJSON renders v into a buffer first, so that a failure never sends
// half a response.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, `{"code":"internal"}`, http.StatusInternalServerError)
		return
	}
	body = append(body, '\n')
	h := w.Header()
	h["Content-Type"] = jsonType
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(status)
	w.Write(body)
}

// jsonType is the Content-Type of every JSON answer, set in the header map
// as it is (canonical key, one shared value that no one appends to).
var jsonType = []string{"application/json"}

// writeError renders err as RFC 9457 problem+json. Refusals carry their
// code; anything else is logged and answered 500 "internal" with no
// detail.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	p, ok := problem.As(err)
	if (!ok || p.Status() >= 500) && clientGone(r.Context()) {
		// The client went away (and most likely caused the error by
		// cancelling the request's context): nobody to answer, nothing
		// wrong with the server.
		stateOf(r).markClientClosed()
		s.logger(r).Info("client_closed", "route", r.Pattern)
		return
	}
	if !ok && errors.Is(err, context.DeadlineExceeded) {
		// The request's deadline passed in something that did not say
		// so itself: nothing was completed, the client may retry.
		p, ok = problem.New(problem.Unavailable, "the request took too long; nothing was changed, try again").Retry(time.Second), true
	}
	if !ok {
		p = problem.New(problem.Internal, "something went wrong on our side; the request was not completed")
	}
	status := p.Status()
	if s.Metrics != nil && status < 500 {
		switch p.Code {
		case problem.RateLimited, problem.FaceChecksLocked:
			s.Metrics.Throttled.WithLabelValues(p.Code).Inc()
		}
		s.Metrics.Refusals.WithLabelValues(p.Code).Inc()
	}
	log := s.logger(r)
	switch cause := store.CauseOf(err); {
	case cause != "":
		// A storage fault fails every request until it clears: counted
		// per request, logged once per burst.
		if s.Metrics != nil {
			s.Metrics.StorageErrors.WithLabelValues(cause).Inc()
		}
		s.faults.failed(s.Log, cause, err)
	case status >= 500:
		log.Error("request failed", "code", p.Code, "err", err)
	default:
		log.Warn("request refused", "code", p.Code, "detail", p.Detail)
	}
	s.writeProblem(w, p)
}

// writeProblem renders a problem document, without logging it.
func (s *Server) writeProblem(w http.ResponseWriter, p *problem.Error) {
	status := p.Status()
	doc := map[string]any{}
	for k, v := range p.Members {
		doc[k] = v
	}
	doc["type"] = "https://tempid.invalid/problems/" + p.Code
	doc["title"] = http.StatusText(status)
	doc["status"] = status
	doc["code"] = p.Code
	doc["detail"] = p.Detail
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(doc); err != nil {
		buf.Reset()
		buf.WriteString(`{"code":"internal","status":500}`)
		status = http.StatusInternalServerError
	}
	if p.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((p.RetryAfter+999_999_999)/1_000_000_000)))
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

func (s *Server) logger(r *http.Request) *slog.Logger {
	return s.Log.With("request_id", requestID(r.Context()))
}

// rawJSON embeds stored JSON as is; nothing stored is an empty object.
func rawJSON(s string) json.RawMessage {
	if s == "" {
		return json.RawMessage("{}")
	}
	return json.RawMessage(s)
}

func b64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
