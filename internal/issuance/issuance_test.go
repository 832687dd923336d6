package issuance

import (
	"context"
	"crypto/sha256"
	"errors"
	"sync"
	"testing"
	"time"

	"tempid/internal/clock"
	"tempid/internal/idnumber"
	"tempid/internal/pii"
	"tempid/internal/policy"
	"tempid/internal/problem"
	"tempid/internal/store"
	"tempid/internal/store/storetest"
)

// cst is China Standard Time, in which months turn.
var cst = time.FixedZone("UTC+8", 8*3600)

type env struct {
	t     *testing.T
	store *store.Store
	svc   *Service
	clock *clock.Manual
}

func newEnv(t *testing.T, s *store.Store, p policy.Settings) *env {
	keys, err := pii.ParseKeyring(pii.NewKeyFile())
	if err != nil {
		t.Fatal(err)
	}
	c := clock.NewManual(time.Date(2026, 3, 10, 8, 0, 0, 0, cst))
	return &env{t: t, store: s, clock: c, svc: &Service{Store: s, PII: keys, Policy: p, Clock: c}}
}

func (e *env) account(name string) string {
	e.t.Helper()
	id := store.NewID()
	if err := e.store.CreateAccount(context.Background(), store.CLI, store.Account{
		ID: id, Username: name + "-" + id[:8], PasswordHash: "x", Role: store.RolePassenger, CreatedAt: e.clock.Now(),
	}); err != nil {
		e.t.Fatal(err)
	}
	return id
}

// passedCheck records an apply face check for subj that passed now.
func (e *env) passedCheck(accountID string, subj Subject) string {
	e.t.Helper()
	return e.check(accountID, subj, store.PurposeApply, true)
}

func (e *env) check(accountID string, subj Subject, purpose string, passed bool) string {
	e.t.Helper()
	ctx := context.Background()
	now := e.clock.Now()
	id := store.NewID()
	key := make([]byte, 33)
	key[0] = 2
	hash := sha256.Sum256(key)
	if err := e.store.CreateFaceCheck(ctx, store.CLI, store.FaceCheck{
		ID: id, AccountID: accountID, SessionID: "s", Purpose: purpose,
		SubjectIndex: e.svc.HolderIndex(subj.IDNumber), NameIndex: e.svc.NameIndex(subj.Name),
		NameMasked: idnumber.MaskName(subj.Name), DeviceKey: key, DeviceKeyHash: hash[:], Provider: "test",
		ConsentAt: now, CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute),
	}); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.store.CompleteFaceCheck(ctx, store.CLI, id, accountID, store.FaceResult{Passed: passed, Score: 1}, now); err != nil {
		e.t.Fatal(err)
	}
	return id
}

func (e *env) apply(accountID, checkID string, subj Subject) (Result, error) {
	return e.svc.Apply(context.Background(), Application{
		Actor: store.AccountActor(accountID), AccountID: accountID, SessionID: "s", FaceCheckID: checkID,
		Name: subj.Name, IDNumber: subj.IDNumber.String(), CityCode: "110100",
	})
}

func (e *env) mustApply(accountID string, subj Subject) Result {
	e.t.Helper()
	r, err := e.apply(accountID, e.passedCheck(accountID, subj), subj)
	if err != nil {
		e.t.Fatalf("apply at %v: %v", e.clock.Now(), err)
	}
	return r
}

