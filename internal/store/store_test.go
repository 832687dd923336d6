package store_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"tempid/internal/pii"
	"tempid/internal/store"
	"tempid/internal/store/storetest"
)

var t0 = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

// exec runs raw SQL on a store's database, as an attacker with database
// access would.
func exec(t *testing.T, s *store.Store, q string, args ...any) {
	t.Helper()
	if err := store.ExecForTest(s, q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func seedAudit(t *testing.T, s *store.Store, n int) []string {
	t.Helper()
	var ids []string
	for i := range n {
		id := store.NewID()
		ids = append(ids, id)
		if err := s.CreateAccount(context.Background(), store.CLI, store.Account{
			ID: id, Username: "user" + id, PasswordHash: "x", Role: store.RoleStaff, StationCode: "BJP", CreatedAt: t0.Add(time.Duration(i) * time.Second),
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SealAllAudit(context.Background(), t0); err != nil {
		t.Fatal(err)
	}
	return ids
}

func TestAuditChainVerifiesAndDetectsTampering(t *testing.T) {
	for _, c := range []struct {
		name    string
		tamper  []string
		wantSeq int64
	}{
		{"an edited entry", []string{`UPDATE audit_events SET detail = '{"role":"admin"}' WHERE id = (SELECT event_id FROM audit_chain WHERE seq = 3)`}, 3},
		{"a deleted entry", []string{`DELETE FROM audit_events WHERE id = (SELECT event_id FROM audit_chain WHERE seq = 4)`}, 4},
		{"a deleted link", []string{`DELETE FROM audit_chain WHERE seq = 2`}, 2},
		{"reordered entries", []string{
			`UPDATE audit_chain SET event_id = -event_id WHERE seq = 2`,
			`UPDATE audit_chain SET event_id = (SELECT -event_id FROM audit_chain WHERE seq = 2) WHERE seq = 3`,
			`UPDATE audit_chain SET event_id = (SELECT event_id FROM audit_events WHERE id NOT IN (SELECT abs(event_id) FROM audit_chain WHERE seq <> 2) ORDER BY id LIMIT 1) WHERE seq = 2`,
		}, 2},
		{"a truncated tail", []string{`DELETE FROM audit_chain WHERE seq = 5`}, 5},
	} {
		t.Run(c.name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, s *store.Store) {
				ctx := context.Background()
				seedAudit(t, s, 5)
				rep, err := s.VerifyAudit(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if rep.FirstBad != nil || rep.Entries != 5 || rep.Pending != 0 {
					t.Fatalf("untouched chain: %+v", rep)
				}
				for _, q := range c.tamper {
					exec(t, s, q)
				}
				rep, err = s.VerifyAudit(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if rep.FirstBad == nil {
					t.Fatal("tampering not detected")
				}
				if got := rep.FirstBad.Seq; got != c.wantSeq {
					t.Errorf("first bad link %d (%s), want %d", got, rep.FirstBad, c.wantSeq)
				}
			})
		})
	}
}

func TestAuditEntriesAreSealedInOrderAndPendingIsReported(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		seedAudit(t, s, 3)
		if err := s.CreateAccount(ctx, store.CLI, store.Account{ID: store.NewID(), Username: "late", PasswordHash: "x", Role: store.RoleAdmin, CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
		rep, err := s.VerifyAudit(ctx)
		if err != nil || rep.FirstBad != nil || rep.Pending != 1 || rep.Entries != 3 {
			t.Fatalf("before sealing: %+v, %v", rep, err)
		}
		if n, err := s.SealAudit(ctx, t0, 10); err != nil || n != 1 {
			t.Fatalf("SealAudit = %d, %v", n, err)
		}
		rep, err = s.VerifyAudit(ctx)
		if err != nil || rep.FirstBad != nil || rep.Pending != 0 || rep.Entries != 4 {
			t.Fatalf("after sealing: %+v, %v", rep, err)
		}
	})
}

func TestSealedIdentityDoesNotOpenInAnotherRow(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		keys, err := pii.ParseKeyring(pii.NewKeyFile())
		if err != nil {
			t.Fatal(err)
		}
		a, b := store.NewID(), store.NewID()
		for id, number := range map[string]string{a: "110105194912310025", b: "310104198001011234"} {
			if err := s.CreateAccount(ctx, store.CLI, store.Account{ID: id, Username: id, PasswordHash: "x", Role: store.RolePassenger,
				IDNumberCT: keys.SealString(number, "account.id_number:"+id), CreatedAt: t0}); err != nil {
				t.Fatal(err)
			}
		}
		// Copy b's ciphertext over a's: a row swap.
		exec(t, s, `UPDATE accounts SET id_number_ct = (SELECT id_number_ct FROM accounts WHERE id = $1) WHERE id = $2`, b, a)
		got, err := s.Account(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		if v, err := keys.OpenString(got.IDNumberCT, "account.id_number:"+a); err == nil {
			t.Errorf("a ciphertext copied from another row opened: %q", v)
		}
		// Flip one byte of b's ciphertext: tampering.
		exec(t, s, `UPDATE accounts SET id_number_ct = $1 WHERE id = $2`, flip(got.IDNumberCT), b)
		tampered, _ := s.Account(ctx, b)
		if _, err := keys.OpenString(tampered.IDNumberCT, "account.id_number:"+b); err == nil {
			t.Error("a tampered ciphertext opened")
		}
	})
}

func flip(b []byte) []byte {
	out := append([]byte(nil), b...)
	out[len(out)-1] ^= 0x80
	return out
}

func TestMigrateTwiceIsHarmless(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		if err := s.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := s.Ping(context.Background()); err != nil {
			t.Fatal(err)
		}
		if d := s.Dialect(); !strings.Contains("sqlite postgres", d) {
			t.Errorf("dialect %q", d)
		}
	})
}

func TestSearchFiltersStatusBeforeTheLimit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		acct := store.NewID()
		if err := s.CreateAccount(ctx, store.CLI, store.Account{ID: acct, Username: "u" + acct, PasswordHash: "x", Role: store.RolePassenger, CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
		// Three certificates of three people, issued an hour apart: the
		// oldest revoked, the middle one expired, the newest active.
		var ids []string
		for i, validity := range []time.Duration{24 * time.Hour, time.Hour, 24 * time.Hour} {
			ids = append(ids, issueForTest(t, s, acct, byte(i+1), t0.Add(time.Duration(i)*time.Hour), validity))
		}
		if _, err := s.RevokeCertificate(ctx, store.CLI, ids[0], "other", "test", t0); err != nil {
			t.Fatal(err)
		}
		now := t0.Add(5 * time.Hour)
		for _, c := range []struct {
			status string
			want   string
		}{
			{store.StatusRevoked, ids[0]},
			{store.StatusExpired, ids[1]},
			{store.StatusActive, ids[2]},
		} {
			got, err := s.SearchCertificates(ctx, nil, c.status, t0.Add(-time.Hour), now, now, 1)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || got[0].ID != c.want {
				t.Errorf("status %s with limit 1: got %d certificates, want %s", c.status, len(got), c.want)
			}
		}
	})
}

func TestNewIDsAreUniqueAndSortByTime(t *testing.T) {
	seen := map[string]bool{}
	prev := ""
	for i := 0; i < 2000; i++ {
		id := store.NewID()
		if len(id) != 32 || strings.Trim(id, "0123456789abcdef") != "" {
			t.Fatalf("%q is not 128 bits of lowercase hex", id)
		}
		if seen[id] {
			t.Fatalf("%s made twice", id)
		}
		seen[id] = true
		// Within one millisecond the order is random; across them, by time.
		if prev != "" && id[:12] < prev[:12] {
			t.Fatalf("%s made after %s sorts before it", id, prev)
		}
		prev = id
		if i == 1000 {
			time.Sleep(2 * time.Millisecond)
		}
	}
	made, err := strconv.ParseInt(prev[:12], 16, 64)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(time.UnixMilli(made)); d < 0 || d > time.Minute {
		t.Errorf("the identifier %s does not start with the time it was made: %v off", prev, d)
	}
}
