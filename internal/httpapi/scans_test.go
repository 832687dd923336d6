package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"tempid/internal/bundle"
	"tempid/internal/online"
	"tempid/internal/store"
	"tempid/internal/store/storetest"
)

// scan is one scan of an upload, as a terminal sends it.
func offlineScan(clientID, code, operation, verdict, reason string, at time.Time) map[string]any {
	s := map[string]any{"client_id": clientID, "code": code, "operation": operation, "verdict": verdict, "scanned_at": at.Format(time.RFC3339Nano)}
	if reason != "" {
		s["reason"] = reason
	}
	return s
}

// upload sends scans and returns the answer's results by client id.
func (a *credApp) upload(key string, scans ...map[string]any) (answer, map[string]map[string]any) {
	a.t.Helper()
	r := a.bearer("POST", "/api/v1/terminal/scans", key, map[string]any{"scans": scans})
	out := map[string]map[string]any{}
	list, _ := r.fields()["results"].([]any)
	for _, x := range list {
		m := x.(map[string]any)
		out[m["client_id"].(string)] = m
	}
	return r, out
}

// wantResult checks one scan's result: status, reason and after_the_fact
// ("" for absent).
func wantResult(t *testing.T, results map[string]map[string]any, clientID, status, reason, afterTheFact string) {
	t.Helper()
	r, ok := results[clientID]
	if !ok {
		t.Fatalf("no result for %s in %v", clientID, results)
	}
	gotReason, _ := r["reason"].(string)
	gotATF, _ := r["after_the_fact"].(string)
	if r["status"] != status || gotReason != reason || gotATF != afterTheFact {
		t.Errorf("%s: got %v, want status %s reason %q after_the_fact %q", clientID, r, status, reason, afterTheFact)
	}
}

func clientID(n int) string { return fmt.Sprintf("scan-%012d-%s", n, strings.Repeat("x", 4)) }

func TestTrustBundleAnswers304WhileNothingChanged(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		a := newCredApp(t, s, time.Date(2026, 12, 3, 8, 1, 0, 0, time.UTC))
		gate := a.terminal("Gate 1", true)
		admin := a.staff(store.RoleAdmin)
		get := func(ifNoneMatch string) answer {
			t.Helper()
			req, _ := http.NewRequest("GET", a.srv.URL+"/api/v1/trust-bundle", nil)
			req.Header.Set("Authorization", "Bearer "+gate)
			if ifNoneMatch != "" {
				req.Header.Set("If-None-Match", ifNoneMatch)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			return answer{status: resp.StatusCode, header: resp.Header, raw: raw}
		}
		first := get("")
		etag := first.header.Get("ETag")
		if first.status != 200 || etag == "" {
			t.Fatalf("first fetch: %d, ETag %q", first.status, etag)
		}
		p, err := bundle.Open(first.raw, a.keys.Published(a.clock.Now()))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := p.IssuedAt, time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC); !got.Equal(want) {
			t.Errorf("issued_at %v, want the start of its 10-minute epoch %v", got, want)
		}
		h := a.holder("郑一")

		for _, tt := range []struct {
			name        string
			change      func()
			ifNoneMatch func() string
			status      int
		}{
			{"the same bundle again is 304", func() { a.clock.Advance(5 * time.Minute) }, func() string { return etag }, 304},
			{"a weak tag among others matches too", nil, func() string { return `"nope", W/` + etag }, 304},
			{"without If-None-Match the bundle is sent", nil, func() string { return "" }, 200},
			{"another tag gets the bundle", nil, func() string { return `"0000"` }, 200},
			{"a revocation changes the bundle", func() {
				admin.want(admin.json("POST", "/api/v1/admin/certificates/"+h.certID+"/revoke", map[string]any{"reason": "lost"}), 200, "")
			}, func() string { return etag }, 200},
		} {
			t.Run(tt.name, func(t *testing.T) {
				if tt.change != nil {
					tt.change()
				}
				r := get(tt.ifNoneMatch())
				if r.status != tt.status {
					t.Fatalf("status %d, want %d", r.status, tt.status)
				}
				if r.header.Get("ETag") == "" {
					t.Error("no ETag")
				}
				if tt.status == 304 && len(r.raw) != 0 {
					t.Errorf("a 304 with a body of %d bytes", len(r.raw))
				}
			})
		}
		t.Run("a new epoch changes the bundle", func(t *testing.T) {
			cur := get("")
			a.clock.Advance(10 * time.Minute)
			if r := get(cur.header.Get("ETag")); r.status != 200 || r.header.Get("ETag") == cur.header.Get("ETag") {
				t.Errorf("after the epoch: %d with ETag %s (was %s)", r.status, r.header.Get("ETag"), cur.header.Get("ETag"))
			}
		})
	})
}

