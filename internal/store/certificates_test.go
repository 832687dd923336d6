package store_test

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"tempid/internal/store"
	"tempid/internal/store/storetest"
)

// passForTest shows a certificate's pass through a passed view face check
// at a time, as the app does, and returns the pass's id.
func passForTest(t *testing.T, s *store.Store, acct, cert string, at time.Time) string {
	t.Helper()
	ctx := context.Background()
	check := store.NewID()
	if err := s.CreateFaceCheck(ctx, store.CLI, store.FaceCheck{ID: check, AccountID: acct, SessionID: "s", Purpose: store.PurposeView,
		SubjectIndex: []byte{1}, NameIndex: []byte{1}, NameMasked: "张*", CertificateID: cert, DeviceKey: []byte{2}, DeviceKeyHash: []byte{3},
		Provider: "test", ConsentAt: at, CreatedAt: at, ExpiresAt: at.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CompleteFaceCheck(ctx, store.CLI, check, acct, store.FaceResult{Passed: true}, at); err != nil {
		t.Fatal(err)
	}
	id := store.NewID()
	if err := s.IssuePass(ctx, store.CLI, store.FaceCheckUse{ID: check, AccountID: acct, Purpose: store.PurposeView, CertificateID: cert,
		Now: at, Window: time.Minute}, store.Pass{ID: id, CertificateID: cert, FaceCheckID: check, SessionID: "s", DeviceKeyHash: []byte{3},
		IssuerKID: "k1", NotBefore: at, NotAfter: at.Add(time.Hour), IssuedAt: at}); err != nil {
		t.Fatal(err)
	}
	return id
}

// Migration 0014 stores SQLite's certificates WITHOUT ROWID, rebuilding
// them and the passes that name them. Certificates issued before it — one
// expired and purged, one superseded early by a window slip, the slip, one
// revoked — keep every column, and their passes keep theirs; the indexes,
// the foreign keys, the CHECKs and the unique face check are still there;
// a verification reads the slip as before; the audit chain still
// verifies. PostgreSQL has no 0014: there the same rows just come through
// the upgrade.
func TestCertificatesIssuedBeforeMigration14KeepEveryColumn(t *testing.T) {
	for _, backend := range storetest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			// Every migration before 0014.
			old, upgrade := openBefore(t, backend, "0014")
			acct, officer := store.NewID(), store.NewID()
			for _, a := range []store.Account{
				{ID: acct, Username: "pax", PasswordHash: "x", Role: store.RolePassenger, CreatedAt: t0},
				{ID: officer, Username: "officer", PasswordHash: "x", Role: store.RoleOfficer, StationCode: "BJP", CreatedAt: t0},
			} {
				if err := old.CreateAccount(ctx, store.CLI, a); err != nil {
					t.Fatal(err)
				}
			}
			purged := issueForTest(t, old, acct, 1, t0.Add(-72*time.Hour), 24*time.Hour)
			passForTest(t, old, acct, purged, t0.Add(-71*time.Hour))
			if n, err := old.PurgePersonalData(ctx, store.System, t0.Add(-24*time.Hour), t0, 10); err != nil || n != 1 {
				t.Fatalf("PurgePersonalData = %d, %v; want 1", n, err)
			}
			superseded := issueForTest(t, old, acct, 2, t0.Add(-time.Hour), 24*time.Hour)
			passForTest(t, old, acct, superseded, t0.Add(-time.Hour))
			slip := store.NewID()
			if _, err := old.IssueSlip(ctx, store.AccountActor(officer), store.SlipIssuance{
				Certificate: store.Certificate{ID: slip, HolderIndex: []byte{2}, AccountID: officer, NameCT: []byte("sealed name"),
					IDNumberCT: []byte("sealed id"), NameMasked: "张*", IDMasked: "1101**********0000", CityCode: "110100",
					IssuedAt: t0, ExpiresAt: t0.Add(24 * time.Hour), Channel: store.ChannelWindow, StationCode: "BJP", IssuedBy: officer,
					Method: store.MethodDocument, DocumentType: "passport", SupersedeReason: "phone lost", Slip: "the slip's text"},
				Now: t0, DayStart: t0.Add(-time.Hour), DayEnd: t0.Add(time.Hour), RenewalWindow: time.Hour,
			}); err != nil {
				t.Fatal(err)
			}
			revoked := issueForTest(t, old, acct, 3, t0, 24*time.Hour)
			passForTest(t, old, acct, revoked, t0)
			if _, err := old.RevokeCertificate(ctx, store.CLI, revoked, "fraud", "", t0.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}

			// What must come through: every row and column, and on SQLite
			// the columns' declarations, the foreign keys and the indexes.
			reads := []string{`SELECT * FROM certificates ORDER BY id`, `SELECT * FROM passes ORDER BY id`}
			if backend == "sqlite" {
				reads = append(reads,
					// A WITHOUT ROWID table's key is NOT NULL; the ids
					// always were.
					`SELECT name, type, "notnull" OR pk, dflt_value, pk FROM pragma_table_xinfo('certificates')`,
					`SELECT * FROM pragma_table_xinfo('passes')`,
					`SELECT * FROM pragma_foreign_key_list('certificates')`,
					`SELECT * FROM pragma_foreign_key_list('passes')`,
					`SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name IN ('certificates', 'passes') AND sql IS NOT NULL ORDER BY name`)
			}
			type result struct {
				cols []string
				rows [][]any
			}
			read := func(s *store.Store) []result {
				t.Helper()
				out := make([]result, len(reads))
				for i, q := range reads {
					cols, rows, err := store.RowsForTest(s, q)
					if err != nil {
						t.Fatalf("%s: %v", q, err)
					}
					out[i] = result{cols, rows}
				}
				return out
			}
			before := read(old)
			if certs, passes := before[0].rows, before[1].rows; len(certs) != 4 || len(passes) != 3 {
				t.Fatalf("before the upgrade: %d certificates and %d passes, want 4 and 3", len(certs), len(passes))
			}
			if indexes := before[len(before)-1].rows; backend == "sqlite" && len(indexes) != 6 {
				t.Fatalf("before the upgrade: indexes %v, want 6", indexes)
			}
			verified, _, err := old.CertificateAndDevice(ctx, slip, []byte{3}, t0)
			if err != nil {
				t.Fatal(err)
			}
			audited, err := old.VerifyAudit(ctx)
			if err != nil {
				t.Fatal(err)
			}

			s := upgrade()
			after := read(s)
			for i, q := range reads {
				if b, a := before[i], after[i]; !reflect.DeepEqual(b, a) {
					t.Errorf("%s\nbefore the upgrade: %v %v\nafter it:           %v %v", q, b.cols, b.rows, a.cols, a.rows)
				}
			}
			if backend == "sqlite" {
				_, rows, err := store.RowsForTest(s, `SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'certificates'`)
				if err != nil || len(rows) != 1 || !strings.Contains(rows[0][0].(string), "WITHOUT ROWID") {
					t.Errorf("certificates after the upgrade: %v (%v), want a WITHOUT ROWID table", rows, err)
				}
				if _, rows, err := store.RowsForTest(s, `PRAGMA foreign_key_check`); err != nil || len(rows) != 0 {
					t.Errorf("foreign_key_check after the upgrade: %v (%v), want nothing", rows, err)
				}
			}

			// The constraints still refuse what they refused.
			insertCert := `INSERT INTO certificates (id, holder_index, account_id, face_check_id, name_masked, id_masked, city_code,
				issued_at, expires_at, status, status_at, channel) VALUES ($1, $2, $3, $4, '张*', '1101**********0000', '110100', 1, 2, $5, 1, $6)`
			for _, r := range []struct {
				why  string
				sql  string
				args []any
			}{
				{"a pass of no certificate", `INSERT INTO passes (id, certificate_id, face_check_id, session_id, device_key_hash, issuer_kid,
					not_before, not_after, issued_at) VALUES ('p9', 'nothing', 'f9', 's', $1, 'k1', 1, 2, 1)`, []any{[]byte{3}}},
				{"a second certificate with an id", insertCert, []any{slip, []byte{9}, acct, "f9", "active", "app"}},
				{"a second certificate of a face check", insertCert, []any{"c9", []byte{9}, acct, "none:" + slip, "active", "app"}},
				{"a certificate of no account", insertCert, []any{"c9", []byte{9}, "nobody", "f9", "active", "app"}},
				{"a status not known", insertCert, []any{"c9", []byte{9}, acct, "f9", "lost", "app"}},
				{"a channel not known", insertCert, []any{"c9", []byte{9}, acct, "f9", "active", "post"}},
			} {
				if err := store.ExecForTest(s, r.sql, r.args...); err == nil {
					t.Errorf("%s was accepted after the upgrade", r.why)
				}
			}
			if err := store.ExecForTest(s, `INSERT INTO certificates (id, holder_index, account_id, face_check_id, name_masked, id_masked,
				city_code, issued_at, expires_at, status, status_at) VALUES ('c10', $1, $2, 'f10', '张*', '1101**********0000', '110100', 1, 2, 'active', 1)`,
				[]byte{9}, acct); err != nil {
				t.Errorf("a good certificate was refused after the upgrade: %v", err)
			} else if c, err := s.Certificate(ctx, "c10"); err != nil || c.Channel != store.ChannelApp {
				t.Errorf("a certificate inserted without a channel: %q (%v), want app", c.Channel, err)
			}

			if got, _, err := s.CertificateAndDevice(ctx, slip, []byte{3}, t0); err != nil || !reflect.DeepEqual(got, verified) {
				t.Errorf("a verification's read after the upgrade: %+v (%v)\nbefore it: %+v", got, err, verified)
			}
			rep, err := s.VerifyAudit(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if rep.FirstBad != nil || rep.Entries != audited.Entries || audited.FirstBad != nil {
				t.Errorf("the audit chain after the upgrade: %d entries, first bad %v; before it %d, first bad %v",
					rep.Entries, rep.FirstBad, audited.Entries, audited.FirstBad)
			}
		})
	}
}
