package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"tempid/internal/face/facetest"
	"tempid/internal/httpapi/apiv1"
	"tempid/internal/idnumber"
	"tempid/internal/online"
	"tempid/internal/policy"
	"tempid/internal/registry"
	"tempid/internal/store"
	"tempid/internal/store/storetest"
)

// photoRegistry confirms every pair and holds a reference photo for each
// person; down makes it fail like a registry out of reach.
type photoRegistry struct {
	mu   sync.Mutex
	down bool
}

const testPhoto = "data:image/jpeg;base64,/9j/AA=="

func (r *photoRegistry) Name() string      { return "photo test" }
func (r *photoRegistry) Development() bool { return false }
func (r *photoRegistry) Confirm(context.Context, string, idnumber.Number) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down {
		return errors.New("registry: connection refused")
	}
	return nil
}
func (r *photoRegistry) Photo(context.Context, string, idnumber.Number) (string, error) {
	return testPhoto, nil
}
func (r *photoRegistry) setDown(d bool) { r.mu.Lock(); r.down = d; r.mu.Unlock() }

var _ registry.Photos = (*photoRegistry)(nil)

// slipApp is the API with a photo registry and a chosen policy.
type slipApp struct {
	*credApp
	reg *photoRegistry
}

func newSlipApp(t *testing.T, s *store.Store, pol policy.Settings) *slipApp {
	t.Helper()
	reg := &photoRegistry{}
	a := newAppWith(t, s, time.Now(), reg, pol)
	return &slipApp{credApp: &credApp{app: a, keys: a.keys}, reg: reg}
}

// member creates and logs in a staff member, officer or admin at station.
func (a *slipApp) member(role, station string) *client {
	a.t.Helper()
	user := "s" + store.NewID()[20:]
	if _, err := a.accounts.CreateStaff(context.Background(), store.CLI, user, "correct horse battery", role, station); err != nil {
		a.t.Fatal(err)
	}
	c := a.client()
	c.want(c.login(user, "correct horse battery"), 200, "")
	return c
}

// terminalOf registers a terminal of a kind at a station.
func (a *slipApp) terminalOf(kind, station string) (string, string) {
	a.t.Helper()
	nt, err := a.accounts.CreateTerminal(context.Background(), store.CLI, kind+" "+station, station, false, kind)
	if err != nil {
		a.t.Fatal(err)
	}
	return nt.APIKey, nt.Terminal.ID
}

func slipBody(p person, method string, extra map[string]any) map[string]any {
	b := map[string]any{"name": p.name, "id_number": p.id.String(), "method": method}
	for k, v := range extra {
		b[k] = v
	}
	return b
}

// kioskSlip runs a kiosk's face check for p and asks for the slip.
func (a *slipApp) kioskSlip(key string, p person) answer {
	a.t.Helper()
	r := a.bearer("POST", "/api/v1/kiosk/face-checks", key, map[string]any{"purpose": "apply", "subject": map[string]any{"name": p.name, "id_number": p.id.String()}, "consent": true})
	if r.status != 201 {
		return r
	}
	id := as[apiv1.FaceCheckResponse](r).FaceCheck.ID
	cap := a.bearerRaw("POST", "/api/v1/kiosk/face-checks/"+id+"/capture", key, "image/jpeg", facetest.SampleJPEG())
	if cap.status != 200 {
		return cap
	}
	return a.bearer("POST", "/api/v1/kiosk/slips", key, map[string]any{"face_check_id": id, "name": p.name, "id_number": p.id.String()})
}

