package app_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

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

// The background loops seal the audit entries within seconds, and stop
// when told to.
func TestBackgroundSealsTheAuditAndStops(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		a, err := app.New(ctx, config(t, s))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.Accounts.CreateStaff(ctx, store.CLI, "gate-admin", "correct horse battery", store.RoleAdmin, ""); err != nil {
			t.Fatal(err)
		}
		stop := a.Background(slog.New(slog.DiscardHandler))
		defer stop()
		deadline := time.Now().Add(10 * time.Second)
		for {
			rep, err := s.VerifyAudit(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Pending == 0 && rep.Entries > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d entries still pending after 10 s", rep.Pending)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
}
