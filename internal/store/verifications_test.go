package store_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tempid/internal/online"
	"tempid/internal/store"
	"tempid/internal/store/storetest"
)

// A claimed code is valid once per verifier and operation, a replay for
// the same operation again or at any other verifier, and every record,
// replay or not, has its audit entry.
func TestEveryOperationIsClaimedOncePerCode(t *testing.T) {
	// Every operation verification accepts, so that a new one without a
	// bit in store.operationBits fails here.
	ops := online.Operations()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		gate, other := store.TerminalActor("gate"), store.TerminalActor("other")
		record := func(actor store.Actor, op string) store.Verification {
			t.Helper()
			v := store.Verification{ID: store.NewID(), CertificateID: "c0ffee", Step: 42, Operation: op,
				Verifier: string(actor), Verdict: store.VerdictValid, At: time.Now()}
			got, err := s.RecordVerification(ctx, actor, v, true)
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		for _, op := range ops {
			if got := record(gate, op); got.Replay || got.Verdict != store.VerdictValid {
				t.Errorf("%s: first use is %s/%s, want valid", op, got.Verdict, got.Reason)
			}
			if got := record(gate, op); !got.Replay || got.Verdict != store.VerdictInvalid || got.Reason != store.ReasonReplayed {
				t.Errorf("%s: second use is %s/%s replay %v, want a replay", op, got.Verdict, got.Reason, got.Replay)
			}
			if got := record(other, op); !got.Replay {
				t.Errorf("%s at another verifier is not a replay", op)
			}
		}
		records, err := store.CountForTest(s, "verifications")
		if err != nil {
			t.Fatal(err)
		}
		audited, err := store.CountForTest(s, "audit_events")
		if err != nil {
			t.Fatal(err)
		}
		chain, err := s.VerifyAudit(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if want := 3 * len(ops); records != want || audited != want || chain.Entries != int64(want) || chain.FirstBad != nil {
			t.Errorf("%d records, %d audit entries and a chain of %d (%v), want %d of each and a good chain", records, audited, chain.Entries, chain.FirstBad, want)
		}
		replays, err := store.CountForTest(s, "verifications WHERE replay")
		if err != nil {
			t.Fatal(err)
		}
		if want := 2 * len(ops); replays != want {
			t.Errorf("%d replays recorded, want %d", replays, want)
		}
		if _, err := s.RecordVerification(ctx, gate, store.Verification{ID: store.NewID(), CertificateID: "c0ffee",
			Step: 43, Operation: "boarding", Verifier: string(gate), Verdict: store.VerdictValid, At: time.Now()}, true); err == nil {
			t.Error("an unknown operation was claimed")
		}
	})
}

// Migration 0003 folds the uses of codes into their claims: a code used
// before the upgrade is still a replay after it, for the same operation
// and at another verifier, and still free for an operation not yet used.
func TestClaimsMadeBeforeMigration3AreKept(t *testing.T) {
	for _, backend := range storetest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			o := storetest.Options(t, backend)
			old, err := store.OpenAtForTest(ctx, o, "0002_key_schedule")
			if err != nil {
				t.Fatal(err)
			}
			for _, q := range []string{
				`INSERT INTO code_claims (certificate_id, step, verifier) VALUES ('c0ffee', 42, 'terminal:gate')`,
				`INSERT INTO code_uses (certificate_id, step, operation) VALUES ('c0ffee', 42, 'entry')`,
				`INSERT INTO code_uses (certificate_id, step, operation) VALUES ('c0ffee', 42, 'refund')`,
			} {
				if err := store.ExecForTest(old, q); err != nil {
					t.Fatal(err)
				}
			}
			old.Close()
			s, err := store.Open(ctx, o)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			for _, tc := range []struct {
				verifier, op string
				replay       bool
			}{
				{"terminal:gate", online.Entry, true},
				{"terminal:gate", online.Refund, true},
				{"terminal:other", online.TicketCheck, true},
				{"terminal:gate", online.TicketCheck, false},
			} {
				v := store.Verification{ID: store.NewID(), CertificateID: "c0ffee", Step: 42, Operation: tc.op,
					Verifier: tc.verifier, Verdict: store.VerdictValid, At: time.Now()}
				got, err := s.RecordVerification(ctx, store.Actor(tc.verifier), v, true)
				if err != nil {
					t.Fatal(err)
				}
				if got.Replay != tc.replay {
					t.Errorf("%s at %s after the upgrade: replay %v, want %v", tc.op, tc.verifier, got.Replay, tc.replay)
				}
			}
		})
	}
}

// Writes that share a commit (SQLite's group commit) link their audit
// entries one after another, and a write rolled back to its savepoint
// after linking its entry takes its link with it: the chain that commits
// has no gap and verifies.
func TestAWriteRolledBackInItsBatchLeavesNoGapInTheChain(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		const writers, each = 8, 25
		var wg sync.WaitGroup
		var failed, committed atomic.Int64
		for w := range writers {
			wg.Go(func() {
				for i := range each {
					fail := (w+i)%3 == 0
					err := store.AuditForTest(ctx, s, fail)
					switch {
					case fail && err == nil:
						t.Error("a write meant to fail committed")
					case fail:
						failed.Add(1)
					case err != nil:
						t.Error(err)
					default:
						committed.Add(1)
					}
				}
			})
		}
		wg.Wait()
		rep, err := s.VerifyAudit(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if rep.FirstBad != nil || rep.Entries != committed.Load() {
			t.Errorf("chain: %+v (%v), want %d good entries (%d writes failed)", rep, rep.FirstBad, committed.Load(), failed.Load())
		}
		if failed.Load() == 0 {
			t.Error("no write failed")
		}
	})
}
