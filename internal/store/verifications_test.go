package store_test

import (
	"context"
	"fmt"
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
			old, upgrade := openBefore(t, backend, "0002_key_schedule")
			for _, q := range []string{
				`INSERT INTO code_claims (certificate_id, step, verifier) VALUES ('c0ffee', 42, 'terminal:gate')`,
				`INSERT INTO code_uses (certificate_id, step, operation) VALUES ('c0ffee', 42, 'entry')`,
				`INSERT INTO code_uses (certificate_id, step, operation) VALUES ('c0ffee', 42, 'refund')`,
			} {
				if err := store.ExecForTest(old, q); err != nil {
					t.Fatal(err)
				}
			}
			s := upgrade()
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

// On SQLite a batch whose writes all succeed runs without savepoints; when
// one fails, whether first, in the middle or last, alone or next to
// another failure, it alone fails: the others commit with their audit
// entries and the failed ones leave none.
func TestAFailedWriteOnSQLiteFailsAloneInItsBatch(t *testing.T) {
	s := storetest.Open(t, "sqlite")
	ctx := context.Background()
	before, err := s.VerifyAudit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := before.Entries
	for _, pattern := range []string{"x", "o", "xoo", "oxo", "oox", "oxxo", "xx", "ooo"} {
		fail := make([]bool, len(pattern))
		for i, c := range pattern {
			fail[i] = c == 'x'
		}
		errs := store.AuditInOneBatchForTest(s, fail)
		for i, c := range pattern {
			switch {
			case c == 'o' && errs[i] != nil:
				t.Errorf("%s: write %d failed with its neighbour: %v", pattern, i+1, errs[i])
			case c == 'x' && errs[i] == nil:
				t.Errorf("%s: write %d, meant to fail, committed", pattern, i+1)
			case c == 'o':
				want++
			}
		}
		rep, err := s.VerifyAudit(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if rep.FirstBad != nil || rep.Entries != want {
			t.Errorf("%s: chain %+v (%v), want %d entries", pattern, rep, rep.FirstBad, want)
		}
	}
}

// The statistics find verifications by the time in their ids: each is
// counted in the bucket of its time, and none outside [from, to).
func TestVerificationStatisticsReadTheRangeOfIds(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		record := func(at time.Time, verdict, reason string) {
			t.Helper()
			v := store.Verification{ID: store.NewIDAt(at), Operation: "entry", Verifier: "terminal:gate",
				Verdict: verdict, Reason: reason, At: at}
			if _, err := s.RecordVerification(ctx, store.TerminalActor("gate"), v, false); err != nil {
				t.Fatal(err)
			}
		}
		record(t0.Add(-time.Millisecond), store.VerdictValid, "")
		record(t0, store.VerdictValid, "")
		record(t0.Add(10*time.Minute), store.VerdictValid, "")
		record(t0.Add(70*time.Minute), store.VerdictInvalid, "expired")
		record(t0.Add(2*time.Hour), store.VerdictInvalid, "malformed")
		st, err := s.StatsOf(ctx, t0, t0.Add(2*time.Hour), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		want := []store.VerifyCount{{At: t0, Valid: 2}, {At: t0.Add(time.Hour), Invalid: 1}}
		if fmt.Sprint(st.Verifications) != fmt.Sprint(want) {
			t.Errorf("verifications per hour %v, want %v", st.Verifications, want)
		}
		if fmt.Sprint(st.Failures) != fmt.Sprint([]store.ReasonCount{{Reason: "expired", Count: 1}}) {
			t.Errorf("failures %v, want one expired", st.Failures)
		}
	})
}

// Migration 0012 rebuilds the verifications: a slip's online uses recorded
// before it (with step 0) are still its uses, and still warn of an
// admission elsewhere; verifications of codes still count.
func TestVerificationsRecordedBeforeMigration12AreKept(t *testing.T) {
	for _, backend := range storetest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			old, upgrade := openBefore(t, backend, "0012")
			slipAt, codeAt := t0.Add(-30*time.Minute), t0.Add(-20*time.Minute)
			for _, q := range []struct {
				sql  string
				args []any
			}{
				{`INSERT INTO verifications (id, certificate_id, step, operation, verifier, station_code, verdict, reason, replay, at)
					VALUES ($1, 'a11ce', 0, 'entry', 'terminal:counter', 'SHH', 'valid', NULL, FALSE, $2)`, []any{store.NewIDAt(slipAt), slipAt.UnixMilli()}},
				{`INSERT INTO verifications (id, certificate_id, step, operation, verifier, station_code, verdict, reason, replay, at)
					VALUES ($1, 'c0ffee', 42, 'entry', 'terminal:gate', 'BJP', 'valid', NULL, FALSE, $2)`, []any{store.NewIDAt(codeAt), codeAt.UnixMilli()}},
			} {
				if err := store.ExecForTest(old, q.sql, q.args...); err != nil {
					t.Fatal(err)
				}
			}
			s := upgrade()
			uses, elsewhere, err := s.SlipUses(ctx, "a11ce", "BJP", t0, 2*time.Hour, 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(uses) != 1 || uses[0].StationCode != "SHH" || !elsewhere {
				t.Errorf("the slip's uses %+v, used elsewhere %v; want its entry at SHH, elsewhere", uses, elsewhere)
			}
			if uses, _, err := s.SlipUses(ctx, "c0ffee", "BJP", t0, 2*time.Hour, 10); err != nil || len(uses) != 0 {
				t.Errorf("a code's certificate has slip uses %+v (%v)", uses, err)
			}
			st, err := s.StatsOf(ctx, t0.Add(-time.Hour), t0, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			if len(st.Verifications) != 1 || st.Verifications[0].Valid != 2 {
				t.Errorf("verifications in the hour: %+v, want 2 valid", st.Verifications)
			}
		})
	}
}

