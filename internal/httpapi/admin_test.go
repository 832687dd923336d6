package httpapi_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"tempid/internal/face/facetest"
	"tempid/internal/httpapi/apiv1"
	"tempid/internal/online"
	"tempid/internal/store"
	"tempid/internal/store/storetest"
)

// auditOf lists the audit log with a query, failing the test on a refusal.
func auditOf(t *testing.T, admin *client, query url.Values) []apiv1.AuditEntry {
	t.Helper()
	r := admin.json("GET", "/api/v1/admin/audit?"+query.Encode(), nil)
	admin.want(r, 200, "")
	return as[apiv1.AuditEntries](r).Entries
}

// detailOf reads an audit entry's detail.
func detailOf(t *testing.T, e apiv1.AuditEntry) map[string]any {
	t.Helper()
	var d map[string]any
	if err := json.Unmarshal(e.Detail, &d); err != nil {
		t.Fatalf("detail of %d: %v", e.ID, err)
	}
	return d
}

func TestTheAuditLogNamesItsActorsAndFiltersAndOrders(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		a := newCredApp(t, s, time.Now())
		admin := a.admin()
		admin.want(admin.json("POST", "/api/v1/admin/staff", map[string]any{
			"username": "clerk.li", "password": "correct horse battery", "role": "staff", "station_code": "BJP"}), 201, "")
		clerk := a.client()
		clerk.want(clerk.login("clerk.li", "correct horse battery"), 200, "")
		r := admin.json("POST", "/api/v1/admin/terminals", map[string]any{"name": "Gate 7", "station_code": "BJP"})
		admin.want(r, 201, "")
		gate := as[apiv1.NewTerminal](r).APIKey
		start := a.clock.Now()
		a.clock.Advance(time.Hour)
		h := a.holder("审计")
		code := h.code(a.clock.Now())
		wantVerdict(t, a.verify(gate, code, online.Entry), "valid", "", false)
		wantVerdict(t, a.verify(gate, code, online.Entry), "invalid", "replayed", true)
		wantVerdict(t, clerk.json("POST", "/api/v1/verifications", map[string]any{"code": "garbage", "operation": "entry"}), "invalid", "malformed", false)
		revoked := a.holder("撤销")
		admin.want(admin.json("POST", "/api/v1/admin/certificates/"+revoked.certID+"/revoke", map[string]any{"reason": "suspected_misuse"}), 200, "")
		wantVerdict(t, a.verify(gate, revoked.code(a.clock.Now()), online.Entry), "invalid", "revoked", false)

		// The dashboard splits the failures: one replay, one malformed
		// scan, one real rejection.
		st := as[apiv1.Stats](admin.json("GET", "/api/v1/admin/stats?bucket=hour", nil))
		var valid, invalid, replayed, malformed int64
		for _, v := range st.Verifications {
			valid, invalid, replayed, malformed = valid+v.Valid, invalid+v.Invalid, replayed+v.Replayed, malformed+v.Malformed
		}
		if valid != 1 || invalid != 3 || replayed != 1 || malformed != 1 {
			t.Errorf("stats: %d valid, %d invalid of which %d replayed and %d malformed; want 1, 3, 1, 1", valid, invalid, replayed, malformed)
		}

		all := auditOf(t, admin, url.Values{"limit": {"1000"}})
		for i := 1; i < len(all); i++ {
			if all[i].ID <= all[i-1].ID {
				t.Fatalf("the default order is not oldest first: %d after %d", all[i].ID, all[i-1].ID)
			}
		}
		newest := auditOf(t, admin, url.Values{"limit": {"1000"}, "order": {"desc"}})
		if len(newest) != len(all) || newest[0].ID != all[len(all)-1].ID {
			t.Fatalf("order=desc lists %d entries from %d, want %d from %d", len(newest), newest[0].ID, len(all), all[len(all)-1].ID)
		}
		for i := 1; i < len(newest); i++ {
			if newest[i].ID >= newest[i-1].ID {
				t.Fatalf("order=desc is not newest first: %d after %d", newest[i].ID, newest[i-1].ID)
			}
		}
		// Paging newest first: after names the last entry seen.
		page := auditOf(t, admin, url.Values{"limit": {"2"}, "order": {"desc"}, "after": {itoa(newest[1].ID)}})
		if len(page) != 2 || page[0].ID != newest[2].ID || page[1].ID != newest[3].ID {
			t.Errorf("the second page newest first is %v, want entries %d and %d", ids(page), newest[2].ID, newest[3].ID)
		}

		for _, e := range all {
			switch {
			case e.Actor == "system" || e.Actor == "cli":
				if e.ActorName != e.Actor || e.ActorRole != e.Actor {
					t.Errorf("entry %d by %s is named %q (%s)", e.ID, e.Actor, e.ActorName, e.ActorRole)
				}
			case e.ActorName == "" || e.ActorName == e.Actor || strings.Contains(e.ActorName, ":"):
				t.Errorf("entry %d by %s has no name: %q", e.ID, e.Actor, e.ActorName)
			}
		}

		for _, tt := range []struct {
			name  string
			query url.Values
			want  func(apiv1.AuditEntry) bool
		}{
			{"a staff username lists that account's entries", url.Values{"actor_name": {"clerk.li"}},
				func(e apiv1.AuditEntry) bool { return e.ActorName == "clerk.li" && e.ActorRole == "staff" }},
			{"a terminal's name lists its entries", url.Values{"actor_name": {"Gate 7"}},
				func(e apiv1.AuditEntry) bool { return e.ActorName == "Gate 7" && e.ActorRole == "terminal" }},
			{"an action lists its entries", url.Values{"action": {"verification"}},
				func(e apiv1.AuditEntry) bool { return e.Action == "verification" }},
			{"actor and action combine", url.Values{"actor_name": {"clerk.li"}, "action": {"verification"}},
				func(e apiv1.AuditEntry) bool { return e.ActorName == "clerk.li" && e.Action == "verification" }},
			{"a time range lists what happened in it", url.Values{"from": {start.Add(time.Hour).Format(time.RFC3339)}, "to": {start.Add(2 * time.Hour).Format(time.RFC3339)}},
				func(e apiv1.AuditEntry) bool {
					return !e.At.Before(start.Add(time.Hour)) && e.At.Before(start.Add(2*time.Hour))
				}},
			{"the range and the actor combine", url.Values{"to": {start.Add(time.Minute).Format(time.RFC3339)}, "actor_name": {"root"}},
				func(e apiv1.AuditEntry) bool {
					return e.At.Before(start.Add(time.Minute)) && e.ActorName == "root" && e.ActorRole == "admin"
				}},
		} {
			t.Run(tt.name, func(t *testing.T) {
				tt.query.Set("limit", "1000")
				got := auditOf(t, admin, tt.query)
				wantN := 0
				for _, e := range all {
					if tt.want(e) {
						wantN++
					}
				}
				if wantN == 0 {
					t.Fatal("the test's log holds no such entry")
				}
				if len(got) != wantN {
					t.Errorf("%d entries, want %d", len(got), wantN)
				}
				for _, e := range got {
					if !tt.want(e) {
						t.Errorf("entry %d (%s by %s) does not match", e.ID, e.Action, e.ActorName)
					}
				}
			})
		}
		if got := auditOf(t, admin, url.Values{"actor_name": {"nobody"}}); len(got) != 0 {
			t.Errorf("an unknown actor lists %d entries", len(got))
		}
		for _, q := range []string{"order=newest", "from=yesterday", "after=-1"} {
			admin.want(admin.json("GET", "/api/v1/admin/audit?"+q, nil), 400, "validation_failed")
		}
	})
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func ids(list []apiv1.AuditEntry) []int64 {
	out := make([]int64, len(list))
	for i, e := range list {
		out[i] = e.ID
	}
	return out
}