func (e *env) issuedCount(subj Subject) int {
	e.t.Helper()
	n, err := e.store.CountIssued(context.Background(), e.svc.HolderIndex(subj.IDNumber), time.Unix(0, 0), time.Unix(1<<40, 0))
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

func person(seq int) Subject {
	return Subject{Name: "张三", IDNumber: idnumber.Generate("11", time.Date(1990, 5, 17, 0, 0, 0, 0, time.UTC), seq)}
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if !problem.Is(err, code) {
		t.Fatalf("got %v, want %s", err, code)
	}
}

func TestIssuanceGivesA24HourCertificateAndCountsIt(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		e := newEnv(t, s, policy.Default())
		acct := e.account("a")
		r := e.mustApply(acct, person(1))
		c := r.Certificate
		if got, want := c.ExpiresAt.Sub(c.IssuedAt), 24*time.Hour; got != want {
			t.Errorf("valid for %v, want %v", got, want)
		}
		if got, want := c.StatusAt(e.clock.Now()), store.StatusActive; got != want {
			t.Errorf("status %s, want %s", got, want)
		}
		if got, want := c.StatusAt(c.ExpiresAt), store.StatusExpired; got != want {
			t.Errorf("status at expiry %s, want %s", got, want)
		}
		if got, want := c.IDMasked, "1101**********"+person(1).IDNumber.String()[14:]; got != want {
			t.Errorf("masked ID %s, want %s", got, want)
		}
		if got, want := r.Quota, (Quota{Month: "2026-03", Used: 1, Limit: 3, Remaining: 2, ResetsAt: time.Date(2026, 4, 1, 0, 0, 0, 0, cst)}); got.Month != want.Month || got.Used != want.Used || got.Remaining != want.Remaining || !got.ResetsAt.Equal(want.ResetsAt) {
			t.Errorf("quota %+v, want %+v", got, want)
		}
		stored, err := s.Certificate(context.Background(), c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if id, err := e.svc.OpenIDNumber(stored); err != nil || id != person(1).IDNumber.String() {
			t.Errorf("stored ID number opens to %q, %v", id, err)
		}
		q, err := e.svc.QuotaOf(context.Background(), person(1).IDNumber)
		if err != nil || q.Used != 1 {
			t.Errorf("QuotaOf = %+v, %v", q, err)
		}
	})
}

// TestQuotaRace is the rule R2 under contention: a person with two
// certificates this month, 50 applications at once from two accounts,
// each with its own passed face check. Exactly one may be issued.
func TestQuotaRace(t *testing.T) {
	for _, c := range []struct {
		name string
		// renewal wide open, so that only the monthly count can refuse
		renewalWindow time.Duration
		refusals      []string
	}{
		{"with the default policy", policy.Default().RenewalWindow, []string{problem.QuotaExhausted, problem.ActiveCertificateExists}},
		{"with renewal always open, so only the count refuses", 48 * time.Hour, []string{problem.QuotaExhausted}},
	} {
		t.Run(c.name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, s *store.Store) {
				p := policy.Default()
				p.RenewalWindow = c.renewalWindow
				e := newEnv(t, s, p)
				subj := person(7)
				a, b := e.account("a"), e.account("b")
				e.mustApply(a, subj)
				e.clock.Advance(25 * time.Hour)
				e.mustApply(b, subj)
				e.clock.Advance(25 * time.Hour)

				const n = 50
				checks := make([]string, n)
				accounts := make([]string, n)
				for i := range n {
					accounts[i] = []string{a, b}[i%2]
					checks[i] = e.passedCheck(accounts[i], subj)
				}
				var wg sync.WaitGroup
				errs := make([]error, n)
				start := make(chan struct{})
				for i := range n {
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						_, errs[i] = e.apply(accounts[i], checks[i], subj)
					}()
				}
				close(start)
				wg.Wait()
				issued := 0
				for _, err := range errs {
					if err == nil {
						issued++
						continue
					}
					ok := false
					for _, code := range c.refusals {
						ok = ok || problem.Is(err, code)
					}
					if !ok {
						t.Errorf("unexpected refusal: %v", err)
					}
				}
				if got, want := issued, 1; got != want {
					t.Errorf("%d applications issued, want %d", got, want)
				}
				if got, want := e.issuedCount(subj), 3; got != want {
					t.Errorf("%d certificates stored, want %d", got, want)
				}
			})
		})
	}
}