func TestAnOfficerIssuesASlipWithEachMethod(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		a := newSlipApp(t, s, policy.Default())
		officer := a.member(store.RoleOfficer, "BJP")
		for _, tt := range []struct {
			name   string
			method string
			extra  map[string]any
		}{
			{"the registry's photo", "registry_photo", nil},
			{"another document", "document", map[string]any{"document_type": "passport"}},
			{"questions", "questions", map[string]any{"note": "asked the date of birth and the home address"}},
		} {
			t.Run(tt.name, func(t *testing.T) {
				p := newPerson("李四")
				r := officer.json("POST", "/api/v1/slips/lookup", map[string]any{"name": p.name, "id_number": p.id.String()})
				officer.want(r, 200, "")
				if got := as[apiv1.SlipLookup](r); !got.Confirmed || got.Photo != testPhoto {
					t.Fatalf("lookup %+v, want confirmed with the photo", got)
				}
				r = officer.json("POST", "/api/v1/slips", slipBody(p, tt.method, tt.extra))
				officer.want(r, 201, "")
				sl := as[apiv1.Slip](r)
				if !strings.HasPrefix(sl.Slip, "TIDS1:") || sl.Holder.Name != p.name || sl.Holder.IDNumber != p.id.String() ||
					sl.Certificate.Channel != "window" || sl.Certificate.Status != "active" {
					t.Fatalf("slip answer %s", r.raw)
				}
				if !sl.Certificate.ExpiresAt.Equal(sl.Certificate.IssuedAt.Add(24 * time.Hour)) {
					t.Errorf("slip valid [%v, %v), want 24 h", sl.Certificate.IssuedAt, sl.Certificate.ExpiresAt)
				}
				c, err := s.Certificate(context.Background(), sl.Certificate.ID)
				if err != nil || c.Method != tt.method || c.StationCode != "BJP" || c.Slip != sl.Slip {
					t.Errorf("stored %+v (%v), want method %s at BJP with the slip", c, err, tt.method)
				}
				// A printer jammed: the same slip again, not a new certificate.
				re := officer.json("GET", "/api/v1/slips/"+sl.Certificate.ID, nil)
				officer.want(re, 200, "")
				if again := as[apiv1.Slip](re); again.Slip != sl.Slip || again.Certificate.ID != sl.Certificate.ID || again.Holder != sl.Holder {
					t.Errorf("reprint %s, want the same slip", re.raw)
				}
			})
		}
		t.Run("a document without its type is refused", func(t *testing.T) {
			officer.want(officer.json("POST", "/api/v1/slips", slipBody(newPerson("王五"), "document", nil)), 400, "validation_failed")
		})
		t.Run("an unknown method is refused", func(t *testing.T) {
			officer.want(officer.json("POST", "/api/v1/slips", slipBody(newPerson("王五"), "trust_me", nil)), 400, "validation_failed")
		})
		t.Run("staff without the role, and admins, issue nothing", func(t *testing.T) {
			p := newPerson("赵六")
			for _, c := range []*client{a.member(store.RoleStaff, "BJP"), a.member(store.RoleAdmin, "")} {
				c.want(c.json("POST", "/api/v1/slips/lookup", map[string]any{"name": p.name, "id_number": p.id.String()}), 403, "forbidden")
				c.want(c.json("POST", "/api/v1/slips", slipBody(p, "questions", nil)), 403, "forbidden")
			}
		})
		t.Run("an officer of another station cannot reprint", func(t *testing.T) {
			p := newPerson("钱七")
			r := officer.json("POST", "/api/v1/slips", slipBody(p, "questions", nil))
			officer.want(r, 201, "")
			other := a.member(store.RoleOfficer, "SHH")
			other.want(other.json("GET", "/api/v1/slips/"+as[apiv1.Slip](r).Certificate.ID, nil), 404, "not_found")
		})
		t.Run("a registry that is down issues nothing", func(t *testing.T) {
			p := newPerson("孙八")
			a.reg.setDown(true)
			defer a.reg.setDown(false)
			officer.want(officer.json("POST", "/api/v1/slips/lookup", map[string]any{"name": p.name, "id_number": p.id.String()}), 503, "unavailable")
			officer.want(officer.json("POST", "/api/v1/slips", slipBody(p, "questions", nil)), 503, "unavailable")
			if hist, err := s.CertificatesOfHolder(context.Background(), holderIndex(a, p), time.Unix(0, 0), time.Now().Add(time.Hour)); err != nil || len(hist) != 0 {
				t.Errorf("certificates after the registry failed: %d (%v)", len(hist), err)
			}
		})
		t.Run("the stats count slips per officer and certificates by channel", func(t *testing.T) {
			admin := a.member(store.RoleAdmin, "")
			now := a.clock.Now()
			r := admin.json("GET", "/api/v1/admin/stats?from="+now.Add(-time.Hour).UTC().Format(time.RFC3339)+"&to="+now.Add(time.Hour).UTC().Format(time.RFC3339), nil)
			admin.want(r, 200, "")
			st := as[apiv1.Stats](r)
			window := int64(0)
			for _, c := range st.Channels {
				if c.Channel == "window" {
					window = c.Count
				}
			}
			if window != 4 || len(st.Officers) != 1 || st.Officers[0].Slips != 4 || st.Officers[0].StationCode != "BJP" {
				t.Errorf("stats %s, want 4 window certificates, all by one officer at BJP", r.raw)
			}
		})
		t.Run("every step is audited with the officer and the method", func(t *testing.T) {
			entries, err := s.AuditEntries(context.Background(), 0, 1000)
			if err != nil {
				t.Fatal(err)
			}
			lookups, issues := 0, 0
			for _, e := range entries {
				switch {
				case e.Action == "slip.lookup" && strings.HasPrefix(e.Actor, "account:"):
					lookups++
				case e.Action == "certificate.issue" && strings.Contains(string(e.Detail), `"channel":"window"`) && strings.Contains(string(e.Detail), `"method":`):
					issues++
				}
			}
			if lookups < 3 || issues < 4 {
				t.Errorf("%d lookups and %d window issues audited, want at least 3 and 4", lookups, issues)
			}
		})
	})
}