// A verification's audit detail holds the masked holder and the outcome,
// members in the order of their names; a replay's says so.
func TestAVerificationsAuditDetail(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		ids := []string{store.NewIDAt(t0), store.NewIDAt(t0)}
		for _, id := range ids {
			v := store.Verification{ID: id, CertificateID: "c0ffee", Step: 42, Operation: "entry", Verifier: "terminal:gate",
				StationCode: "BJP", Verdict: store.VerdictValid, At: t0, NameMasked: "张*", IDMasked: "1101**********0025"}
			if _, err := s.RecordVerification(ctx, store.TerminalActor("gate"), v, true); err != nil {
				t.Fatal(err)
			}
		}
		entries, err := s.AuditEntries(ctx, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range entries {
			if e.Action == "verification" {
				got = append(got, e.Detail)
			}
		}
		want := []string{
			`{"holder":"张*","id_number":"1101**********0025","operation":"entry","replay":false,"station":"BJP","verdict":"valid","verification":"` + ids[0] + `"}`,
			`{"holder":"张*","id_number":"1101**********0025","operation":"entry","reason":"replayed","replay":true,"station":"BJP","verdict":"invalid","verification":"` + ids[1] + `"}`,
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("details\n%s\nwant\n%s", got, want)
		}
	})
}

// A verification reads from a certificate what it needs — its status,
// expiry, masked holder and the sealed name and ID number for the counter
// operations — and nothing else (not the holder index). Only a check as
// of a past instant reads when the status last changed.
func TestAVerificationReadsOnlyTheColumnsItNeeds(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		acct := store.NewID()
		if err := s.CreateAccount(ctx, store.CLI, store.Account{ID: acct, Username: "p", PasswordHash: "x", Role: store.RolePassenger, CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
		id := issueForTest(t, s, acct, 7, t0, 24*time.Hour)
		for _, asOf := range []bool{false, true} {
			var c store.Certificate
			var revoked bool
			var err error
			if asOf {
				c, revoked, err = s.CertificateAndDeviceAsOf(ctx, id, []byte{9}, t0)
			} else {
				c, revoked, err = s.CertificateAndDevice(ctx, id, []byte{9}, t0)
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.ID != id || c.Status != store.StatusActive || !c.ExpiresAt.Equal(t0.Add(24*time.Hour)) || c.NameMasked != "张*" ||
				c.IDMasked != "1101**********0000" || string(c.NameCT) != "sealed name" || string(c.IDNumberCT) != "sealed id" || revoked {
				t.Errorf("as of %v: %+v, revoked %v", asOf, c, revoked)
			}
			if c.HolderIndex != nil || c.CityCode != "" {
				t.Errorf("as of %v: read more than a verification needs: %+v", asOf, c)
			}
			if asOf != !c.ChangedAt.IsZero() {
				t.Errorf("as of %v: status changed at %v", asOf, c.ChangedAt)
			}
		}
	})
}

// Verification ids carry their time, and those of one millisecond
// increase in the order they were made.
func TestVerificationIDsKeepTheirOrderWithinAMillisecond(t *testing.T) {
	prev := ""
	for range 1000 {
		id := store.NewVerificationID(t0)
		if id <= prev {
			t.Fatalf("%s after %s", id, prev)
		}
		if id[:12] != store.NewIDAt(t0)[:12] {
			t.Fatalf("%s is not dated %v", id, t0)
		}
		prev = id
	}
	if earlier := store.NewVerificationID(t0.Add(-time.Second)); earlier >= prev {
		t.Errorf("an id of a second earlier, %s, sorts after %s", earlier, prev)
	}
}