func TestMonthBoundaryInChinaStandardTime(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		e := newEnv(t, s, policy.Default())
		acct := e.account("a")
		subj := person(3)
		for _, day := range []int{1, 10, 20} {
			e.clock.Set(time.Date(2026, 1, day, 9, 0, 0, 0, cst))
			e.mustApply(acct, subj)
		}
		e.clock.Set(time.Date(2026, 1, 31, 23, 59, 59, 0, cst))
		_, err := e.apply(acct, e.passedCheck(acct, subj), subj)
		wantCode(t, err, problem.QuotaExhausted)
		var pe *problem.Error
		errors.As(err, &pe)
		if got, want := pe.Members["resets_at"], time.Date(2026, 2, 1, 0, 0, 0, 0, cst); !got.(time.Time).Equal(want) {
			t.Errorf("resets_at %v, want %v", got, want)
		}
		e.clock.Set(time.Date(2026, 2, 1, 0, 0, 0, 0, cst))
		r := e.mustApply(acct, subj)
		if got, want := r.Quota.Month, "2026-02"; got != want {
			t.Errorf("counted in %s, want %s", got, want)
		}
		if got, want := r.Quota.Used, 1; got != want {
			t.Errorf("used %d in February, want %d", got, want)
		}
	})
}

func TestRenewalOpensThreeHoursBeforeExpiry(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		e := newEnv(t, s, policy.Default())
		acct := e.account("a")
		subj := person(4)
		first := e.mustApply(acct, subj).Certificate

		e.clock.Set(first.ExpiresAt.Add(-(3*time.Hour + time.Second)))
		check := e.passedCheck(acct, subj)
		_, err := e.apply(acct, check, subj)
		wantCode(t, err, problem.ActiveCertificateExists)
		var pe *problem.Error
		errors.As(err, &pe)
		if got, want := pe.Members["renewable_at"].(time.Time), first.ExpiresAt.Add(-3*time.Hour); !got.Equal(want) {
			t.Errorf("renewable_at %v, want %v", got, want)
		}
		if got, want := e.issuedCount(subj), 1; got != want {
			t.Fatalf("a refused renewal stored a certificate: %d", got)
		}

		e.clock.Set(first.ExpiresAt.Add(-(2*time.Hour + 59*time.Minute)))
		second, err := e.apply(acct, check, subj)
		if err != nil {
			t.Fatalf("renewal at 2h59m before expiry (with the check of the refused attempt, unused): %v", err)
		}
		if got, want := second.Superseded, first.ID; got != want {
			t.Errorf("superseded %q, want %q", got, want)
		}
		if got, want := second.Certificate.ExpiresAt, e.clock.Now().Truncate(time.Second).Add(24*time.Hour); !got.Equal(want) {
			t.Errorf("renewed certificate expires %v, want %v (24 h from its own issuance)", got, want)
		}
		old, err := s.Certificate(context.Background(), first.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := old.StatusAt(e.clock.Now()), store.StatusSuperseded; got != want {
			t.Errorf("old certificate %s, want %s", got, want)
		}
		if got, want := old.SupersededBy, second.Certificate.ID; got != want {
			t.Errorf("superseded_by %s, want %s", got, want)
		}
		revoked, err := s.RevokedCertificates(context.Background(), e.clock.Now())
		if err != nil || len(revoked) != 1 || revoked[0] != first.ID {
			t.Errorf("revocation list %v, %v; want the superseded certificate", revoked, err)
		}
	})
}

func TestRevokedCertificatesStillCountAgainstTheQuota(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		e := newEnv(t, s, policy.Default())
		acct := e.account("a")
		subj := person(5)
		for range 3 {
			c := e.mustApply(acct, subj).Certificate
			if _, err := e.svc.Revoke(context.Background(), store.CLI, c.ID, RevokeFoundIDCard, ""); err != nil {
				t.Fatal(err)
			}
			got, _ := s.Certificate(context.Background(), c.ID)
			if got.StatusAt(e.clock.Now()) != store.StatusRevoked || got.RevokeReason != RevokeFoundIDCard {
				t.Errorf("after revoke: %s %q", got.Status, got.RevokeReason)
			}
			e.clock.Advance(time.Hour)
		}
		_, err := e.apply(acct, e.passedCheck(acct, subj), subj)
		wantCode(t, err, problem.QuotaExhausted)
		if _, err := e.svc.Revoke(context.Background(), store.CLI, store.NewID(), "x", ""); !problem.Is(err, problem.NotFound) {
			t.Errorf("revoking an unknown certificate: %v", err)
		}
		if _, err := e.svc.Revoke(context.Background(), store.CLI, store.NewID(), " ", ""); !problem.Is(err, problem.ValidationFailed) {
			t.Errorf("revoking without a reason: %v", err)
		}
	})
}