func holderIndex(a *slipApp, p person) []byte {
	return a.kr.BlindIndex("id_number", p.id.String())
}

func TestAKioskIssuesASlipAfterAPassedFaceCheck(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		a := newSlipApp(t, s, policy.Default())
		key, termID := a.terminalOf(store.TerminalKiosk, "BJP")
		p := newPerson("周九")
		r := a.kioskSlip(key, p)
		if r.status != 201 {
			t.Fatalf("kiosk slip: %d %s", r.status, r.raw)
		}
		sl := as[apiv1.Slip](r)
		if sl.Certificate.Channel != "kiosk" || sl.Holder.IDNumber != p.id.String() {
			t.Errorf("kiosk slip %s", r.raw)
		}
		c, err := s.Certificate(context.Background(), sl.Certificate.ID)
		if err != nil || c.IssuedBy != termID || c.Method != store.MethodFaceCheck {
			t.Errorf("stored %+v (%v)", c, err)
		}
		t.Run("the kiosk reprints within 10 minutes, not after", func(t *testing.T) {
			if re := a.bearer("GET", "/api/v1/slips/"+sl.Certificate.ID, key, nil); re.status != 200 || as[apiv1.Slip](re).Slip != sl.Slip {
				t.Errorf("reprint: %d %s", re.status, re.raw)
			}
			a.clock.Advance(11 * time.Minute)
			if re := a.bearer("GET", "/api/v1/slips/"+sl.Certificate.ID, key, nil); re.status != 404 {
				t.Errorf("reprint after 11 minutes: %d %s", re.status, re.raw)
			}
		})
		t.Run("a terminal that is not a kiosk gets 403", func(t *testing.T) {
			for _, kind := range []string{store.TerminalGate, store.TerminalHandheld} {
				k, _ := a.terminalOf(kind, "BJP")
				r := a.bearer("POST", "/api/v1/kiosk/face-checks", k, map[string]any{"purpose": "apply", "subject": map[string]any{"name": p.name, "id_number": p.id.String()}, "consent": true})
				if r.status != 403 || r.code() != "forbidden" {
					t.Errorf("%s: %d %s", kind, r.status, r.raw)
				}
				if r := a.bearer("POST", "/api/v1/kiosk/slips", k, map[string]any{"face_check_id": "x", "name": p.name, "id_number": p.id.String()}); r.status != 403 {
					t.Errorf("%s slip: %d %s", kind, r.status, r.raw)
				}
			}
		})
		t.Run("a kiosk supersedes only within R5's last 3 hours", func(t *testing.T) {
			if r := a.kioskSlip(key, p); r.status != 409 || r.code() != "active_certificate_exists" {
				t.Errorf("a second kiosk slip the same day: %d %s", r.status, r.raw)
			}
		})
		t.Run("without consent nothing starts", func(t *testing.T) {
			r := a.bearer("POST", "/api/v1/kiosk/face-checks", key, map[string]any{"purpose": "apply", "subject": map[string]any{"name": p.name, "id_number": p.id.String()}, "consent": false})
			if r.status != 403 || r.code() != "consent_required" {
				t.Errorf("%d %s", r.status, r.raw)
			}
		})
	})
}