func TestTerminalScansAreReverifiedRecordedAndReplaysFlagged(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		a := newCredApp(t, s, time.Now())
		gateA, gateB := a.terminal("Gate A", true), a.terminal("Gate B", true)
		onlineGate := a.terminal("Gate C", false)
		admin := a.staff(store.RoleAdmin)
		base := a.clock.Now()
		valid := func(id string, h *holder, op string) map[string]any {
			return offlineScan(id, h.code(base), op, "valid", "", base)
		}

		h1, h2, h3, h4 := a.holder("王一"), a.holder("王二"), a.holder("王三"), a.holder("王四")
		revokedBefore := a.holder("王五")
		admin.want(admin.json("POST", "/api/v1/admin/certificates/"+revokedBefore.certID+"/revoke", map[string]any{"reason": "lost"}), 200, "")
		revokedAfter := a.holder("王六")
		revokedAfterCode := revokedAfter.code(base)
		a.clock.Advance(2 * time.Minute)
		admin.want(admin.json("POST", "/api/v1/admin/certificates/"+revokedAfter.certID+"/revoke", map[string]any{"reason": "lost"}), 200, "")
		a.clock.Advance(3 * time.Minute) // the gates come back online five minutes after the scans

		t.Run("only terminals with the offline grant upload", func(t *testing.T) {
			r, _ := a.upload(onlineGate, valid(clientID(1), h1, online.Entry))
			if r.status != 403 || r.code() != "forbidden" {
				t.Errorf("online-only terminal: %d %s", r.status, r.raw)
			}
			if r := admin.json("POST", "/api/v1/terminal/scans", map[string]any{"scans": []any{}}); r.status != 403 {
				t.Errorf("admin session: %d %s", r.status, r.raw)
			}
			if r, _ := a.upload("", valid(clientID(1), h1, online.Entry)); r.status != 401 {
				t.Errorf("no key: %d", r.status)
			}
		})

		r, results := a.upload(gateA,
			valid(clientID(1), h1, online.Entry),
			offlineScan(clientID(2), "HC1:NCFOXN%TS3DH3ZSUZK+.V0ETD%65NL", online.Entry, "invalid", "malformed", base),
			offlineScan(clientID(3), revokedBefore.code(base), online.Entry, "valid", "", base),
			offlineScan(clientID(4), revokedAfterCode, online.Entry, "valid", "", base),
			valid(clientID(5), h2, online.Entry),
			valid(clientID(6), h2, online.Entry),       // the same code for the same operation again
			valid(clientID(7), h2, online.TicketCheck), // the same code for another operation
			offlineScan(clientID(8), h3.code(base), online.Entry, "invalid", "stale_bundle", base),
			offlineScan("short", h4.code(base), online.Entry, "valid", "", base),
			offlineScan(clientID(9), h4.code(base), "boarding", "valid", "", base),
			offlineScan(clientID(10), h4.code(base), online.Entry, "valid", "code_expired", base),
			offlineScan(clientID(11), h4.code(base), online.Entry, "valid", "", a.clock.Now().Add(time.Minute)),
			offlineScan(clientID(12), h4.code(base), online.Entry, "invalid", "no_reason_like_this", base),
		)
		if r.status != 200 {
			t.Fatalf("upload: %d %s", r.status, r.raw)
		}
		for _, tt := range []struct {
			name, client, status, reason, afterTheFact string
		}{
			{"a valid scan is stored", clientID(1), "stored", "", ""},
			{"garbage is stored with the server's reason", clientID(2), "stored", "malformed", ""},
			{"a scan of a certificate revoked before the scan is stored with reason revoked", clientID(3), "stored", "revoked", ""},
			{"a scan before the certificate's revocation is valid as of its time", clientID(4), "stored", "", ""},
			{"the first use of a code is stored", clientID(5), "stored", "", ""},
			{"the same code for the same operation again is an after-the-fact replay", clientID(6), "stored", "", "replayed"},
			{"the same code at the same gate for another operation is not a replay", clientID(7), "stored", "", ""},
			{"a scan the terminal refused (stale bundle) claims nothing", clientID(8), "stored", "", ""},
			{"a client id under 16 characters is refused", "short", "refused", "validation_failed", ""},
			{"an unknown operation is refused", clientID(9), "refused", "validation_failed", ""},
			{"a valid verdict with a reason is refused", clientID(10), "refused", "validation_failed", ""},
			{"a scan from the future is refused", clientID(11), "refused", "validation_failed", ""},
			{"an invalid verdict with an unknown reason is refused", clientID(12), "refused", "validation_failed", ""},
		} {
			t.Run(tt.name, func(t *testing.T) { wantResult(t, results, tt.client, tt.status, tt.reason, tt.afterTheFact) })
		}

		t.Run("the same code accepted at another gate is an after-the-fact replay", func(t *testing.T) {
			_, results := a.upload(gateB, valid(clientID(1), h1, online.TicketCheck), valid(clientID(2), h3, online.Entry))
			wantResult(t, results, clientID(1), "stored", "", "replayed")
			// h3's code was refused at gate A (stale bundle), so its use at
			// gate B is the first.
			wantResult(t, results, clientID(2), "stored", "", "")
		})
		t.Run("a code used offline is replayed when shown online later in its window", func(t *testing.T) {
			a.clock.Set(base.Add(30 * time.Second))
			defer a.clock.Set(base.Add(5 * time.Minute))
			_, results := a.upload(gateA, valid(clientID(20), h4, online.Entry))
			wantResult(t, results, clientID(20), "stored", "", "")
			wantVerdict(t, a.verify(onlineGate, h4.code(base), online.Entry), "invalid", "replayed", true)
		})
		t.Run("a batch sent again is stored once", func(t *testing.T) {
			r, results := a.upload(gateA, valid(clientID(1), h1, online.Entry), valid(clientID(6), h2, online.Entry),
				offlineScan(clientID(2), "garbage", online.Entry, "invalid", "malformed", base))
			if r.status != 200 {
				t.Fatalf("%d %s", r.status, r.raw)
			}
			wantResult(t, results, clientID(1), "duplicate", "", "")
			wantResult(t, results, clientID(6), "duplicate", "", "replayed")
			wantResult(t, results, clientID(2), "duplicate", "malformed", "")
		})
		t.Run("more than 500 scans are refused whole", func(t *testing.T) {
			var many []map[string]any
			for i := range 501 {
				many = append(many, offlineScan(clientID(1000+i), "x", online.Entry, "invalid", "malformed", base))
			}
			r, _ := a.upload(gateA, many...)
			if r.status != 400 || r.code() != "validation_failed" {
				t.Errorf("501 scans: %d %s", r.status, r.raw)
			}
		})
		t.Run("a body without scans is refused", func(t *testing.T) {
			r := a.bearer("POST", "/api/v1/terminal/scans", gateA, map[string]any{"scan": []any{}})
			if r.status != 400 {
				t.Errorf("%d %s", r.status, r.raw)
			}
		})

		t.Run("the admin lists after-the-fact replays and revokes from there", func(t *testing.T) {
			r := admin.json("GET", "/api/v1/admin/replays", nil)
			admin.want(r, 200, "")
			list, _ := r.fields()["replays"].([]any)
			if len(list) != 2 {
				t.Fatalf("%d replays listed, want 2: %s", len(list), r.raw)
			}
			byCert := map[string]map[string]any{}
			for _, x := range list {
				m := x.(map[string]any)
				byCert[m["certificate"].(map[string]any)["id"].(string)] = m
			}
			got := byCert[h1.certID]
			if got == nil || got["station_code"] != "BJP" || got["terminal"].(map[string]any)["name"] != "Gate B" ||
				got["operation"] != "ticket_check" || got["certificate"].(map[string]any)["status"] != "active" {
				t.Errorf("h1's replay: %v", got)
			}
			if holder := got["certificate"].(map[string]any)["holder"].(map[string]any); holder["id_number_masked"] != h1.p.id.Masked() {
				t.Errorf("holder %v", holder)
			}
			if byCert[h2.certID] == nil || byCert[h2.certID]["terminal"].(map[string]any)["name"] != "Gate A" {
				t.Errorf("h2's replay: %v", byCert[h2.certID])
			}
			admin.want(admin.json("POST", "/api/v1/admin/certificates/"+h1.certID+"/revoke", map[string]any{"reason": "after-the-fact replay"}), 200, "")
			r = admin.json("GET", "/api/v1/admin/replays", nil)
			for _, x := range r.fields()["replays"].([]any) {
				m := x.(map[string]any)
				if c := m["certificate"].(map[string]any); c["id"] == h1.certID && c["status"] != "revoked" {
					t.Errorf("after revocation: %v", c)
				}
			}
			staff := a.staff(store.RoleStaff)
			if r := staff.json("GET", "/api/v1/admin/replays", nil); r.status != 403 {
				t.Errorf("staff: %d", r.status)
			}
		})

		t.Run("offline scans are counted in the stats and audited", func(t *testing.T) {
			st, err := s.StatsOf(context.Background(), base.Add(-time.Hour), base.Add(time.Hour), time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			var offline int64
			for _, v := range st.Verifications {
				offline += v.Offline
			}
			// Gate A: 8 of the first batch and 1 later, gate B 2.
			if got, want := offline, int64(11); got != want {
				t.Errorf("offline verifications counted %d, want %d", got, want)
			}
			r := admin.json("GET", "/api/v1/admin/audit?limit=200", nil)
			admin.want(r, 200, "")
			n := 0
			for _, e := range r.fields()["entries"].([]any) {
				d, _ := e.(map[string]any)["detail"].(map[string]any)
				if e.(map[string]any)["action"] == "verification" && d["offline"] == true {
					n++
				}
			}
			if n != 11 {
				t.Errorf("%d offline verifications audited, want 11", n)
			}
		})
	})
}