func TestFaceCheckMustBePassedUnusedFreshAndForTheSubject(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		e := newEnv(t, s, policy.Default())
		acct, other := e.account("a"), e.account("b")
		subj := person(6)

		_, err := e.apply(acct, e.check(acct, subj, store.PurposeApply, false), subj)
		wantCode(t, err, problem.FaceCheckNotPassed)

		_, err = e.apply(acct, e.check(acct, subj, store.PurposeView, true), subj)
		wantCode(t, err, problem.FaceCheckMismatch)

		_, err = e.apply(acct, e.passedCheck(acct, person(8)), subj)
		wantCode(t, err, problem.FaceCheckMismatch)

		renamed := Subject{Name: "李四", IDNumber: subj.IDNumber}
		_, err = e.apply(acct, e.passedCheck(acct, renamed), subj)
		wantCode(t, err, problem.FaceCheckMismatch)

		_, err = e.apply(acct, e.passedCheck(other, subj), subj)
		wantCode(t, err, problem.NotFound)

		// A refused use leaves the check unused: it still serves its own
		// subject.
		mine := e.passedCheck(acct, person(9))
		_, err = e.apply(acct, mine, person(8))
		wantCode(t, err, problem.FaceCheckMismatch)
		if _, err := e.apply(acct, mine, person(9)); err != nil {
			t.Errorf("the check refused for another person, then for its own: %v", err)
		}

		_, err = e.apply(acct, store.NewID(), subj)
		wantCode(t, err, problem.NotFound)

		stale := e.passedCheck(acct, subj)
		e.clock.Advance(5*time.Minute + time.Second)
		_, err = e.apply(acct, stale, subj)
		wantCode(t, err, problem.FaceCheckExpired)

		check := e.passedCheck(acct, subj)
		e.clock.Advance(5 * time.Minute)
		if _, err := e.apply(acct, check, subj); err != nil {
			t.Fatalf("a check 5 minutes old: %v", err)
		}
		_, err = e.apply(acct, check, subj)
		wantCode(t, err, problem.FaceCheckUsed)

		if got, want := e.issuedCount(subj), 1; got != want {
			t.Errorf("%d certificates, want %d", got, want)
		}
	})
}

func TestCompanionMayApplyWithTheTravellersFaceCheck(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		e := newEnv(t, s, policy.Default())
		companion := e.account("companion")
		traveller := Subject{Name: "王小明", IDNumber: idnumber.Generate("44", time.Date(2015, 6, 1, 0, 0, 0, 0, time.UTC), 9)}
		r := e.mustApply(companion, traveller)
		if got, want := r.Certificate.NameMasked, "王**"; got != want {
			t.Errorf("holder %s, want %s", got, want)
		}
		if applied, err := s.AccountAppliedFor(context.Background(), companion, e.svc.HolderIndex(traveller.IDNumber)); err != nil || !applied {
			t.Errorf("AccountAppliedFor = %v, %v", applied, err)
		}
	})
}