func TestTheDailySlipCapHoldsUnderParallelRequests(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		pol := policy.Default()
		pol.WindowSlipsPerDay = 2
		a := newSlipApp(t, s, pol)
		officer := a.member(store.RoleOfficer, "BJP")
		p := newPerson("吴十")
		// Each request supersedes the one before (with a reason), so only
		// the daily cap can stop them.
		body := slipBody(p, "questions", map[string]any{"supersede_reason": "the first slip was lost"})
		var wg sync.WaitGroup
		answers := make([]answer, 8)
		for i := range answers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				answers[i] = officer.json("POST", "/api/v1/slips", body)
			}()
		}
		wg.Wait()
		created, capped := 0, 0
		for _, r := range answers {
			switch {
			case r.status == 201:
				created++
			case r.status == 429 && r.code() == "slip_limit_reached":
				capped++
				resets := as[struct {
					ResetsAt time.Time `json:"resets_at"`
				}](r).ResetsAt
				if _, end := pol.DayOf(a.clock.Now()); !resets.Equal(end) {
					t.Errorf("resets_at %v, want the next midnight in China Standard Time %v", resets, end)
				}
			default:
				t.Errorf("unexpected answer %d %s", r.status, r.raw)
			}
		}
		if created != 2 || capped != 6 {
			t.Errorf("%d issued and %d capped, want 2 and 6", created, capped)
		}
		t.Run("slips do not count against the month's app quota", func(t *testing.T) {
			q, err := s.CountIssued(context.Background(), holderIndex(a, p), pol.MonthOf(a.clock.Now()).Start(), pol.MonthOf(a.clock.Now()).End())
			if err != nil || q != 0 {
				t.Errorf("app quota used %d (%v), want 0", q, err)
			}
		})
	})
}

func TestOneActiveCertificateWhateverTheChannel(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		a := newSlipApp(t, s, policy.Default())
		h := a.holder("郑一")
		officer := a.member(store.RoleOfficer, "BJP")
		key, _ := a.terminalOf(store.TerminalKiosk, "BJP")
		officer.want(officer.json("POST", "/api/v1/slips", slipBody(h.p, "questions", nil)), 409, "active_certificate_exists")
		if r := a.kioskSlip(key, h.p); r.status != 409 || r.code() != "active_certificate_exists" {
			t.Errorf("kiosk over an app certificate: %d %s", r.status, r.raw)
		}
		r := officer.json("POST", "/api/v1/slips", slipBody(h.p, "document", map[string]any{"document_type": "driving_licence", "supersede_reason": "phone lost; travelling today"}))
		officer.want(r, 201, "")
		sl := as[apiv1.Slip](r)
		app, err := s.Certificate(context.Background(), h.certID)
		if err != nil || app.Status != store.StatusSuperseded || app.SupersededBy != sl.Certificate.ID {
			t.Errorf("the app certificate after the window's slip: %+v (%v)", app, err)
		}
		staff := a.member(store.RoleStaff, "BJP")
		rv := staff.json("POST", "/api/v1/verifications", map[string]any{"code": h.code(a.clock.Now()), "operation": "entry"})
		staff.want(rv, 200, "")
		if v := as[apiv1.VerifyResponse](rv); v.Verdict != "invalid" || v.Reason != "superseded" {
			t.Errorf("the superseded app code: %s", rv.raw)
		}
		stored, _ := s.Certificate(context.Background(), sl.Certificate.ID)
		if stored.SupersedeReason == "" {
			t.Error("the supersede reason was not kept")
		}
	})
}

