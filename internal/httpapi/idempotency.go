package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"tempid/internal/problem"
	"tempid/internal/store"
)

// idempotencyKeyHeader is API.md's header for retries without issuing
// twice.
const idempotencyKeyHeader = "Idempotency-Key"

// validIdempotencyKey: 1–64 characters of [A-Za-z0-9_-].
func validIdempotencyKey(k string) bool {
	if len(k) < 1 || len(k) > 64 {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// idempotent answers a request that makes one write through the store —
// an application, a slip — under its Idempotency-Key, if it has one
// (API.md "Retries without issuing twice"). scope is the caller the key
// belongs to ("account:ID", "terminal:ID", "guest:FACE_CHECK_ID"); body
// is the request body as received, which with the route makes the
// request's identity. run makes the write, under a context that carries
// the claim: the store method it calls records the answer, rendered by
// render from run's result, in the write's own transaction. So the
// answer exists exactly when the write committed, on every node, and a
// retry after a lost reply is answered with it. Without the header, run
// and render simply answer the request.
//
// A refusal or failure of run changed nothing and is not kept: the claim
// is released and a retry with the key runs afresh.
func (s *Server) idempotent(w http.ResponseWriter, r *http.Request, scope string, body []byte,
	run func(ctx context.Context) (any, error), render func(result any) (int, any)) error {
	keys := r.Header.Values(idempotencyKeyHeader)
	if len(keys) == 0 {
		res, err := run(r.Context())
		if err != nil {
			return err
		}
		status, doc := render(res)
		writeJSON(w, status, doc)
		return nil
	}
	if len(keys) != 1 || !validIdempotencyKey(keys[0]) {
		return problem.New(problem.ValidationFailed, "Idempotency-Key: 1 to 64 characters of A-Z, a-z, 0-9, _ and -")
	}
	key := keys[0]
	ctx := r.Context()
	h := sha256.New()
	h.Write([]byte(r.Method + " " + r.Pattern + "\n"))
	h.Write(body)
	claim, stored, err := s.Store.ClaimIdempotencyKey(ctx, scope, key, h.Sum(nil), s.Clock.Now(), s.idempotencyLease())
	if err != nil {
		return err
	}
	aad := "idempotency:" + scope + "/" + key
	if stored != nil {
		plain, err := s.Issuance.PII.Open(stored.Body, aad)
		if err != nil {
			return err
		}
		writeRaw(w, stored.Status, plain)
		return nil
	}
	var (
		reply  []byte
		status int
	)
	claim.Render = func(result any) (store.Answer, error) {
		st, doc := render(result)
		b, err := marshalJSON(doc)
		if err != nil {
			return store.Answer{}, err
		}
		reply, status = b, st
		return store.Answer{Status: st, Body: s.Issuance.PII.Seal(b, aad)}, nil
	}
	res, err := run(store.WithClaim(ctx, claim))
	if err != nil {
		// Nothing was changed: free the key for the retry. Even when the
		// client is gone, and without its deadline.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if rerr := s.Store.ReleaseIdempotencyKey(rctx, claim); rerr != nil {
			s.logger(r).Warn("idempotency key not released; a retry waits for its lease", "err", rerr)
		}
		return err
	}
	if reply == nil {
		// run made no write that records its answer: record it now, in a
		// transaction of its own.
		st, doc := render(res)
		b, err := marshalJSON(doc)
		if err != nil {
			return err
		}
		reply, status = b, st
		if err := s.Store.RecordAnswer(ctx, claim, store.Answer{Status: st, Body: s.Issuance.PII.Seal(b, aad)}); err != nil {
			s.logger(r).Warn("idempotent answer not recorded", "err", err)
		}
	}
	writeRaw(w, status, reply)
	return nil
}

// idempotencyLease is how long a claimed key blocks its retries: longer
// than any request may run, so a running request is never taken over,
// and short enough that a key whose node died frees itself soon.
func (s *Server) idempotencyLease() time.Duration {
	return s.requestTimeout() + 10*time.Second
}

func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// writeRaw sends an already rendered JSON body.
func writeRaw(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}
