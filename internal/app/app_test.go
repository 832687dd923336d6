package app_test

import (
	"context"
	"log/slog"
	"testing"

	"tempid/internal/accounts"
	"tempid/internal/app"
	"tempid/internal/clock"
	"tempid/internal/pii"
	"tempid/internal/policy"
	"tempid/internal/store"
	"tempid/internal/store/storetest"
)

func config(t *testing.T, s *store.Store) app.Config {
	kr, err := pii.ParseKeyring(pii.NewKeyFile())
	if err != nil {
		t.Fatal(err)
	}
	return app.Config{Store: s, PII: kr, Policy: policy.Default(), Clock: clock.Real{}, Password: accounts.TestPassword}
}

// Wire, for the command-line tools, writes nothing: the first key pair is
// made by New (serve), or by a tool that loads the schedule on purpose.
func TestWireCreatesNoKeys(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		a, err := app.Wire(config(t, s))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.Accounts.CreateStaff(context.Background(), store.CLI, "gate-admin", "correct horse battery", store.RoleAdmin, ""); err != nil {
			t.Fatal(err)
		}
		issuers, _, err := s.Keys(context.Background())
		if err != nil || len(issuers) != 0 {
			t.Fatalf("%d issuer keys after Wire (%v), want none", len(issuers), err)
		}
		if _, err := app.New(context.Background(), config(t, s)); err != nil {
			t.Fatal(err)
		}
		if issuers, _, _ := s.Keys(context.Background()); len(issuers) == 0 {
			t.Error("New made no issuer key")
		}
	})
}

// An audit entry is in the chain as soon as the write that makes it
// commits: no background loop has to run first. The background loops
// start and stop when told to.
func TestAuditEntriesAreChainedWithoutTheBackground(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		a, err := app.New(ctx, config(t, s))
		if err != nil {
			t.Fatal(err)
		}
		before, err := s.VerifyAudit(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.Accounts.CreateStaff(ctx, store.CLI, "gate-admin", "correct horse battery", store.RoleAdmin, ""); err != nil {
			t.Fatal(err)
		}
		rep, err := s.VerifyAudit(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if rep.FirstBad != nil || rep.Entries != before.Entries+1 {
			t.Fatalf("after one audited write: %+v, want %d good entries", rep, before.Entries+1)
		}
		stop := a.Background(slog.New(slog.DiscardHandler))
		stop()
	})
}