func TestASlipIsVerifiedPerOperation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		a := newSlipApp(t, s, policy.Default())
		officer := a.member(store.RoleOfficer, "BJP")
		p := newPerson("冯二")
		r := officer.json("POST", "/api/v1/slips", slipBody(p, "registry_photo", nil))
		officer.want(r, 201, "")
		slip := as[apiv1.Slip](r).Slip
		staff := a.member(store.RoleStaff, "BJP")
		for _, op := range online.Operations() {
			t.Run(op, func(t *testing.T) {
				rv := staff.json("POST", "/api/v1/verifications", map[string]any{"code": slip, "operation": op})
				staff.want(rv, 200, "")
				v := as[apiv1.VerifyResponse](rv)
				if v.Verdict != "valid" || v.Kind != "slip" || v.Replay || v.Holder == nil || v.Certificate == nil {
					t.Fatalf("verdict %s", rv.raw)
				}
				full := online.FullIdentity(op)
				if full != (v.Holder.Name == p.name && v.Holder.IDNumber == p.id.String()) {
					t.Errorf("full identity shown %v, want %v: %s", !full, full, rv.raw)
				}
				if !full && (strings.Contains(string(rv.raw), p.id.String()) || strings.Contains(string(rv.raw), p.name)) {
					t.Errorf("the full identity leaked for %s: %s", op, rv.raw)
				}
				if full != (v.Holder.Photo == testPhoto) {
					t.Errorf("photo shown %v, want %v", v.Holder.Photo != "", full)
				}
			})
		}
		t.Run("its uses are listed, the last 10", func(t *testing.T) {
			rv := staff.json("POST", "/api/v1/verifications", map[string]any{"code": slip, "operation": "entry"})
			v := as[apiv1.VerifyResponse](rv)
			if len(v.Uses) != len(online.Operations()) || v.Uses[0].StationCode != "BJP" {
				t.Errorf("uses %s", rv.raw)
			}
			for range 5 {
				rv = staff.json("POST", "/api/v1/verifications", map[string]any{"code": slip, "operation": "ticket_check"})
			}
			if v := as[apiv1.VerifyResponse](rv); len(v.Uses) != 10 || v.Uses[0].Operation != "ticket_check" {
				t.Errorf("uses after 13: %d, first %+v", len(v.Uses), v.Uses)
			}
		})
		t.Run("a gate answers staffed_lane", func(t *testing.T) {
			gate, _ := a.terminalOf(store.TerminalGate, "BJP")
			wantVerdict(t, a.verify(gate, slip, "entry"), "invalid", "staffed_lane", false)
			handheld, _ := a.terminalOf(store.TerminalHandheld, "BJP")
			wantVerdict(t, a.verify(handheld, slip, "ticket_check"), "valid", "", false)
		})
		t.Run("admitted at two stations within 2 h is used_elsewhere, still valid", func(t *testing.T) {
			shh, _ := a.terminalOf(store.TerminalHandheld, "SHH")
			a.clock.Advance(time.Hour)
			rv := a.verify(shh, slip, "entry")
			v := as[apiv1.VerifyResponse](rv)
			if v.Verdict != "valid" || v.UsedElsewhere == nil || !*v.UsedElsewhere {
				t.Errorf("entry at SHH an hour after BJP: %s", rv.raw)
			}
			a.clock.Advance(2*time.Hour + time.Minute)
			rv = a.verify(shh, slip, "entry")
			if v := as[apiv1.VerifyResponse](rv); v.Verdict != "valid" || v.UsedElsewhere == nil || *v.UsedElsewhere {
				t.Errorf("entry at SHH 3 h after BJP: %s", rv.raw)
			}
		})
		t.Run("a revoked slip is revoked", func(t *testing.T) {
			admin := a.member(store.RoleAdmin, "")
			id := as[apiv1.Slip](r).Certificate.ID
			admin.want(admin.json("POST", "/api/v1/admin/certificates/"+id+"/revoke", map[string]any{"reason": "reported stolen"}), 200, "")
			rv := staff.json("POST", "/api/v1/verifications", map[string]any{"code": slip, "operation": "entry"})
			if v := as[apiv1.VerifyResponse](rv); v.Verdict != "invalid" || v.Reason != "revoked" {
				t.Errorf("revoked slip: %s", rv.raw)
			}
		})
	})
}