func TestRefusalsLeaveNothingBehind(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		e := newEnv(t, s, policy.Default())
		acct := e.account("a")
		subj := person(11)
		check := e.passedCheck(acct, subj)
		audits := func() int {
			entries, err := s.AuditEntries(ctx, 0, 1_000_000)
			if err != nil {
				t.Fatal(err)
			}
			return len(entries)
		}
		before := audits()

		for _, bad := range []string{subj.IDNumber.String()[:17] + "Y", "110101900517123", ""} {
			_, err := e.svc.Apply(ctx, Application{Actor: store.CLI, AccountID: acct, FaceCheckID: check, Name: subj.Name, IDNumber: bad, CityCode: "110100"})
			wantCode(t, err, problem.InvalidIDNumber)
		}

		// A failure after the certificate row and its audit entry are
		// written — here the pass record names a certificate that does not
		// exist — must roll back the certificate, the face check's use and
		// the audit entries alike.
		_, err := s.IssueCertificate(ctx, store.CLI, store.Issuance{
			Certificate: store.Certificate{ID: store.NewID(), HolderIndex: e.svc.HolderIndex(subj.IDNumber), AccountID: acct,
				NameMasked: "张*", IDMasked: "x", CityCode: "110100", IssuedAt: e.clock.Now(), ExpiresAt: e.clock.Now().Add(time.Hour)},
			FaceCheck: store.FaceCheckUse{ID: check, AccountID: acct, Purpose: store.PurposeApply,
				SubjectIndex: e.svc.HolderIndex(subj.IDNumber), NameIndex: e.svc.NameIndex(subj.Name), Now: e.clock.Now(), Window: time.Minute},
			Pass: &store.Pass{ID: store.NewID(), CertificateID: store.NewID(), FaceCheckID: check, SessionID: "s",
				DeviceKeyHash: []byte{1}, IssuerKID: "k", NotBefore: e.clock.Now(), NotAfter: e.clock.Now(), IssuedAt: e.clock.Now()},
			MonthStart: time.Unix(0, 0), MonthEnd: time.Unix(1<<40, 0), MonthlyLimit: 3, RenewalWindow: time.Hour,
		})
		if err == nil {
			t.Fatal("a pass for a missing certificate was accepted")
		}
		if got := e.issuedCount(subj); got != 0 {
			t.Errorf("failed transactions left %d certificates", got)
		}
		if got := audits(); got != before {
			t.Errorf("failed transactions left %d audit entries", got-before)
		}
		if _, err := e.apply(acct, check, subj); err != nil {
			t.Errorf("the face check was used up by a rolled back transaction: %v", err)
		}
	})
}

// An account reads the certificates it applied for; anyone else's, and an
// id that does not exist, are the same not_found, so ids cannot be probed.
func TestCertificateOfIsTheApplicantsOnly(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		e := newEnv(t, s, policy.Default())
		alice, bob := e.account("alice"), e.account("bob")
		c := e.mustApply(alice, person(41)).Certificate
		ctx := context.Background()
		if got, err := e.svc.CertificateOf(ctx, alice, c.ID); err != nil || got.ID != c.ID {
			t.Fatalf("the applicant reads %v, %v", got.ID, err)
		}
		for name, id := range map[string]string{"another account's": c.ID, "no such": store.NewID()} {
			got, err := e.svc.CertificateOf(ctx, bob, id)
			wantCode(t, err, problem.NotFound)
			if got.ID != "" {
				t.Errorf("%s certificate: %v returned with the refusal", name, got.ID)
			}
		}
	})
}

// An application the rules refuse after its face check was marked used —
// here because the person's certificate is not yet renewable — leaves the
// check unused: once the certificate is revoked, the same check issues.
func TestARefusedApplicationLeavesItsFaceCheckUnused(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		e := newEnv(t, s, policy.Default())
		acct := e.account("a")
		subj := person(12)
		first := e.mustApply(acct, subj)
		check := e.passedCheck(acct, subj)
		_, err := e.apply(acct, check, subj)
		wantCode(t, err, problem.ActiveCertificateExists)
		if f, err := s.FaceCheck(ctx, check); err != nil || !f.UsedAt.IsZero() {
			t.Fatalf("the refused application's check: used at %v (%v), want unused", f.UsedAt, err)
		}
		if _, err := s.RevokeCertificate(ctx, store.CLI, first.Certificate.ID, "found_id_card", "", e.clock.Now()); err != nil {
			t.Fatal(err)
		}
		if _, err := e.apply(acct, check, subj); err != nil {
			t.Errorf("the refused application used up its check: %v", err)
		}
	})
}