func TestRevokingTakesAReasonFromTheListAndRecordsThePreviousStatus(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		a := newApp(t, s)
		admin := a.admin()
		for i, tt := range []struct {
			name     string
			body     map[string]any
			expired  bool
			status   int
			reason   string
			note     string
			previous string
		}{
			{"a listed reason is stored as its code", map[string]any{"reason": "found_id_card"}, false, 200, "found_id_card", "", "active"},
			{"a listed reason may carry a note", map[string]any{"reason": "suspected_misuse", "note": "two stations at once"}, false, 200, "suspected_misuse", "two stations at once", "active"},
			{"other with a note", map[string]any{"reason": "other", "note": "passenger asked"}, false, 200, "other", "passenger asked", "active"},
			{"other without a note is refused", map[string]any{"reason": "other"}, false, 400, "", "", ""},
			{"no reason is refused", map[string]any{"note": "x"}, false, 400, "", "", ""},
			{"an older client's free text is other with the text as its note", map[string]any{"reason": "reported stolen"}, false, 200, "other", "reported stolen", "active"},
			{"an expired certificate was expired before", map[string]any{"reason": "wrong_details"}, true, 200, "wrong_details", "", "expired"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				c := a.client()
				p := newPerson([]string{"撤一", "撤二", "撤三", "撤四", "撤五", "撤六", "撤七"}[i])
				c.signUp(p)
				check, _ := c.faceCheck(p, facetest.SampleJPEG())
				id := as[apiv1.Applied](c.apply(p, check)).Certificate.ID
				if tt.expired {
					a.clock.Advance(25 * time.Hour)
					admin.want(admin.login("root", "correct horse battery"), 200, "")
					c.want(c.login(c.user, "correct horse battery"), 200, "")
				}
				r := admin.json("POST", "/api/v1/admin/certificates/"+id+"/revoke", tt.body)
				if tt.status != 200 {
					admin.want(r, tt.status, "validation_failed")
					return
				}
				admin.want(r, 200, "")
				cert := as[apiv1.CertificateResponse](r).Certificate
				if cert.Status != "revoked" || cert.RevokeReason != tt.reason {
					t.Errorf("certificate %s with reason %q, want revoked with %q", cert.Status, cert.RevokeReason, tt.reason)
				}
				if tt.note != "" && strings.Contains(string(r.raw), tt.note) {
					t.Errorf("the note is in the certificate's answer: %s", r.raw)
				}
				mine := as[apiv1.CertificateResponse](c.json("GET", "/api/v1/certificates/"+id, nil)).Certificate
				if mine.RevokeReason != tt.reason && mine.RevokeReason != "" {
					t.Errorf("the passenger is told %q", mine.RevokeReason)
				}
				entries := auditOf(t, admin, url.Values{"action": {"certificate.revoke"}, "order": {"desc"}, "limit": {"1"}})
				if len(entries) != 1 || entries[0].Object != "certificate:"+id {
					t.Fatalf("no revocation entry for %s: %v", id, entries)
				}
				d := detailOf(t, entries[0])
				if d["previous_status"] != tt.previous || d["reason"] != tt.reason || (d["note"] != nil && d["note"] != tt.note) || (tt.note != "" && d["note"] != tt.note) {
					t.Errorf("revocation recorded %v, want previous_status %s, reason %s, note %q", d, tt.previous, tt.reason, tt.note)
				}
				if entries[0].ActorName != "root" || entries[0].ActorRole != "admin" {
					t.Errorf("revoked by %q (%s)", entries[0].ActorName, entries[0].ActorRole)
				}
			})
		}
	})
}

