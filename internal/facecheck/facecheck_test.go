package facecheck

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"tempid/internal/clock"
	"tempid/internal/credential"
	"tempid/internal/face"
	"tempid/internal/idnumber"
	"tempid/internal/issuance"
	"tempid/internal/pii"
	"tempid/internal/policy"
	"tempid/internal/problem"
	"tempid/internal/registry"
	"tempid/internal/store"
	"tempid/internal/store/storetest"
)

// fakeProvider answers what it is told: a hand-written fake, so that the
// throttle can be tested without image processing.
type fakeProvider struct {
	result face.Result
	err    error
	// hang makes Check wait until its context ends, as a provider that
	// does not answer.
	hang bool
}

func (f *fakeProvider) Name() string      { return "fake" }
func (f *fakeProvider) Development() bool { return true }
func (f *fakeProvider) Check(ctx context.Context, _ face.Subject, _ face.Capture) (face.Result, error) {
	if f.hang {
		<-ctx.Done()
		return face.Result{}, ctx.Err()
	}
	return f.result, f.err
}

var _ face.Provider = (*fakeProvider)(nil)

type env struct {
	svc      *Service
	clock    *clock.Manual
	provider *fakeProvider
	account  string
	jwk      []byte
}

func newEnv(t *testing.T, s *store.Store) *env {
	keys, _ := pii.ParseKeyring(pii.NewKeyFile())
	clk := clock.NewManual(time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC))
	pol := policy.Default()
	iss := &issuance.Service{Store: s, PII: keys, Policy: pol, Clock: clk}
	p := &fakeProvider{}
	acct := store.NewID()
	if err := s.CreateAccount(context.Background(), store.CLI, store.Account{ID: acct, Username: "u" + acct, PasswordHash: "x", Role: store.RolePassenger, CreatedAt: clk.Now()}); err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	return &env{
		svc:   &Service{Store: s, Registry: registry.Development{}, Issuance: iss, Provider: p, Policy: pol, Clock: clk},
		clock: clk, provider: p, account: acct, jwk: credential.JWK(&key.PublicKey),
	}
}

var subject = struct{ name, id string }{"张三", idnumber.Generate("11", time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC), 1).String()}

// attempt starts a check and completes it with the provider's answer.
func (e *env) attempt() error {
	f, err := e.svc.Begin(context.Background(), Start{AccountID: e.account, SessionID: "s", Purpose: store.PurposeApply,
		Name: subject.name, IDNumber: subject.id, DeviceKeyJWK: e.jwk, Consent: true})
	if err != nil {
		return err
	}
	_, err = e.svc.Capture(context.Background(), e.account, f.ID, face.Capture{ContentType: "image/jpeg", Data: []byte{1}})
	return err
}

func (e *env) fail(t *testing.T, n int) {
	t.Helper()
	e.provider.result = face.Result{Passed: false, Reason: "no_face"}
	for i := range n {
		if err := e.attempt(); err != nil {
			t.Fatalf("failure %d refused: %v", i+1, err)
		}
	}
}

func TestFiveFailuresImposeAGrowingDelay(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		e := newEnv(t, s)
		e.fail(t, 5)
		err := e.attempt()
		if !problem.Is(err, problem.RateLimited) {
			t.Fatalf("sixth attempt at once: %v, want rate_limited", err)
		}
		p, _ := problem.As(err)
		if p.RetryAfter < 30*time.Second {
			t.Errorf("delay %v, want at least 30 s", p.RetryAfter)
		}
		e.clock.Advance(30 * time.Second)
		e.fail(t, 1)
		err = e.attempt()
		p, _ = problem.As(err)
		if !problem.Is(err, problem.RateLimited) || p.RetryAfter <= 30*time.Second {
			t.Fatalf("after the sixth failure: %v (retry after %v), want a longer delay", err, p.RetryAfter)
		}
		e.clock.Advance(p.RetryAfter)
		e.provider.result = face.Result{Passed: true, Score: 5}
		if err := e.attempt(); err != nil {
			t.Fatalf("after waiting: %v", err)
		}
		e.provider.result = face.Result{Passed: false, Reason: "no_face"}
		if err := e.attempt(); err != nil {
			t.Errorf("a pass resets the consecutive count, but: %v", err)
		}
	})
}

func TestFiftyFailuresInADayLockFaceChecksForADay(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		e := newEnv(t, s)
		start := e.clock.Now()
		e.provider.result = face.Result{Passed: false, Reason: "no_face"}
		failures := 0
		for failures < 50 {
			err := e.attempt()
			if p, ok := problem.As(err); ok && p.Code == problem.RateLimited {
				e.clock.Advance(p.RetryAfter)
				continue
			}
			if err != nil {
				t.Fatalf("after %d failures: %v", failures, err)
			}
			failures++
		}
		if e.clock.Now().Sub(start) >= 24*time.Hour {
			t.Fatalf("50 failures took %v: the lock could never trigger", e.clock.Now().Sub(start))
		}
		e.clock.Advance(2 * time.Hour)
		err := e.attempt()
		if !problem.Is(err, problem.FaceChecksLocked) {
			t.Fatalf("after 50 failures: %v, want face_checks_locked", err)
		}
		p, _ := problem.As(err)
		if p.RetryAfter <= 0 || p.RetryAfter > 24*time.Hour {
			t.Errorf("Retry-After %v", p.RetryAfter)
		}
		if want := "人工窗口"; !strings.Contains(p.Detail, want) {
			t.Errorf("detail %q does not point to the manual window", p.Detail)
		}
		e.clock.Set(start.Add(24*time.Hour + time.Minute))
		e.provider.result = face.Result{Passed: true, Score: 1}
		if err := e.attempt(); !problem.Is(err, problem.RateLimited) && err != nil {
			t.Errorf("a day later: %v", err)
		}
	})
}

func TestProviderFailuresChangeNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		e := newEnv(t, s)
		e.svc.ProviderTimeout = 50 * time.Millisecond
		for _, c := range []struct {
			name string
			p    fakeProvider
		}{
			{"provider error", fakeProvider{err: errors.New("vendor answered 502")}},
			{"provider that never answers", fakeProvider{hang: true}},
			{"passed with a failure reason", fakeProvider{result: face.Result{Passed: true, Reason: "x"}}},
			{"failed without a reason", fakeProvider{result: face.Result{Passed: false}}},
		} {
			t.Run(c.name, func(t *testing.T) {
				*e.provider = c.p
				f, err := e.svc.Begin(context.Background(), Start{AccountID: e.account, SessionID: "s", Purpose: store.PurposeApply,
					Name: subject.name, IDNumber: subject.id, DeviceKeyJWK: e.jwk, Consent: true})
				if err != nil {
					t.Fatal(err)
				}
				_, err = e.svc.Capture(context.Background(), e.account, f.ID, face.Capture{ContentType: "image/jpeg", Data: []byte{1}})
				if !problem.Is(err, problem.Unavailable) {
					t.Fatalf("got %v, want unavailable", err)
				}
				got, _ := s.FaceCheck(context.Background(), f.ID)
				if got.Status != store.FacePending {
					t.Errorf("check is %s after a provider failure, want pending", got.Status)
				}
			})
		}
	})
}
