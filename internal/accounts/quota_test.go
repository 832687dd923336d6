package accounts_test

import (
	"context"
	"testing"
	"time"

	"tempid/internal/accounts"
	"tempid/internal/app"
	"tempid/internal/clock"
	"tempid/internal/idnumber"
	"tempid/internal/pii"
	"tempid/internal/policy"
	"tempid/internal/problem"
	"tempid/internal/registry"
	"tempid/internal/store"
	"tempid/internal/store/storetest"
)

// An account sees the quota of its own identity; a person it never
// applied for, and a missing identity of its own, are not found, so the
// quota cannot probe who used certificates. (The quota of a person it did
// apply for is in httpapi's TestAccountsSeeOnlyTheirOwnCertificates.)
func TestQuotaOfIsTheAccountsOwnOrItsApplicants(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		kr, err := pii.ParseKeyring(pii.NewKeyFile())
		if err != nil {
			t.Fatal(err)
		}
		a, err := app.Wire(app.Config{Store: s, PII: kr, Registry: registry.Development{}, Policy: policy.Default(), Clock: clock.Real{}, Password: accounts.TestPassword})
		if err != nil {
			t.Fatal(err)
		}
		born := time.Date(1990, 5, 17, 0, 0, 0, 0, time.UTC)
		own, stranger := idnumber.Generate("11", born, 51), idnumber.Generate("11", born, 52)
		alice, err := a.Accounts.SignUp(ctx, accounts.SignUp{Username: "alice", Password: "correct horse battery", Name: "张三", IDNumber: own.String()})
		if err != nil {
			t.Fatal(err)
		}
		staff, err := a.Accounts.CreateStaff(ctx, store.CLI, "gate-staff", "correct horse battery", store.RoleStaff, "BJP")
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{"", own.String()} {
			if q, err := a.Accounts.QuotaOf(ctx, alice, id); err != nil || q.Remaining != q.Limit {
				t.Errorf("own quota (%q): %+v, %v", id, q, err)
			}
		}
		_, err = a.Accounts.QuotaOf(ctx, alice, stranger.String())
		if !problem.Is(err, problem.NotFound) {
			t.Errorf("a stranger's quota: %v, want not_found", err)
		}
		_, err = a.Accounts.QuotaOf(ctx, staff, "")
		if !problem.Is(err, problem.NotFound) {
			t.Errorf("the quota of an account without identity: %v, want not_found", err)
		}
	})
}
