package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"tempid/internal/problem"
	"tempid/internal/store"
	"tempid/internal/store/storetest"
)

// issueUnder issues a certificate for holder through a new passed face
// check with ctx, which may carry an Idempotency-Key claim.
func issueUnder(ctx context.Context, t *testing.T, s *store.Store, acct string, holder byte, at time.Time) (string, error) {
	t.Helper()
	check := store.NewID()
	if err := s.CreateFaceCheck(context.Background(), store.CLI, store.FaceCheck{ID: check, AccountID: acct, SessionID: "s", Purpose: store.PurposeApply,
		SubjectIndex: []byte{holder}, NameIndex: []byte{1}, NameMasked: "张*", DeviceKey: []byte{2}, DeviceKeyHash: []byte{3},
		Provider: "test", ConsentAt: at, CreatedAt: at, ExpiresAt: at.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CompleteFaceCheck(context.Background(), store.CLI, check, acct, store.FaceResult{Passed: true}, at); err != nil {
		t.Fatal(err)
	}
	id := store.NewID()
	_, err := s.IssueCertificate(ctx, store.CLI, store.Issuance{
		Certificate: store.Certificate{ID: id, HolderIndex: []byte{holder}, AccountID: acct, NameCT: []byte("sealed name"),
			IDNumberCT: []byte("sealed id"), NameMasked: "张*", IDMasked: "1101**********0000", CityCode: "110100",
			IssuedAt: at, ExpiresAt: at.Add(24 * time.Hour)},
		FaceCheck:  store.FaceCheckUse{ID: check, AccountID: acct, Purpose: store.PurposeApply, SubjectIndex: []byte{holder}, NameIndex: []byte{1}, Now: at, Window: time.Minute},
		MonthStart: at.Add(-time.Hour), MonthEnd: at.Add(time.Hour), MonthlyLimit: 3, RenewalWindow: time.Hour,
	})
	return id, err
}

// TestAnIdempotentAnswerCommitsWithItsWrite: the answer is recorded in
// the issuing transaction. When the answer cannot be recorded the
// certificate is not issued either; when the certificate is issued, the
// key's answer is there the moment the call returns, before anything else
// runs (the process may die right then).
func TestAnIdempotentAnswerCommitsWithItsWrite(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		acct := store.NewID()
		if err := s.CreateAccount(ctx, store.CLI, store.Account{ID: acct, Username: "u" + acct, PasswordHash: "x", Role: store.RolePassenger, CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
		hash := []byte("request")
		claim, stored, err := s.ClaimIdempotencyKey(ctx, "account:"+acct, "k1", hash, t0, time.Minute)
		if err != nil || stored != nil {
			t.Fatalf("claim: %v %v", stored, err)
		}
		broken := errors.New("cannot render")
		claim.Render = func(any) (store.Answer, error) { return store.Answer{}, broken }
		if _, err := issueUnder(store.WithClaim(ctx, claim), t, s, acct, 1, t0); !errors.Is(err, broken) {
			t.Fatalf("issue with an answer that fails: %v, want the render error", err)
		}
		if n, _ := s.CountCertificates(ctx); n != 0 {
			t.Fatalf("%d certificates issued without their answer", n)
		}

		var seen any
		claim.Render = func(v any) (store.Answer, error) {
			seen = v
			return store.Answer{Status: 201, Body: []byte(`{"certificate":1}`)}, nil
		}
		id, err := issueUnder(store.WithResultMapping(store.WithClaim(ctx, claim), func(v any) any { return v.(store.Issued).Certificate.ID }), t, s, acct, 1, t0)
		if err != nil {
			t.Fatal(err)
		}
		if seen != id {
			t.Errorf("Render saw %v, want the mapped result %s", seen, id)
		}
		_, stored, err = s.ClaimIdempotencyKey(ctx, "account:"+acct, "k1", hash, t0, time.Minute)
		if err != nil || stored == nil || stored.Status != 201 || string(stored.Body) != `{"certificate":1}` {
			t.Fatalf("after the issue the key holds %+v (%v), want the answer", stored, err)
		}
		// Releasing an answered key keeps the answer.
		if err := s.ReleaseIdempotencyKey(ctx, claim); err != nil {
			t.Fatal(err)
		}
		if _, stored, _ = s.ClaimIdempotencyKey(ctx, "account:"+acct, "k1", hash, t0, time.Minute); stored == nil {
			t.Error("release dropped an answer")
		}
	})
}

// TestAnIdempotencyLeaseExpires: while a request holds a key, its retries
// are told request_in_progress with a Retry-After; a different request
// under the key is idempotency_key_reused; when the holder died (its
// lease expired) the key can be claimed again, and the dead holder's
// answer can no longer be recorded, so a write cannot answer twice.
func TestAnIdempotencyLeaseExpires(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		first, _, err := s.ClaimIdempotencyKey(ctx, "terminal:t", "k", []byte("a"), t0, 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = s.ClaimIdempotencyKey(ctx, "terminal:t", "k", []byte("a"), t0.Add(10*time.Second), 30*time.Second)
		p, ok := problem.As(err)
		if !ok || p.Code != problem.RequestInProgress || p.RetryAfter != 20*time.Second {
			t.Fatalf("second claim while the first runs: %v, want request_in_progress retry after 20 s", err)
		}
		if _, _, err := s.ClaimIdempotencyKey(ctx, "terminal:t", "k", []byte("b"), t0.Add(10*time.Second), 30*time.Second); !problem.Is(err, problem.IdempotencyKeyReused) {
			t.Fatalf("another request under the key: %v, want idempotency_key_reused", err)
		}
		// Another scope is another key.
		if _, _, err := s.ClaimIdempotencyKey(ctx, "terminal:u", "k", []byte("b"), t0, 30*time.Second); err != nil {
			t.Fatalf("the same key in another scope: %v", err)
		}
		second, _, err := s.ClaimIdempotencyKey(ctx, "terminal:t", "k", []byte("a"), t0.Add(31*time.Second), 30*time.Second)
		if err != nil {
			t.Fatalf("claim after the lease expired: %v", err)
		}
		if err := s.RecordAnswer(ctx, first, store.Answer{Status: 201, Body: []byte("first")}); !problem.Is(err, problem.RequestInProgress) {
			t.Fatalf("the expired holder recorded its answer: %v", err)
		}
		if err := s.RecordAnswer(ctx, second, store.Answer{Status: 201, Body: []byte("second")}); err != nil {
			t.Fatal(err)
		}
		_, stored, err := s.ClaimIdempotencyKey(ctx, "terminal:t", "k", []byte("a"), t0.Add(time.Hour), 30*time.Second)
		if err != nil || stored == nil || string(stored.Body) != "second" {
			t.Fatalf("stored %+v (%v), want the second holder's answer", stored, err)
		}
		// A failed request's release frees the key at once.
		third, _, err := s.ClaimIdempotencyKey(ctx, "terminal:t", "k2", []byte("a"), t0, 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.ReleaseIdempotencyKey(ctx, third); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.ClaimIdempotencyKey(ctx, "terminal:t", "k2", []byte("other"), t0, 30*time.Second); err != nil {
			t.Fatalf("claim after release: %v", err)
		}
		// The housekeeping forgets keys after 24 hours.
		if err := s.PurgeIdempotencyKeys(ctx, t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if _, stored, err := s.ClaimIdempotencyKey(ctx, "terminal:t", "k", []byte("z"), t0.Add(2*time.Minute), 30*time.Second); err != nil || stored != nil {
			t.Errorf("a purged key: %+v %v, want a fresh claim", stored, err)
		}
	})
}