// TestParallelDuplicateBatchesAreStoredOnce: the same batch sent at once
// over several connections (a terminal that retried while its first upload
// was still running) is stored once: every scan is "stored" in exactly one
// answer and "duplicate" in all others, and claims its code once.
func TestParallelDuplicateBatchesAreStoredOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		a := newCredApp(t, s, time.Now())
		gate := a.terminal("Gate A", true)
		base := a.clock.Now()
		var scans []map[string]any
		for i := range 6 {
			h := a.holder(fmt.Sprintf("冯%d", i))
			scans = append(scans, offlineScan(clientID(i), h.code(base), online.Entry, "valid", "", base))
		}
		const senders = 6
		answers := make([]map[string]map[string]any, senders)
		var wg sync.WaitGroup
		for i := range senders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, results := a.upload(gate, scans...)
				if r.status != 200 {
					t.Errorf("sender %d: %d %s", i, r.status, r.raw)
				}
				answers[i] = results
			}()
		}
		wg.Wait()
		for i := range scans {
			stored := 0
			for _, ans := range answers {
				switch st := ans[clientID(i)]["status"]; st {
				case "stored":
					stored++
				case "duplicate":
				default:
					t.Errorf("scan %d: status %v", i, st)
				}
				if atf := ans[clientID(i)]["after_the_fact"]; atf != nil {
					t.Errorf("scan %d flagged %v: a repeated batch is not a replay", i, atf)
				}
			}
			if stored != 1 {
				t.Errorf("scan %d stored in %d answers, want 1", i, stored)
			}
		}
		st, err := s.StatsOf(context.Background(), base.Add(-time.Hour), base.Add(time.Hour), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		for _, v := range st.Verifications {
			n += v.Offline
		}
		if n != int64(len(scans)) {
			t.Errorf("%d offline verifications stored, want %d", n, len(scans))
		}
	})
}

// fields reads an answer as a JSON object, for the scan log's answers,
// which have no apiv1 types yet.
func (r answer) fields() map[string]any {
	var m map[string]any
	json.Unmarshal(r.raw, &m)
	return m
}
