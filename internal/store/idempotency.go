package store

import (
	"bytes"
	"context"
	"database/sql"
	"time"

	"tempid/internal/problem"
)

// Retries without issuing twice (API.md). A request made with an
// Idempotency-Key first claims the key: a row holding the request's hash
// and a lease. The write the request makes then records its answer in
// that row in its own transaction, so that when the write commits the
// answer commits with it, and when it does not, neither does the answer.
// A client that lost the reply — the connection dropped, the node died
// after the commit, the database failed over with the commit outcome
// unknown — retries with the same key and finds either the answer (it is
// returned again) or nothing (the write runs). The lease lets a key whose
// node died be claimed again once it expires; an answer can only be
// recorded under the lease that claimed it, so a write whose lease was
// taken over rolls back instead of answering twice.

// IdempotencyRetention is how long a key and its answer are kept.
const IdempotencyRetention = 24 * time.Hour

// Answer is a stored reply: the HTTP status and the body as the caller
// stored it (the API seals it).
type Answer struct {
	Status int
	Body   []byte
}

// IdempotencyClaim is a claimed key: the request that holds it may run its
// write, which records the answer through Render.
type IdempotencyClaim struct {
	Scope, Key string
	token      string
	// Render makes the answer to store of what the write did, inside the
	// write's transaction: result is what the store method returns, after
	// the mappings of WithResultMapping. It may be called more than once
	// if the transaction is retried; the last call is the answer.
	Render func(result any) (Answer, error)
}

type claimKey struct{}

// answering is the claim a context carries, with the mapping from the
// store's result to what Render expects.
type answering struct {
	claim   *IdempotencyClaim
	mapping func(any) any
}

// WithClaim returns a context under which the next write that answers
// (see Tx.answer) records its answer under c.
func WithClaim(ctx context.Context, c *IdempotencyClaim) context.Context {
	return context.WithValue(ctx, claimKey{}, &answering{claim: c, mapping: func(v any) any { return v }})
}

// WithResultMapping returns a context under which the result a store
// method hands to the claim's Render first goes through f: how a service
// turns the store's result into its own (issuance turns Issued into its
// Result, pass included) without the store knowing either. Without a
// claim in ctx it returns ctx.
func WithResultMapping(ctx context.Context, f func(any) any) context.Context {
	a, _ := ctx.Value(claimKey{}).(*answering)
	if a == nil {
		return ctx
	}
	outer := a.mapping
	return context.WithValue(ctx, claimKey{}, &answering{claim: a.claim, mapping: func(v any) any { return outer(f(v)) }})
}

// answer records the answer to the claim in ctx, if any, in t: the last
// step of every write a request with an Idempotency-Key can make. It fails,
// rolling the write back, if the claim's lease was taken over.
func (t *Tx) answer(ctx context.Context, result any) error {
	q, args, err := answerUpdate(ctx, result)
	if err != nil || q == "" {
		return err
	}
	res, err := t.exec(ctx, q, args...)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	return answered(n)
}

// answerUpdate is the statement that records the answer to the claim in
// ctx, or "" when ctx holds none.
func answerUpdate(ctx context.Context, result any) (string, []any, error) {
	a, _ := ctx.Value(claimKey{}).(*answering)
	if a == nil || a.claim.Render == nil {
		return "", nil, nil
	}
	ans, err := a.claim.Render(a.mapping(result))
	if err != nil {
		return "", nil, err
	}
	return `UPDATE idempotency_keys SET status = $1, body = $2, lease_until = 0
		WHERE scope = $3 AND idem_key = $4 AND token = $5 AND status IS NULL`,
		[]any{ans.Status, ans.Body, a.claim.Scope, a.claim.Key, a.claim.token}, nil
}

// answered tells, from the rows answerUpdate changed, whether the answer
// was recorded: not when the claim's lease was taken over.
func answered(rows int64) error {
	if rows != 1 {
		return problem.New(problem.RequestInProgress, "this Idempotency-Key was taken over by a retry; its answer is the one that counts")
	}
	return nil
}