func TestAdminsEditAndDisableStaffAndTerminals(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		a := newCredApp(t, s, time.Now())
		admin := a.admin()
		r := admin.json("POST", "/api/v1/admin/staff", map[string]any{
			"username": "clerk.wang", "password": "correct horse battery", "role": "staff", "station_code": "BJP"})
		admin.want(r, 201, "")
		staffID := as[apiv1.AccountResponse](r).Account.ID
		clerk := a.client()
		clerk.want(clerk.login("clerk.wang", "correct horse battery"), 200, "")

		t.Run("staff move to another station", func(t *testing.T) {
			r := admin.json("PATCH", "/api/v1/admin/staff/"+staffID, map[string]any{"station_code": "SHH"})
			admin.want(r, 200, "")
			if got := as[apiv1.AccountResponse](r).Account.StationCode; got != "SHH" {
				t.Errorf("station %q, want SHH", got)
			}
			v := as[apiv1.Verifier](clerk.json("GET", "/api/v1/verifier", nil))
			if v.Account == nil || v.Account.StationCode != "SHH" {
				t.Errorf("the clerk's session sees %+v", v.Account)
			}
			admin.want(admin.json("PATCH", "/api/v1/admin/staff/"+staffID, map[string]any{"station_code": ""}), 400, "validation_failed")
			admin.want(admin.json("PATCH", "/api/v1/admin/staff/"+staffID, map[string]any{"station_code": "shanghai"}), 400, "validation_failed")
			admin.want(admin.json("PATCH", "/api/v1/admin/staff/"+staffID, map[string]any{"role": "admin"}), 400, "validation_failed")
		})
		t.Run("a disabled account's sessions end and it cannot log in; enabled, it can", func(t *testing.T) {
			r := admin.json("PATCH", "/api/v1/admin/staff/"+staffID, map[string]any{"disabled": true})
			admin.want(r, 200, "")
			if as[apiv1.AccountResponse](r).Account.DisabledAt.IsZero() {
				t.Errorf("no disabled_at: %s", r.raw)
			}
			clerk.want(clerk.json("GET", "/api/v1/verifier", nil), 401, "unauthenticated")
			other := a.client()
			other.want(other.login("clerk.wang", "correct horse battery"), 401, "unauthenticated")
			admin.want(admin.json("PATCH", "/api/v1/admin/staff/"+staffID, map[string]any{"disabled": false}), 200, "")
			other.want(other.login("clerk.wang", "correct horse battery"), 200, "")
			other.want(other.json("GET", "/api/v1/verifier", nil), 200, "")
			// The old session stays ended.
			clerk.want(clerk.json("GET", "/api/v1/verifier", nil), 401, "unauthenticated")
		})
		t.Run("an admin cannot disable themselves, nor a passenger as staff", func(t *testing.T) {
			me := as[apiv1.Session](admin.json("GET", "/api/v1/session", nil)).Account.ID
			admin.want(admin.json("PATCH", "/api/v1/admin/staff/"+me, map[string]any{"disabled": true}), 400, "validation_failed")
			p := a.client()
			p.signUp(newPerson("乘客"))
			pid := as[apiv1.Session](p.json("GET", "/api/v1/session", nil)).Account.ID
			admin.want(admin.json("PATCH", "/api/v1/admin/staff/"+pid, map[string]any{"disabled": true}), 404, "not_found")
			p.want(p.json("GET", "/api/v1/session", nil), 200, "")
		})

		r = admin.json("POST", "/api/v1/admin/terminals", map[string]any{"name": "Gate 1", "station_code": "BJP"})
		admin.want(r, 201, "")
		termID, key := as[apiv1.NewTerminal](r).Terminal.ID, as[apiv1.NewTerminal](r).APIKey
		t.Run("a terminal is renamed and granted offline verification", func(t *testing.T) {
			r := admin.json("PATCH", "/api/v1/admin/terminals/"+termID, map[string]any{"name": "Gate 2", "offline": true})
			admin.want(r, 200, "")
			if tm := as[apiv1.TerminalResponse](r).Terminal; tm.Name != "Gate 2" || !tm.Offline {
				t.Errorf("terminal %+v", tm)
			}
			if r := a.bearer("GET", "/api/v1/trust-bundle", key, nil); r.status != 200 {
				t.Errorf("the granted terminal's bundle: %d %s", r.status, r.raw)
			}
			admin.want(admin.json("PATCH", "/api/v1/admin/terminals/"+termID, map[string]any{"name": " "}), 400, "validation_failed")
			admin.want(admin.json("PATCH", "/api/v1/admin/terminals/"+store.NewID(), map[string]any{"name": "x"}), 404, "not_found")
		})
		t.Run("a disabled terminal's key is refused until it is enabled", func(t *testing.T) {
			admin.want(admin.json("PATCH", "/api/v1/admin/terminals/"+termID, map[string]any{"disabled": true}), 200, "")
			if r := a.bearer("GET", "/api/v1/verifier", key, nil); r.status != 401 || r.code() != "unauthenticated" {
				t.Errorf("a disabled terminal's key: %d %s", r.status, r.raw)
			}
			list := as[apiv1.Terminals](admin.json("GET", "/api/v1/admin/terminals", nil)).Terminals
			if len(list) != 1 || list[0].DisabledAt.IsZero() {
				t.Errorf("the list shows %+v", list)
			}
			admin.want(admin.json("PATCH", "/api/v1/admin/terminals/"+termID, map[string]any{"disabled": false}), 200, "")
			if r := a.bearer("GET", "/api/v1/verifier", key, nil); r.status != 200 {
				t.Errorf("an enabled terminal's key: %d %s", r.status, r.raw)
			}
		})
		t.Run("every change is audited", func(t *testing.T) {
			staff := auditOf(t, admin, url.Values{"action": {"staff.update"}, "actor_name": {"root"}})
			term := auditOf(t, admin, url.Values{"action": {"terminal.update"}, "actor_name": {"root"}})
			if len(staff) != 3 || len(term) != 3 {
				t.Fatalf("%d staff and %d terminal changes audited, want 3 and 3", len(staff), len(term))
			}
			if d := detailOf(t, staff[1]); d["sessions_ended"] != float64(1) {
				t.Errorf("disabling recorded %v, want one session ended", d)
			}
			if d := detailOf(t, term[0]); d["name"] == nil || d["offline"] == nil {
				t.Errorf("the rename recorded %v", d)
			}
		})
	})
}
