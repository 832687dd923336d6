package store_test

import (
	"context"
	"testing"
	"time"

	"tempid/internal/store"
	"tempid/internal/store/storetest"
)

func TestRetentionPurgesPersonalDataOfOldCertificatesOnly(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		acct := store.NewID()
		if err := s.CreateAccount(ctx, store.CLI, store.Account{ID: acct, Username: "u" + acct, PasswordHash: "x", Role: store.RolePassenger, CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
		old := issueForTest(t, s, acct, 1, t0, 24*time.Hour)
		recent := issueForTest(t, s, acct, 2, t0.Add(300*24*time.Hour), 24*time.Hour)
		now := t0.Add(400 * 24 * time.Hour)
		n, err := s.PurgePersonalData(ctx, store.System, now.Add(-365*24*time.Hour), now, 100)
		if err != nil || n != 1 {
			t.Fatalf("PurgePersonalData = %d, %v; want 1", n, err)
		}
		o, _ := s.Certificate(ctx, old)
		if o.NameCT != nil || o.IDNumberCT != nil || o.IDMasked == "" {
			t.Errorf("old certificate after purge: name %q id %q masked %q", o.NameCT, o.IDNumberCT, o.IDMasked)
		}
		r, _ := s.Certificate(ctx, recent)
		if r.IDNumberCT == nil {
			t.Error("a certificate inside the retention period was purged")
		}
		if n, _ := s.PurgePersonalData(ctx, store.System, now.Add(-365*24*time.Hour), now, 100); n != 0 {
			t.Errorf("second purge touched %d certificates", n)
		}
	})
}

func TestOldReplayRecordsArePurged(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		for _, step := range []int{100, 200} {
			if err := store.ExecForTest(s, `INSERT INTO code_claims (certificate_id, step, verifier, operations) VALUES ('c', $1, 'v', 32)`, step); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.PurgeCodeClaims(context.Background(), 150); err != nil {
			t.Fatal(err)
		}
		dump := func(table string) int {
			n, err := store.CountForTest(s, table)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		if got := dump("code_claims"); got != 1 {
			t.Errorf("%d claims left, want the recent one", got)
		}
	})
}

// issueForTest issues a certificate valid for validity to the holder with
// the one-byte index holder, through a passed face check, at a time.
func issueForTest(t *testing.T, s *store.Store, acct string, holder byte, at time.Time, validity time.Duration) string {
	t.Helper()
	ctx := context.Background()
	check := store.NewID()
	if err := s.CreateFaceCheck(ctx, store.CLI, store.FaceCheck{ID: check, AccountID: acct, SessionID: "s", Purpose: store.PurposeApply,
		SubjectIndex: []byte{holder}, NameIndex: []byte{1}, NameMasked: "张*", DeviceKey: []byte{2}, DeviceKeyHash: []byte{3},
		Provider: "test", ConsentAt: at, CreatedAt: at, ExpiresAt: at.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CompleteFaceCheck(ctx, store.CLI, check, acct, store.FaceResult{Passed: true}, at); err != nil {
		t.Fatal(err)
	}
	id := store.NewID()
	if _, err := s.IssueCertificate(ctx, store.CLI, store.Issuance{
		Certificate: store.Certificate{ID: id, HolderIndex: []byte{holder}, AccountID: acct, NameCT: []byte("sealed name"),
			IDNumberCT: []byte("sealed id"), NameMasked: "张*", IDMasked: "1101**********0000", CityCode: "110100",
			IssuedAt: at, ExpiresAt: at.Add(validity)},
		FaceCheck:  store.FaceCheckUse{ID: check, AccountID: acct, Purpose: store.PurposeApply, SubjectIndex: []byte{holder}, NameIndex: []byte{1}, Now: at, Window: time.Minute},
		MonthStart: at.Add(-time.Hour), MonthEnd: at.Add(time.Hour), MonthlyLimit: 3, RenewalWindow: time.Hour,
	}); err != nil {
		t.Fatal(err)
	}
	return id
}

func TestOldThrottleFailuresArePurged(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		for _, at := range []time.Time{t0, t0.Add(2 * time.Hour)} {
			if err := s.RecordThrottle(ctx, store.ThrottleLoginIP, []byte("ip"), at); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.PurgeThrottle(ctx, t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		n, _, err := s.CountThrottle(ctx, store.ThrottleLoginIP, []byte("ip"), time.Time{})
		if err != nil || n != 1 {
			t.Errorf("%d failures left (%v), want the recent one", n, err)
		}
	})
}

// TestTheSealedSubjectOfAFaceCheckLivesOnlyWhileItIsPending: completing a
// check clears it, and so does the purge of checks that expired pending;
// a pending check in time keeps it.
func TestTheSealedSubjectOfAFaceCheckLivesOnlyWhileItIsPending(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		acct := store.NewID()
		if err := s.CreateAccount(ctx, store.CLI, store.Account{ID: acct, Username: "u" + acct, PasswordHash: "x", Role: store.RolePassenger, CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
		check := func(expires time.Time) string {
			id := store.NewID()
			if err := s.CreateFaceCheck(ctx, store.CLI, store.FaceCheck{ID: id, AccountID: acct, SessionID: "s", Purpose: store.PurposeApply,
				SubjectIndex: []byte("subject"), NameIndex: []byte("name"), NameMasked: "王*", DeviceKey: []byte("k"), DeviceKeyHash: []byte("h"),
				Provider: "tencent", ConsentAt: t0, CreatedAt: t0, ExpiresAt: expires,
				SubjectSealed: []byte("sealed subject"), ProviderToken: "BIZTOKEN"}); err != nil {
				t.Fatal(err)
			}
			return id
		}
		completed, abandoned, pending := check(t0.Add(time.Minute)), check(t0.Add(time.Minute)), check(t0.Add(time.Hour))
		got, _ := s.FaceCheck(ctx, completed)
		if string(got.SubjectSealed) != "sealed subject" || got.ProviderToken != "BIZTOKEN" {
			t.Fatalf("stored %q %q", got.SubjectSealed, got.ProviderToken)
		}
		if _, err := s.CompleteFaceCheck(ctx, store.CLI, completed, acct, store.FaceResult{Passed: true, Score: 90, Reference: "req"}, t0.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		if n, err := s.PurgeAbandonedFaceChecks(ctx, t0.Add(2*time.Minute)); err != nil || n != 1 {
			t.Fatalf("PurgeAbandonedFaceChecks = %d, %v; want 1", n, err)
		}
		for id, want := range map[string]bool{completed: false, abandoned: false, pending: true} {
			f, err := s.FaceCheck(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if (f.SubjectSealed != nil) != want {
				t.Errorf("check %s: sealed subject kept %v, want %v", f.Status, f.SubjectSealed != nil, want)
			}
			if f.ProviderToken != "BIZTOKEN" {
				t.Error("the provider's token is the check's record and stays")
			}
		}
	})
}