// bearerRaw sends a body of any type with a terminal's API key.
func (a *slipApp) bearerRaw(method, path, key, contentType string, body []byte) answer {
	a.t.Helper()
	req, err := http.NewRequest(method, a.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	return newAnswer(resp)
}

func TestASlipVerifiesOfflineThroughTheCommandLine(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		a := newSlipApp(t, s, policy.Default())
		officer := a.member(store.RoleOfficer, "BJP")
		p := newPerson("褚三")
		r := officer.json("POST", "/api/v1/slips", slipBody(p, "questions", nil))
		officer.want(r, 201, "")
		slip := as[apiv1.Slip](r).Slip
		nt, err := a.accounts.CreateTerminal(context.Background(), store.CLI, "Lane 2", "BJP", true, store.TerminalHandheld)
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(t.TempDir(), "bundle.json")
		if code, out, errs := run(t, "bundle", "fetch", "--server", a.srv.URL, "--api-key", nt.APIKey, "--out", file); code != 0 {
			t.Fatalf("bundle fetch: exit %d: %s %s", code, out, errs)
		}
		exit, out, errs := run(t, "verify", "--bundle", file, slip)
		if exit != 0 || !strings.HasPrefix(out, "valid") || !strings.Contains(out, "kind: slip") || !strings.Contains(out, "station: BJP") || strings.Contains(out, p.id.String()) {
			t.Errorf("tempid verify of a slip: exit %d, %q %s", exit, out, errs)
		}
		if exit, out, _ := run(t, "verify", "--bundle", file, slip+"A"); exit != 1 || !strings.Contains(out, "malformed") {
			t.Errorf("a slip with a trailing character: exit %d, %q", exit, out)
		}
	})
}

func TestStationsAreThreeCapitalLettersAndTerminalsHaveAKind(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		a := newSlipApp(t, s, policy.Default())
		admin := a.member(store.RoleAdmin, "")
		for _, tt := range []struct {
			name   string
			path   string
			body   map[string]any
			status int
		}{
			{"an officer at BJP", "/api/v1/admin/staff", map[string]any{"username": "officer1", "password": "correct horse battery", "role": "officer", "station_code": "BJP"}, 201},
			{"an officer without a station", "/api/v1/admin/staff", map[string]any{"username": "officer2", "password": "correct horse battery", "role": "officer"}, 400},
			{"staff at a lowercase station", "/api/v1/admin/staff", map[string]any{"username": "staff3", "password": "correct horse battery", "role": "staff", "station_code": "bjp"}, 400},
			{"staff at a station of letters and digits", "/api/v1/admin/staff", map[string]any{"username": "staff4", "password": "correct horse battery", "role": "staff", "station_code": "Beijing01"}, 400},
			{"a kiosk", "/api/v1/admin/terminals", map[string]any{"name": "Kiosk 1", "station_code": "SHH", "offline": false, "kind": "kiosk"}, 201},
			{"a terminal of an unknown kind", "/api/v1/admin/terminals", map[string]any{"name": "Robot", "station_code": "SHH", "offline": false, "kind": "robot"}, 400},
			{"a terminal at a four-letter station", "/api/v1/admin/terminals", map[string]any{"name": "Gate", "station_code": "SHHX", "offline": false}, 400},
		} {
			t.Run(tt.name, func(t *testing.T) {
				r := admin.json("POST", tt.path, tt.body)
				if r.status != tt.status {
					t.Errorf("%d %s, want %d", r.status, r.raw, tt.status)
				}
			})
		}
		r := admin.json("POST", "/api/v1/admin/terminals", map[string]any{"name": "Gate 7", "station_code": "SHH", "offline": false})
		admin.want(r, 201, "")
		if k := as[apiv1.NewTerminal](r).Terminal.Kind; k != "handheld" {
			t.Errorf("a terminal without a kind is %q, want handheld", k)
		}
		staff := a.member(store.RoleStaff, "BJP")
		staff.want(staff.json("POST", "/api/v1/verifications", map[string]any{"code": "TIDS1:", "operation": "entry", "station_code": "bjp"}), 400, "validation_failed")
	})
}

