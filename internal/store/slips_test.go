package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"tempid/internal/store"
	"tempid/internal/store/storetest"
)

// Migration 0008 keeps the rows written before it valid: stations that fit
// become three capital letters and the others are reported, accounts keep
// their roles and sessions, terminals become hand-held, certificates come
// from the app and still count against the month, and an officer can be
// created.
func TestRowsWrittenBeforeMigration8StayValid(t *testing.T) {
	for _, backend := range storetest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			old, upgrade := openBefore(t, backend, "0008")
			for _, q := range []struct {
				sql  string
				args []any
			}{
				{`INSERT INTO accounts (id, username, password_hash, role, station_code, created_at) VALUES ('a1', 'clerk', 'x', 'staff', 'bjp', 1)`, nil},
				{`INSERT INTO accounts (id, username, password_hash, role, station_code, created_at) VALUES ('a2', 'clerk2', 'x', 'staff', 'Beijing01', 1)`, nil},
				{`INSERT INTO accounts (id, username, password_hash, role, created_at) VALUES ('a3', 'pax', 'x', 'passenger', 1)`, nil},
				{`INSERT INTO sessions (token_hash, id, account_id, csrf_token, created_at, expires_at) VALUES ($1, 's1', 'a1', 'c', 1, 9999999999999)`, []any{[]byte("t1")}},
				{`INSERT INTO terminals (id, name, station_code, offline, key_hash, created_at) VALUES ('g1', 'gate', 'shh', true, $1, 1)`, []any{[]byte("k1")}},
				{`INSERT INTO certificates (id, holder_index, account_id, face_check_id, name_masked, id_masked, city_code, issued_at, expires_at, status, status_at)
					VALUES ('c1', $1, 'a3', 'f1', '张*', '1101**********002X', '110100', 1, 86400001, 'active', 1)`, []any{[]byte("h1")}},
			} {
				if err := store.ExecForTest(old, q.sql, q.args...); err != nil {
					t.Fatalf("%s: %v", q.sql, err)
				}
			}
			s := upgrade()
			a, err := s.Account(ctx, "a1")
			if err != nil || a.StationCode != "BJP" || a.Role != store.RoleStaff {
				t.Errorf("clerk after the upgrade: %+v %v, want station BJP", a, err)
			}
			if _, _, err := s.SessionByToken(ctx, []byte("t1"), time.UnixMilli(2)); err != nil {
				t.Errorf("the clerk's session after the upgrade: %v", err)
			}
			bad, err := s.NonconformingStations(ctx)
			if err != nil || !slices.Equal(bad, []string{"Beijing01"}) {
				t.Errorf("nonconforming stations %q (%v), want [Beijing01]", bad, err)
			}
			terms, err := s.Terminals(ctx)
			if err != nil || len(terms) != 1 || terms[0].Kind != store.TerminalHandheld || terms[0].StationCode != "SHH" {
				t.Errorf("terminals after the upgrade: %+v %v, want one hand-held at SHH", terms, err)
			}
			c, err := s.Certificate(ctx, "c1")
			if err != nil || c.Channel != store.ChannelApp {
				t.Errorf("certificate after the upgrade: channel %q (%v), want app", c.Channel, err)
			}
			if n, err := s.CountIssued(ctx, []byte("h1"), time.UnixMilli(0), time.UnixMilli(2)); err != nil || n != 1 {
				t.Errorf("the app certificate counts %d (%v), want 1", n, err)
			}
			err = s.CreateAccount(ctx, store.CLI, store.Account{ID: "o1", Username: "officer", PasswordHash: "x", Role: store.RoleOfficer, StationCode: "BJP", CreatedAt: time.Now()})
			if err != nil {
				t.Errorf("creating an officer: %v", err)
			}
			if err := store.ExecForTest(s, `INSERT INTO sessions (token_hash, id, account_id, csrf_token, created_at, expires_at) VALUES ('t2', 's2', 'nobody', 'c', 1, 2)`); err == nil {
				t.Error("a session for no account was accepted: the foreign key to accounts was lost")
			}
		})
	}
}