// ClaimIdempotencyKey claims (scope, key) for a request whose hash is
// hash, with a lease until now+lease. It returns the claim, or the stored
// answer when the key was already answered for the same request, or the
// refusals of API.md: idempotency_key_reused when the key was used for a
// different request, request_in_progress (with Retry-After) while another
// request holds the lease. A key older than IdempotencyRetention counts as
// new.
func (s *Store) ClaimIdempotencyKey(ctx context.Context, scope, key string, hash []byte, now time.Time, lease time.Duration) (*IdempotencyClaim, *Answer, error) {
	var claim *IdempotencyClaim
	var stored *Answer
	err := s.write(ctx, func(t *Tx) error {
		claim, stored = nil, nil
		token := NewID()
		res, err := t.exec(ctx, `INSERT INTO idempotency_keys (scope, idem_key, request_hash, token, lease_until, created_at)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (scope, idem_key) DO NOTHING`,
			scope, key, hash, token, ms(now.Add(lease)), ms(now))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 1 {
			claim = &IdempotencyClaim{Scope: scope, Key: key, token: token}
			return nil
		}
		var (
			oldHash          []byte
			leaseUntil, made int64
			status           sql.NullInt64
			body             []byte
		)
		if err := t.queryRow(ctx, `SELECT request_hash, lease_until, created_at, status, body FROM idempotency_keys
			WHERE scope = $1 AND idem_key = $2`+s.dialect.lockRow, scope, key).Scan(&oldHash, &leaseUntil, &made, &status, &body); err != nil {
			return err
		}
		expired := !now.Before(fromMS(made).Add(IdempotencyRetention))
		switch {
		case !expired && !bytes.Equal(oldHash, hash):
			return problem.New(problem.IdempotencyKeyReused, "this Idempotency-Key was used for a different request; use a new key for a new request")
		case !expired && status.Valid:
			stored = &Answer{Status: int(status.Int64), Body: body}
			return nil
		case !expired && now.Before(fromMS(leaseUntil)):
			return problem.New(problem.RequestInProgress, "the request with this Idempotency-Key is still being processed; retry later").
				Retry(fromMS(leaseUntil).Sub(now))
		}
		// Expired, or a lease whose holder is gone: claim it afresh. A
		// lease taken over keeps the key's age: retention counts from the
		// first use.
		if expired {
			made = ms(now)
		}
		if _, err := t.exec(ctx, `UPDATE idempotency_keys SET request_hash = $1, token = $2, lease_until = $3, status = NULL, body = NULL,
			created_at = $4 WHERE scope = $5 AND idem_key = $6`,
			hash, token, ms(now.Add(lease)), made, scope, key); err != nil {
			return err
		}
		claim = &IdempotencyClaim{Scope: scope, Key: key, token: token}
		return nil
	})
	return claim, stored, err
}

// ReleaseIdempotencyKey gives up a claim whose request failed without
// changing anything, so that a retry runs at once rather than waiting for
// the lease. An answered key is never released: if the write committed
// after all, its answer stays.
func (s *Store) ReleaseIdempotencyKey(ctx context.Context, c *IdempotencyClaim) error {
	return s.write(ctx, func(t *Tx) error {
		_, err := t.exec(ctx, `DELETE FROM idempotency_keys WHERE scope = $1 AND idem_key = $2 AND token = $3 AND status IS NULL`,
			c.Scope, c.Key, c.token)
		return err
	})
}

// RecordAnswer stores the answer of a claimed request in a transaction of
// its own: for a request whose write cannot record it (it made none).
func (s *Store) RecordAnswer(ctx context.Context, c *IdempotencyClaim, a Answer) error {
	return s.write(ctx, func(t *Tx) error {
		r := *c
		r.Render = func(any) (Answer, error) { return a, nil }
		return t.answer(WithClaim(ctx, &r), nil)
	})
}

// PurgeIdempotencyKeys forgets keys made before a time (the housekeeping
// passes now - IdempotencyRetention).
func (s *Store) PurgeIdempotencyKeys(ctx context.Context, before time.Time) error {
	return s.write(ctx, func(t *Tx) error {
		_, err := t.exec(ctx, `DELETE FROM idempotency_keys WHERE created_at < $1`, ms(before))
		return err
	})
}