// A slip issued under an Idempotency-Key is issued once: the officer's or
// kiosk's retry gets the same slip again, and the same key with another
// body is refused (API.md "Retries without issuing twice").
func TestASlipRetriedWithItsIdempotencyKeyIsIssuedOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		a := newSlipApp(t, s, policy.Default())
		officer := a.member(store.RoleOfficer, "BJP")
		p := newPerson("重试")
		key := map[string]string{"Idempotency-Key": "window-retry-1"}
		first, err := officer.send(t.Context(), "POST", "/api/v1/slips", slipBody(p, "questions", nil), key)
		if err != nil {
			t.Fatal(err)
		}
		officer.want(first, 201, "")
		again, err := officer.send(t.Context(), "POST", "/api/v1/slips", slipBody(p, "questions", nil), key)
		if err != nil {
			t.Fatal(err)
		}
		officer.want(again, 201, "")
		if got, want := as[apiv1.Slip](again).Slip, as[apiv1.Slip](first).Slip; got != want || got == "" {
			t.Errorf("the retry got slip %q, want the first %q", got, want)
		}
		if got := certificates(t, s); got != 1 {
			t.Errorf("%d certificates after the retry, want 1", got)
		}
		other, err := officer.send(t.Context(), "POST", "/api/v1/slips", slipBody(newPerson("别人"), "questions", nil), key)
		if err != nil {
			t.Fatal(err)
		}
		officer.want(other, 422, "idempotency_key_reused")

		// A kiosk's key is its own: the same key from a kiosk is a new request.
		kioskKey, _ := a.terminalOf(store.TerminalKiosk, "BJP")
		q := newPerson("自助")
		r := a.bearer("POST", "/api/v1/kiosk/face-checks", kioskKey, map[string]any{"purpose": "apply", "subject": map[string]any{"name": q.name, "id_number": q.id.String()}, "consent": true})
		if r.status != 201 {
			t.Fatalf("kiosk face check: %d %s", r.status, r.raw)
		}
		id := as[apiv1.FaceCheckResponse](r).FaceCheck.ID
		if c := a.bearerRaw("POST", "/api/v1/kiosk/face-checks/"+id+"/capture", kioskKey, "image/jpeg", facetest.SampleJPEG()); c.status != 200 {
			t.Fatalf("kiosk capture: %d %s", c.status, c.raw)
		}
		body, _ := json.Marshal(map[string]any{"face_check_id": id, "name": q.name, "id_number": q.id.String()})
		var slips []string
		for range 2 {
			req, _ := http.NewRequest("POST", a.srv.URL+"/api/v1/kiosk/slips", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+kioskKey)
			req.Header.Set("Idempotency-Key", "window-retry-1")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			ans := newAnswer(resp)
			resp.Body.Close()
			if ans.status != 201 {
				t.Fatalf("kiosk slip: %d %s", ans.status, ans.raw)
			}
			slips = append(slips, as[apiv1.Slip](ans).Slip)
		}
		if slips[0] != slips[1] {
			t.Errorf("the kiosk's retry got another slip")
		}
		if got := certificates(t, s); got != 2 {
			t.Errorf("%d certificates, want 2 (one slip each)", got)
		}
	})
}
