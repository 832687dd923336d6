package httpapi_test

import (
	"context"
	"testing"
	"time"

	"tempid/internal/httpapi/apiv1"
	"tempid/internal/online"
	"tempid/internal/policy"
	"tempid/internal/store"
	"tempid/internal/store/storetest"
)

// offlineTerminal registers a terminal with the offline grant.
func (a *slipApp) offlineTerminal(kind, station string) string {
	a.t.Helper()
	nt, err := a.accounts.CreateTerminal(context.Background(), store.CLI, kind+" offline "+station+store.NewID()[:6], station, true, kind)
	if err != nil {
		a.t.Fatal(err)
	}
	return nt.APIKey
}

func TestTerminalScansOfSlipsAreSlipsNeverReplays(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		a := newSlipApp(t, s, policy.Default())
		officer := a.member(store.RoleOfficer, "BJP")
		admin := a.member(store.RoleAdmin, "")
		issue := func(name string) apiv1.Slip {
			t.Helper()
			r := officer.json("POST", "/api/v1/slips", slipBody(newPerson(name), "questions", nil))
			officer.want(r, 201, "")
			return as[apiv1.Slip](r)
		}
		t0 := a.clock.Now()
		s1, s2, s3, s4 := issue("蒋一"), issue("蒋二"), issue("蒋三"), issue("蒋四")
		revokedBefore, revokedAfter := issue("蒋五"), issue("蒋六")
		admin.want(admin.json("POST", "/api/v1/admin/certificates/"+revokedBefore.Certificate.ID+"/revoke", map[string]any{"reason": "lost"}), 200, "")
		a.clock.Advance(30 * time.Minute)
		admin.want(admin.json("POST", "/api/v1/admin/certificates/"+revokedAfter.Certificate.ID+"/revoke", map[string]any{"reason": "lost"}), 200, "")
		a.clock.Advance(4 * time.Hour) // the terminals come back online hours after the scans
		bjp, shh := a.offlineTerminal(store.TerminalHandheld, "BJP"), a.offlineTerminal(store.TerminalHandheld, "SHH")
		gate := a.offlineTerminal(store.TerminalGate, "BJP")
		at := func(d time.Duration) time.Time { return t0.Add(d) }
		valid := func(n int, slip apiv1.Slip, op string, d time.Duration) map[string]any {
			return offlineScan(clientID(n), slip.Slip, op, "valid", "", at(d))
		}

		r, results := a.upload(bjp,
			valid(1, s1, online.Entry, time.Minute),
			valid(2, s1, online.Entry, 2*time.Minute), // the same slip again at the same station
			valid(3, s2, online.Entry, time.Minute),   // another slip at the same terminal
			valid(4, revokedBefore, online.Entry, time.Minute),
			valid(5, revokedAfter, online.Entry, time.Minute),
			offlineScan(clientID(6), s1.Slip+"A", online.Entry, "invalid", "malformed", at(time.Minute)),
			valid(7, s1, online.Entry, -time.Hour), // before the slip was issued
		)
		if r.status != 200 {
			t.Fatalf("upload at BJP: %d %s", r.status, r.raw)
		}
		_, results2 := a.upload(shh,
			valid(21, s1, online.Entry, 61*time.Minute),
			valid(22, s1, online.TicketCheck, 62*time.Minute),
			valid(23, s2, online.Entry, 3*time.Hour+10*time.Minute),
			valid(24, s3, online.Entry, 50*time.Minute),
		)
		_, results3 := a.upload(gate,
			offlineScan(clientID(31), s3.Slip, online.Entry, "invalid", "staffed_lane", at(20*time.Minute)),
		)
		// Uploaded last, scanned first: the SHH admission of s4 is found
		// whichever of the two scans reaches the server first.
		a.upload(shh, valid(41, s4, online.Entry, 90*time.Minute))
		_, results4 := a.upload(bjp, valid(42, s4, online.Entry, 10*time.Minute))
		for _, tt := range []struct {
			name                         string
			results                      map[string]map[string]any
			client                       int
			status, reason, afterTheFact string
		}{
			{"a valid slip scan is stored", results, 1, "stored", "", ""},
			{"the same slip again at the same station is not a replay", results, 2, "stored", "", ""},
			{"two slips at the same terminal claim nothing of each other", results, 3, "stored", "", ""},
			{"a slip revoked before the scan is revoked", results, 4, "stored", "revoked", ""},
			{"a slip scanned before its revocation is valid as of the scan", results, 5, "stored", "", ""},
			{"a slip with a trailing character is malformed", results, 6, "stored", "malformed", ""},
			{"a slip scanned before its issue is not_yet_valid", results, 7, "stored", "not_yet_valid", ""},
			{"admitted at SHH an hour after BJP is used_elsewhere", results2, 21, "stored", "", "used_elsewhere"},
			{"a ticket check is not an admission", results2, 22, "stored", "", ""},
			{"admitted at SHH more than 2 h after BJP is not used_elsewhere", results2, 23, "stored", "", ""},
			{"the first admission is not used_elsewhere", results2, 24, "stored", "", ""},
			{"a gate's scan of a slip is re-verified at a gate: staffed_lane", results3, 31, "stored", "staffed_lane", ""},
			{"an admission uploaded after a later one elsewhere is used_elsewhere too", results4, 42, "stored", "", "used_elsewhere"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				wantResult(t, tt.results, clientID(tt.client), tt.status, tt.reason, tt.afterTheFact)
			})
		}

		t.Run("a batch sent again is a duplicate and says used_elsewhere again", func(t *testing.T) {
			_, again := a.upload(shh, valid(21, s1, online.Entry, 61*time.Minute))
			wantResult(t, again, clientID(21), "duplicate", "", "used_elsewhere")
		})
		t.Run("the scans are the slip's uses, offline, at their stations and times", func(t *testing.T) {
			uses, _, err := s.SlipUses(context.Background(), s1.Certificate.ID, "BJP", a.clock.Now(), time.Hour, 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(uses) != 5 || uses[0].StationCode != "SHH" || uses[0].Operation != online.TicketCheck || !uses[0].At.Equal(at(62*time.Minute)) {
				t.Errorf("uses of s1: %+v", uses)
			}
		})
		t.Run("online, an entry at BJP within 2 h of the offline SHH one is used_elsewhere", func(t *testing.T) {
			a.clock.Set(at(100 * time.Minute))
			staff := a.member(store.RoleStaff, "BJP")
			rv := staff.json("POST", "/api/v1/verifications", map[string]any{"code": s1.Slip, "operation": "entry"})
			if v := as[apiv1.VerifyResponse](rv); v.Verdict != "valid" || v.UsedElsewhere == nil || !*v.UsedElsewhere {
				t.Errorf("online entry after the offline one: %s", rv.raw)
			}
		})
	})
}
