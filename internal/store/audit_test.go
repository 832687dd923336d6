package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"tempid/internal/audit"
	"tempid/internal/store"
	"tempid/internal/store/storetest"
)

// Migration 0012 moves the audit chain into the entries: a database made
// by the schema before it, with sealed entries and entries still waiting
// for the sealer, verifies after the upgrade with every entry in the
// chain, and entries written afterwards continue it. On PostgreSQL the
// old sealer could link entries out of id order; the upgraded chain keeps
// that order.
func TestAnAuditChainMadeBeforeMigration12VerifiesAfterIt(t *testing.T) {
	for _, backend := range storetest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			// Every migration before 0012.
			old, upgrade := openBefore(t, backend, "0012")
			run := func(q string, args ...any) {
				t.Helper()
				if err := store.ExecForTest(old, q, args...); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			entries := make([]audit.Entry, 6)
			for i := range entries {
				e := audit.Entry{ID: int64(i + 1), At: t0.Add(time.Duration(i) * time.Second), Actor: "cli", Action: "account.create",
					Object: fmt.Sprintf("account:%d", i+1), Detail: fmt.Sprintf(`{"username":"user%d","role":"staff"}`, i+1)}
				entries[i] = e
				run(`INSERT INTO audit_events (id, at, actor, action, object, detail) VALUES ($1, $2, $3, $4, $5, $6)`,
					e.ID, e.At.UnixMilli(), e.Actor, e.Action, e.Object, e.Detail)
			}
			run(`DELETE FROM audit_pending`)
			// The sealer linked entries 1, 2 and 3 (on PostgreSQL 1, 2
			// and 4: entry 3's transaction committed after it looked);
			// the others wait.
			sealed, pending := []int{1, 2, 3}, []int{4, 5, 6}
			if backend == "postgres" {
				sealed, pending = []int{1, 2, 4}, []int{3, 5, 6}
			}
			prev := audit.Genesis
			for i, id := range sealed {
				seq := int64(i + 1)
				hash := audit.Hash(prev, seq, entries[id-1])
				run(`INSERT INTO audit_chain (seq, event_id, prev_hash, hash, sealed_at) VALUES ($1, $2, $3, $4, $5)`,
					seq, id, prev, hash, t0.UnixMilli())
				prev = hash
			}
			run(`UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1`, len(sealed), prev)
			for _, id := range pending {
				run(`INSERT INTO audit_pending (event_id) VALUES ($1)`, id)
			}

			s := upgrade()
			rep, err := s.VerifyAudit(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if rep.FirstBad != nil || rep.Entries != 6 {
				t.Fatalf("after the upgrade: %d entries, first bad %v; want 6 good entries", rep.Entries, rep.FirstBad)
			}
			if err := s.CreateAccount(ctx, store.CLI, store.Account{ID: store.NewID(), Username: "after", PasswordHash: "x",
				Role: store.RoleStaff, StationCode: "BJP", CreatedAt: t0}); err != nil {
				t.Fatal(err)
			}
			rep, err = s.VerifyAudit(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if rep.FirstBad != nil || rep.Entries != 7 {
				t.Fatalf("after a new entry: %d entries, first bad %v; want 7 good entries", rep.Entries, rep.FirstBad)
			}
			listed, err := s.AuditEntries(ctx, 6, 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(listed) != 1 || listed[0].ID != 7 || listed[0].Object == entries[5].Object {
				t.Errorf("entries after id 6: %+v, want the new one as id 7", listed)
			}
			// The upgraded chain still detects an edit of a pending
			// entry it linked.
			if err := store.ExecForTest(s, `UPDATE audit_events SET detail = '{}' WHERE id = $1`, pending[0]); err != nil {
				t.Fatal(err)
			}
			rep, err = s.VerifyAudit(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if rep.FirstBad == nil || rep.FirstBad.Seq != 4 {
				t.Errorf("an edited entry at link 4: first bad %v", rep.FirstBad)
			}
		})
	}
}
