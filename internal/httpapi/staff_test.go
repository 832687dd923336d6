package httpapi_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"tempid/internal/bundle"
	"tempid/internal/cli"
	"tempid/internal/credential"
	"tempid/internal/devcli"
	"tempid/internal/face/facetest"
	"tempid/internal/httpapi/apiv1"
	"tempid/internal/keys"
	"tempid/internal/online"
	"tempid/internal/store"
	"tempid/internal/store/storetest"
	"tempid/internal/verify"
)

// credApp is the API with the credential wired in: keys that sign passes
// and bundles, and online verification.
type credApp struct {
	*app
	keys *keys.Service
}

func newCredApp(t *testing.T, s *store.Store, at time.Time) *credApp {
	t.Helper()
	a := newAppAt(t, s, at)
	return &credApp{app: a, keys: a.keys}
}

// holder is a passenger with a certificate and the pass last issued for it.
type holder struct {
	c      *client
	p      person
	user   string
	certID string
	pass   []byte
}

func (a *credApp) holder(name string) *holder {
	a.t.Helper()
	h := &holder{c: a.client(), p: newPerson(name), user: "h" + store.NewID()[:12]}
	h.c.want(h.c.json("POST", "/api/v1/accounts", map[string]any{"username": h.user, "password": "correct horse battery", "name": h.p.name, "id_number": h.p.id.String()}), 201, "")
	h.c.want(h.c.login(h.user, "correct horse battery"), 200, "")
	check, capture := h.c.faceCheck(h.p, facetest.SampleJPEG())
	h.c.want(capture, 200, "")
	r := h.c.apply(h.p, check)
	h.c.want(r, 201, "")
	h.certID = as[apiv1.Applied](r).Certificate.ID
	h.setPass(r)
	return h
}

func (h *holder) setPass(r answer) {
	h.c.a.t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(as[apiv1.PassResponse](r).Pass.Pass)
	if err != nil || len(raw) == 0 {
		h.c.a.t.Fatalf("no pass in %s", r.raw)
	}
	h.pass = raw
}

// code is what the phone shows at now.
func (h *holder) code(now time.Time) string {
	h.c.a.t.Helper()
	code, err := credential.MakeCode(h.pass, credential.StepAt(now), h.c.device, rand.Reader)
	if err != nil {
		h.c.a.t.Fatal(err)
	}
	h.c.a.shown(code)
	return code
}

// viewCheck starts and passes a view face check of the certificate.
func (h *holder) viewCheck() string {
	h.c.a.t.Helper()
	r := h.c.json("POST", "/api/v1/face-checks", map[string]any{"purpose": "view", "certificate_id": h.certID, "device_key": h.c.jwk(), "consent": true})
	h.c.want(r, 201, "")
	id := as[apiv1.FaceCheckResponse](r).FaceCheck.ID
	h.c.want(h.c.do("POST", "/api/v1/face-checks/"+id+"/capture", "image/jpeg", facetest.SampleJPEG()), 200, "")
	return id
}

// newPass asks for a new pass after a view check.
func (h *holder) newPass() answer {
	h.c.a.t.Helper()
	r := h.c.json("POST", "/api/v1/certificates/"+h.certID+"/passes", map[string]any{"face_check_id": h.viewCheck()})
	if r.status == 201 {
		h.setPass(r)
	}
	return r
}

// terminal registers a terminal and returns its API key.
func (a *credApp) terminal(name string, offline bool) string {
	a.t.Helper()
	nt, err := a.accounts.CreateTerminal(context.Background(), store.CLI, name, "BJP", offline, "")
	if err != nil {
		a.t.Fatal(err)
	}
	return nt.APIKey
}

// staff creates and logs in a staff member or admin.
func (a *credApp) staff(role string) *client {
	a.t.Helper()
	user := "s" + store.NewID()[:12]
	station := "BJP"
	if role == store.RoleAdmin {
		station = ""
	}
	if _, err := a.accounts.CreateStaff(context.Background(), store.CLI, user, "correct horse battery", role, station); err != nil {
		a.t.Fatal(err)
	}
	c := a.client()
	c.want(c.login(user, "correct horse battery"), 200, "")
	return c
}

// bearer sends a request with a terminal's API key.
func (a *credApp) bearer(method, path, key string, body any) answer {
	a.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.srv.URL+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	return newAnswer(resp)
}

func (a *credApp) verify(key, code, operation string) answer {
	a.t.Helper()
	return a.bearer("POST", "/api/v1/verifications", key, map[string]any{"code": code, "operation": operation})
}

// wantVerdict checks a verification answer.
func wantVerdict(t *testing.T, r answer, verdict, reason string, replay bool) {
	t.Helper()
	if r.status != 200 {
		t.Fatalf("status %d (%s), want 200", r.status, r.raw)
	}
	v := as[apiv1.VerifyResponse](r)
	if v.Verdict != verdict || v.Reason != reason || v.Replay != replay {
		t.Fatalf("got %s, want verdict %s reason %q replay %v", r.raw, verdict, reason, replay)
	}
	if v.VerifiedAt.IsZero() {
		t.Errorf("no verified_at in %s", r.raw)
	}
}

// scan is one code shown at a gate in TestOnlineVerification.
type scan struct {
	name      string
	operation string
	// setup makes the holder (nil for a code the issuer did not sign) and
	// the code to scan; it may scan the code before.
	setup func(t *testing.T, a *credApp, base time.Time) (*holder, string)
	// at moves the clock for the scan.
	at      time.Duration
	verdict string
	reason  string
	replay  bool
}

// scanned returns a setup that makes a holder named name and the code
// its phone shows at base+shown.
func scanned(name string, shown time.Duration) func(t *testing.T, a *credApp, base time.Time) (*holder, string) {
	return func(t *testing.T, a *credApp, base time.Time) (*holder, string) {
		h := a.holder(name)
		return h, h.code(base.Add(shown))
	}
}

// scannedBefore returns a setup whose code was already scanned, validly,
// at gate for operation.
func scannedBefore(name string, gate func(a *credApp) string, operation string) func(t *testing.T, a *credApp, base time.Time) (*holder, string) {
	return func(t *testing.T, a *credApp, base time.Time) (*holder, string) {
		h := a.holder(name)
		code := h.code(base)
		wantVerdict(t, a.verify(gate(a), code, operation), "valid", "", false)
		return h, code
	}
}

func TestOnlineVerification(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		a := newCredApp(t, s, time.Now())
		gates := map[string]string{"Gate 1": a.terminal("Gate 1", false), "Gate 2": a.terminal("Gate 2", false)}
		gate1 := func(*credApp) string { return gates["Gate 1"] }
		gate2 := func(*credApp) string { return gates["Gate 2"] }
		admin := a.staff(store.RoleAdmin)
		base := a.clock.Now()
		for _, tt := range []scan{
			{name: "a fresh code is valid", operation: online.Entry, setup: scanned("钱一", 0), verdict: "valid"},
			{name: "a code made 30 s ago is valid", operation: online.TicketCheck, setup: scanned("钱二", -30*time.Second), verdict: "valid"},
			{name: "a pass from a view face check is valid", operation: online.TicketCheck, verdict: "valid",
				setup: func(t *testing.T, a *credApp, base time.Time) (*holder, string) {
					h := a.holder("钱三")
					h.c.want(h.newPass(), 201, "")
					return h, h.code(base)
				}},
			{name: "text that is not a code is malformed", operation: online.Entry, verdict: "invalid", reason: "malformed",
				setup: func(*testing.T, *credApp, time.Time) (*holder, string) { return nil, "TID1:NOT A CODE" }},
			{name: "a pass from another issuer is unknown_key", operation: online.Entry, verdict: "invalid", reason: "unknown_key",
				setup: func(t *testing.T, a *credApp, base time.Time) (*holder, string) {
					h := a.holder("钱四")
					p, _ := credential.ParsePass(h.pass)
					_, foreign, _ := ed25519.GenerateKey(rand.Reader)
					p.Body.IssuerKID = credential.KeyID(foreign.Public().(ed25519.PublicKey))
					raw, err := credential.SignPass(p.Body, foreign)
					if err != nil {
						t.Fatal(err)
					}
					h.pass = raw
					return nil, h.code(base)
				}},
			{name: "a pass with a damaged signature is bad_signature", operation: online.Entry, verdict: "invalid", reason: "bad_signature",
				setup: func(t *testing.T, a *credApp, base time.Time) (*holder, string) {
					h := a.holder("钱五")
					h.pass[len(h.pass)-1] ^= 1
					return nil, h.code(base)
				}},
			{name: "a code from three minutes ago is code_expired", operation: online.Entry, setup: scanned("钱六", -3*time.Minute),
				verdict: "invalid", reason: "code_expired"},
			{name: "a pass past its 30 minutes is pass_expired", operation: online.Entry, setup: scanned("钱七", 31*time.Minute),
				at: 31 * time.Minute, verdict: "invalid", reason: "pass_expired"},
			{name: "a certificate past its 24 hours is certificate_expired", operation: online.Entry, setup: scanned("钱八", 24*time.Hour+time.Minute),
				at: 24*time.Hour + time.Minute, verdict: "invalid", reason: "certificate_expired"},
			{name: "a revoked certificate is revoked", operation: online.Entry, verdict: "invalid", reason: "revoked",
				setup: func(t *testing.T, a *credApp, base time.Time) (*holder, string) {
					h := a.holder("钱九")
					admin.want(admin.json("POST", "/api/v1/admin/certificates/"+h.certID+"/revoke", map[string]any{"reason": "reported lost"}), 200, "")
					return h, h.code(base)
				}},
			{name: "a logged-out device is device_revoked", operation: online.Entry, verdict: "invalid", reason: "device_revoked",
				setup: func(t *testing.T, a *credApp, base time.Time) (*holder, string) {
					h := a.holder("钱十")
					h.c.want(h.c.json("DELETE", "/api/v1/session", nil), 204, "")
					return h, h.code(base)
				}},
			{name: "a code shown twice for the same operation is replayed", operation: online.Entry,
				setup: scannedBefore("孙一", gate1, online.Entry), verdict: "invalid", reason: "replayed", replay: true},
			{name: "the same code at another gate is replayed", operation: online.Entry,
				setup: scannedBefore("孙二", gate2, online.Entry), verdict: "invalid", reason: "replayed", replay: true},
			{name: "the same code at the same gate for another operation is valid", operation: online.TicketCheck,
				setup: scannedBefore("孙三", gate1, online.Entry), verdict: "valid"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				a.clock.Set(base)
				defer a.clock.Set(base)
				h, code := tt.setup(t, a, base)
				a.clock.Set(base.Add(tt.at))
				before := verificationsAudited(t, s, h)
				r := a.verify(gates["Gate 1"], code, tt.operation)
				wantVerdict(t, r, tt.verdict, tt.reason, tt.replay)
				if got := verificationsAudited(t, s, h); got != before+1 {
					t.Errorf("%d verifications audited, want %d", got, before+1)
				}
				v := as[apiv1.VerifyResponse](r)
				if h == nil {
					if v.Holder != nil || v.Certificate != nil {
						t.Errorf("holder or certificate shown for a code the issuer did not sign: %s", r.raw)
					}
					return
				}
				if v.Certificate == nil || v.Holder == nil {
					t.Fatalf("no certificate or holder: %s", r.raw)
				}
				if got, want := v.Certificate.ID, h.certID; got != want {
					t.Errorf("certificate %v, want %v", got, want)
				}
				if got, want := v.Holder.IDNumberMasked, h.p.id.Masked(); got != want {
					t.Errorf("masked ID %v, want %v", got, want)
				}
				if v.Holder.Name != v.Holder.NameMasked || v.Holder.Name == h.p.name {
					t.Errorf("holder name %v is not the masked name %v", v.Holder.Name, v.Holder.NameMasked)
				}
				if v.Holder.IDNumber != "" {
					t.Errorf("the full ID number is shown for %s", tt.operation)
				}
				if tt.verdict == "valid" && v.PassNotAfter.IsZero() {
					t.Error("no pass_not_after")
				}
			})
		}

		// The clerk sees what they compare with the booking: the full
		// name and ID number for the counter operations and id_check, the
		// masked ones at entry and ticket check (API.md), at a staff
		// session as at a terminal.
		clerk := a.staff(store.RoleStaff)
		for i, op := range online.Operations() {
			full := online.FullIdentity(op)
			for _, who := range []string{"terminal", "staff"} {
				t.Run(fmt.Sprintf("%s at a %s is shown the full identity: %v", op, who, full), func(t *testing.T) {
					a.clock.Set(base)
					h := a.holder([]string{"周一", "周二", "周三", "周四", "周五", "周六", "周日"}[i] + who[:1])
					code := h.code(base)
					body := map[string]any{"code": code, "operation": op}
					send := func() answer {
						if who == "staff" {
							return clerk.json("POST", "/api/v1/verifications", body)
						}
						return a.verify(gates["Gate 1"], code, op)
					}
					r := send()
					wantVerdict(t, r, "valid", "", false)
					v := as[apiv1.VerifyResponse](r)
					if v.Holder == nil {
						t.Fatalf("no holder: %s", r.raw)
					}
					wantName, wantID := h.p.name, h.p.id.String()
					if !full {
						wantName, wantID = v.Holder.NameMasked, ""
					}
					if v.Holder.Name != wantName || v.Holder.IDNumber != wantID {
						t.Errorf("holder name %q, id_number %q; want %q, %q", v.Holder.Name, v.Holder.IDNumber, wantName, wantID)
					}
					if v.Holder.NameMasked == h.p.name || v.Holder.IDNumberMasked != h.p.id.Masked() {
						t.Errorf("masked holder %+v", v.Holder)
					}
					// An invalid code is never shown the full identity.
					r = send()
					wantVerdict(t, r, "invalid", "replayed", true)
					if v := as[apiv1.VerifyResponse](r); v.Holder != nil && (v.Holder.IDNumber != "" || v.Holder.Name == h.p.name) {
						t.Errorf("a replayed code is shown the full identity: %s", r.raw)
					}
				})
			}
		}
	})
}

// verificationsAudited counts the verification entries of the audit log,
// and fails the test if one holds h's name or full ID number.
func verificationsAudited(t *testing.T, s *store.Store, h *holder) int {
	t.Helper()
	entries, err := s.AuditEntries(context.Background(), 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if e.Action != "verification" {
			continue
		}
		n++
		if h != nil && (strings.Contains(e.Detail, h.p.id.String()) || strings.Contains(e.Detail, h.p.name)) {
			t.Errorf("audit entry %d holds personal data: %s", e.ID, e.Detail)
		}
	}
	return n
}

func TestVerificationRefusesBadRequests(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		a := newCredApp(t, s, time.Now())
		gate := a.terminal("Gate 1", false)
		h := a.holder("吴一")
		code := h.code(a.clock.Now())
		for _, tt := range []struct {
			name   string
			key    string
			body   string
			status int
			err    string
		}{
			{"an unknown member is refused", gate, fmt.Sprintf(`{"code":%q,"operation":"entry","gate":"3"}`, code), 400, "validation_failed"},
			{"a code longer than any code is refused", gate, fmt.Sprintf(`{"code":%q,"operation":"entry"}`, strings.Repeat("A", credential.MaxCodeLen+1)), 400, "validation_failed"},
			{"an empty code is refused", gate, `{"code":"","operation":"entry"}`, 400, "validation_failed"},
			{"an unknown operation is refused", gate, fmt.Sprintf(`{"code":%q,"operation":"boarding"}`, code), 400, "validation_failed"},
			{"a malformed station is refused", gate, fmt.Sprintf(`{"code":%q,"operation":"entry","station_code":"B J"}`, code), 400, "validation_failed"},
			{"another station than the terminal's is forbidden", gate, fmt.Sprintf(`{"code":%q,"operation":"entry","station_code":"SHH"}`, code), 403, "forbidden"},
			{"a request without a key is unauthenticated", "", fmt.Sprintf(`{"code":%q,"operation":"entry"}`, code), 401, "unauthenticated"},
			{"an unknown key is unauthenticated", "tidk_nope", fmt.Sprintf(`{"code":%q,"operation":"entry"}`, code), 401, "unauthenticated"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				req, _ := http.NewRequest("POST", a.srv.URL+"/api/v1/verifications", strings.NewReader(tt.body))
				req.Header.Set("Content-Type", "application/json")
				if tt.key != "" {
					req.Header.Set("Authorization", "Bearer "+tt.key)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				var body map[string]any
				json.NewDecoder(resp.Body).Decode(&body)
				if resp.StatusCode != tt.status || body["code"] != tt.err {
					t.Errorf("got %d %v, want %d %s", resp.StatusCode, body["code"], tt.status, tt.err)
				}
			})
		}
		// Passengers may not verify; staff may, by session with CSRF.
		h.c.want(h.c.json("POST", "/api/v1/verifications", map[string]any{"code": code, "operation": "entry"}), 403, "forbidden")
		staff := a.staff(store.RoleStaff)
		r := staff.json("POST", "/api/v1/verifications", map[string]any{"code": code, "operation": "entry"})
		wantVerdict(t, r, "valid", "", false)
		// The refused requests recorded nothing: the code is still unused.
		wantVerdict(t, a.verify(gate, code, "ticket_check"), "invalid", "replayed", true)
	})
}

func TestPassesAfterAViewFaceCheck(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		a := newCredApp(t, s, time.Now())
		gate := a.terminal("Gate 1", false)
		h := a.holder("郑一")
		a.clock.Advance(40 * time.Minute)
		wantVerdict(t, a.verify(gate, h.code(a.clock.Now()), "entry"), "invalid", "pass_expired", false)

		check := h.viewCheck()
		r := h.c.json("POST", "/api/v1/certificates/"+h.certID+"/passes", map[string]any{"face_check_id": check})
		h.c.want(r, 201, "")
		h.setPass(r)
		if got := as[apiv1.PassResponse](r).Pass.StepSeconds; got != 60 {
			t.Errorf("step_seconds %v", got)
		}
		wantVerdict(t, a.verify(gate, h.code(a.clock.Now()), "entry"), "valid", "", false)
		// One check, one pass.
		h.c.want(h.c.json("POST", "/api/v1/certificates/"+h.certID+"/passes", map[string]any{"face_check_id": check}), 409, "face_check_used")
		// An apply check (for a companion: the holder's own is refused
		// when it starts, R5) does not authorise a pass.
		applyCheck, _ := h.c.faceCheck(newPerson("郑三"), facetest.SampleJPEG())
		h.c.want(h.c.json("POST", "/api/v1/certificates/"+h.certID+"/passes", map[string]any{"face_check_id": applyCheck}), 409, "face_check_mismatch")
		// Another account's certificate is not found.
		other := a.holder("郑二")
		other.c.want(other.c.json("POST", "/api/v1/certificates/"+h.certID+"/passes", map[string]any{"face_check_id": other.viewCheck()}), 404, "not_found")
		// A revoked certificate gets no pass.
		check = h.viewCheck()
		admin := a.staff(store.RoleAdmin)
		admin.want(admin.json("POST", "/api/v1/admin/certificates/"+h.certID+"/revoke", map[string]any{"reason": "test"}), 200, "")
		h.c.want(h.c.json("POST", "/api/v1/certificates/"+h.certID+"/passes", map[string]any{"face_check_id": check}), 400, "validation_failed")
		h.c.want(h.c.json("POST", "/api/v1/certificates/"+h.certID+"/passes", map[string]any{"face_check_id": check, "x": 1}), 400, "validation_failed")
	})
}

func TestASupersededCertificateIsSuperseded(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		now := time.Now()
		a := newCredApp(t, s, now.Add(-22*time.Hour))
		gate := a.terminal("Gate 1", false)
		h := a.holder("冯一")
		a.clock.Set(now)
		h.c.want(h.c.login(h.user, "correct horse battery"), 200, "")
		h.c.want(h.newPass(), 201, "")
		old := h.code(now)
		// Within three hours of expiry the holder renews (R5).
		check, _ := h.c.faceCheck(h.p, facetest.SampleJPEG())
		h.c.want(h.c.apply(h.p, check), 201, "")
		r := a.verify(gate, old, "entry")
		wantVerdict(t, r, "invalid", "superseded", false)
		if got := as[apiv1.CertificateResponse](r).Certificate.Status; got != "superseded" {
			t.Errorf("certificate status %v", got)
		}
	})
}

func TestTwoGatesScanningOneCodeAtOnceAcceptItOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		a := newCredApp(t, s, time.Now())
		gates := []string{a.terminal("Gate 1", false), a.terminal("Gate 2", false)}
		for round := range 5 {
			h := a.holder(fmt.Sprintf("并%c", '甲'+rune(round)))
			code := h.code(a.clock.Now())
			answers := make([]answer, len(gates))
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i, key := range gates {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					answers[i] = a.verify(key, code, "entry")
				}()
			}
			close(start)
			wg.Wait()
			valid, replays := 0, 0
			for _, r := range answers {
				switch {
				case r.status == 200 && as[apiv1.VerifyResponse](r).Verdict == "valid":
					valid++
				case r.status == 200 && as[apiv1.VerifyResponse](r).Reason == "replayed" && as[apiv1.VerifyResponse](r).Replay:
					replays++
				default:
					t.Errorf("round %d: %d %s", round, r.status, r.raw)
				}
			}
			if valid != 1 || replays != 1 {
				t.Errorf("round %d: %d valid and %d replays, want 1 and 1", round, valid, replays)
			}
		}
	})
}

func TestTrustBundleAndPublishedKeys(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		a := newCredApp(t, s, time.Now())
		offline, online := a.terminal("Gate 1", true), a.terminal("Gate 2", false)

		wk := a.bearer("GET", "/.well-known/tempid/keys", "", nil)
		if wk.status != 200 || wk.header.Get("Cache-Control") != "public, max-age=300" {
			t.Fatalf("well-known: %d, Cache-Control %q", wk.status, wk.header.Get("Cache-Control"))
		}
		list := as[apiv1.PublishedKeys](wk).Keys
		if len(list) != 1 {
			t.Fatalf("%d published keys, want 1: %s", len(list), wk.raw)
		}
		k := list[0]
		pub, err := base64.RawURLEncoding.DecodeString(k.PublicKey)
		if err != nil || k.Alg != "Ed25519" || len(k.KID) != 8 {
			t.Fatalf("key %v", k)
		}
		kid := credential.KeyID(pub)
		pinned := []verify.IssuerKey{{KID: kid, Public: pub, NotBefore: k.NotBefore, NotAfter: k.NotAfter}}

		h := a.holder("陈一")
		admin := a.staff(store.RoleAdmin)
		admin.want(admin.json("POST", "/api/v1/admin/certificates/"+h.certID+"/revoke", map[string]any{"reason": "lost"}), 200, "")

		r := a.bearer("GET", "/api/v1/trust-bundle", offline, nil)
		if r.status != 200 {
			t.Fatalf("offline terminal: %d %s", r.status, r.raw)
		}
		p, err := bundle.Open(r.raw, pinned)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := p.NextUpdate.Sub(p.IssuedAt), time.Hour; got != want {
			t.Errorf("next_update after %v, want %v", got, want)
		}
		if len(p.SealKeys) != 1 {
			t.Errorf("%d seal keys for an offline terminal, want 1", len(p.SealKeys))
		}
		if len(p.RevokedCertificates) != 1 || hex.EncodeToString(p.RevokedCertificates[0][:]) != h.certID {
			t.Errorf("revoked certificates %x, want %s", p.RevokedCertificates, h.certID)
		}
		if v := bundle.Verify(h.code(a.clock.Now()), a.clock.Now(), p, 0, verify.Verifier{}); v.Reason != verify.ReasonRevoked {
			t.Errorf("a revoked certificate offline: %s", v.Reason)
		}

		if r := a.bearer("GET", "/api/v1/trust-bundle", online, nil); r.status != 403 || r.code() != "forbidden" {
			t.Errorf("online terminal: %d %s", r.status, r.raw)
		}
		staff := a.staff(store.RoleStaff)
		staff.want(staff.json("GET", "/api/v1/trust-bundle", nil), 403, "forbidden")
		h.c.want(h.c.json("GET", "/api/v1/trust-bundle", nil), 403, "forbidden")
		if r := a.bearer("GET", "/api/v1/trust-bundle", "", nil); r.status != 401 {
			t.Errorf("no key: %d", r.status)
		}
	})
}

func TestLogoutRevokesTheDeviceOnlineAndInTheNextBundle(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		a := newCredApp(t, s, time.Now())
		offline, online := a.terminal("Gate 1", true), a.terminal("Gate 2", false)
		h := a.holder("褚一")
		now := a.clock.Now()
		fetch := func() *bundle.Payload {
			r := a.bearer("GET", "/api/v1/trust-bundle", offline, nil)
			if r.status != 200 {
				t.Fatalf("bundle: %d %s", r.status, r.raw)
			}
			p, err := bundle.Open(r.raw, a.keys.Published(now))
			if err != nil {
				t.Fatal(err)
			}
			return p
		}
		before := fetch()
		if v := bundle.Verify(h.code(now), now, before, 0, verify.Verifier{}); !v.Valid || v.IDNumber != h.p.id.String() {
			t.Fatalf("offline before logout: %s (ID unsealed: %v)", v.Reason, v.IDNumber != "")
		}
		h.c.want(h.c.json("DELETE", "/api/v1/session", nil), 204, "")
		wantVerdict(t, a.verify(online, h.code(now), "entry"), "invalid", "device_revoked", false)
		after := fetch()
		if v := bundle.Verify(h.code(now), now, after, 0, verify.Verifier{}); v.Reason != verify.ReasonDeviceRevoked {
			t.Errorf("offline after logout, with the next bundle: %s", v.Reason)
		}
	})
}

func TestKeyRotationThroughTheAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		a := newCredApp(t, s, time.Now())
		gate := a.terminal("Gate 1", false)
		offline := a.terminal("Gate 2", true)
		admin := a.staff(store.RoleAdmin)
		old, _ := a.keys.Signer(a.clock.Now())

		staff := a.staff(store.RoleStaff)
		staff.want(staff.json("POST", "/api/v1/admin/keys/rotate", nil), 403, "forbidden")
		r := admin.json("POST", "/api/v1/admin/keys/rotate", nil)
		admin.want(r, 200, "")
		newKID, signsFrom := as[apiv1.KeyRotation](r).Key.KID, as[apiv1.KeyRotation](r).Key.NotBefore
		if signsFrom.Sub(a.clock.Now()) < 24*time.Hour {
			t.Fatalf("the new key signs from %v, less than a day ahead", signsFrom)
		}
		// Published at once: /.well-known and the next bundle.
		if wk := a.bearer("GET", "/.well-known/tempid/keys", "", nil); !strings.Contains(string(wk.raw), newKID) {
			t.Errorf("the new key is not in /.well-known: %s", wk.raw)
		}
		b := a.bearer("GET", "/api/v1/trust-bundle", offline, nil)
		p, err := bundle.Open(b.raw, a.keys.Published(a.clock.Now()))
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, k := range p.IssuerKeys {
			found = found || hex.EncodeToString(k.KID[:]) == newKID
		}
		if !found {
			t.Error("the new key is not in the bundle")
		}

		// Just before the switch the old key signs; its pass verifies
		// after the switch, within its window.
		a.clock.Set(signsFrom.Add(-10 * time.Minute))
		h1 := a.holder("卫一")
		if p, _ := credential.ParsePass(h1.pass); p.IssuerKID != old.KID {
			t.Errorf("pass before the switch signed by %x, want the old key %x", p.IssuerKID, old.KID)
		}
		a.clock.Set(signsFrom.Add(5 * time.Minute))
		wantVerdict(t, a.verify(gate, h1.code(a.clock.Now()), "entry"), "valid", "", false)
		h2 := a.holder("卫二")
		if p, _ := credential.ParsePass(h2.pass); hex.EncodeToString(p.IssuerKID[:]) != newKID {
			t.Errorf("pass after the switch signed by %x, want the new key %s", p.IssuerKID, newKID)
		}
		wantVerdict(t, a.verify(gate, h2.code(a.clock.Now()), "entry"), "valid", "", false)
	})
}

// run runs the command line in-process: tempid, or for the developer's
// tools (device, code) tempid-dev.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	runner := cli.Run
	if args[0] == "device" || args[0] == "code" {
		runner = devcli.Run
	}
	code := runner(context.Background(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestOfflineVerificationThroughTheCommandLine(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		now := time.Now()
		a := newCredApp(t, s, now.Add(-25*time.Hour))
		key := a.terminal("Gate 1", true)
		file := filepath.Join(t.TempDir(), "bundle.json")

		// A bundle issued 25 hours ago is stale, whatever the code.
		old := a.holder("蒋一")
		if code, out, errs := run(t, "bundle", "fetch", "--server", a.srv.URL, "--api-key", key, "--out", file); code != 0 {
			t.Fatalf("bundle fetch: exit %d: %s %s", code, out, errs)
		}
		a.clock.Set(now)
		h := a.holder("蒋二")
		code := h.code(time.Now())
		if exit, out, _ := run(t, "verify", "--bundle", file, code); exit != 1 || !strings.Contains(out, "stale_bundle") {
			t.Errorf("stale bundle: exit %d, %q", exit, out)
		}
		_ = old

		// A fresh bundle verifies, showing the ID masked unless asked.
		if exit, out, errs := run(t, "bundle", "fetch", "--server", a.srv.URL, "--api-key", key, "--out", file); exit != 0 {
			t.Fatalf("bundle fetch: exit %d: %s %s", exit, out, errs)
		}
		exit, out, errs := run(t, "verify", "--bundle", file, code)
		if exit != 0 || !strings.HasPrefix(out, "valid") || !strings.Contains(out, h.p.id.Masked()) || strings.Contains(out, h.p.id.String()) {
			t.Errorf("fresh bundle: exit %d, %q %s", exit, out, errs)
		}
		if exit, out, _ := run(t, "verify", "--bundle", file, "--show-id", code); exit != 0 || !strings.Contains(out, h.p.id.String()) {
			t.Errorf("--show-id: exit %d, %q", exit, out)
		}
		if exit, out, _ := run(t, "verify", "--bundle", file, "TID1:XX"); exit != 1 || !strings.Contains(out, "malformed") {
			t.Errorf("malformed: exit %d, %q", exit, out)
		}
		if !strings.Contains(errs, "without --trusted-keys") {
			t.Errorf("verify without pinned keys does not warn: %q", errs)
		}

		// Pinned signers: the server's published keys accept its bundle,
		// another issuer's refuse it, and a refused fetch keeps the file.
		dir := t.TempDir()
		published := filepath.Join(dir, "keys.json")
		resp, err := http.Get(a.srv.URL + "/.well-known/tempid/keys")
		if err != nil {
			t.Fatal(err)
		}
		doc, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err := os.WriteFile(published, doc, 0o600); err != nil {
			t.Fatal(err)
		}
		exit, out, errs = run(t, "verify", "--bundle", file, "--trusted-keys", published, code)
		if exit != 0 || !strings.HasPrefix(out, "valid") || strings.Contains(errs, "warning") {
			t.Errorf("bundle under its pinned signer: exit %d, %q %s", exit, out, errs)
		}
		foreignPub, _, _ := ed25519.GenerateKey(nil)
		kid := credential.KeyID(foreignPub)
		foreign := filepath.Join(dir, "foreign.json")
		if err := os.WriteFile(foreign, fmt.Appendf(nil, `{"keys":[{"kid":"%x","alg":"Ed25519","public_key":"%s","not_before":"2026-01-01T00:00:00Z","not_after":"2030-01-01T00:00:00Z"}]}`,
			kid, base64.RawURLEncoding.EncodeToString(foreignPub)), 0o600); err != nil {
			t.Fatal(err)
		}
		if exit, out, _ := run(t, "verify", "--bundle", file, "--trusted-keys", foreign, code); exit == 0 || strings.HasPrefix(out, "valid") {
			t.Errorf("bundle under a signer not pinned: exit %d, %q", exit, out)
		}
		before, _ := os.ReadFile(file)
		if exit, _, _ := run(t, "bundle", "fetch", "--server", a.srv.URL, "--api-key", key, "--out", file, "--trusted-keys", foreign); exit == 0 {
			t.Error("bundle fetch saved a bundle its pinned keys did not sign")
		}
		if after, _ := os.ReadFile(file); !bytes.Equal(before, after) {
			t.Error("a refused fetch replaced the saved bundle")
		}
		if exit, _, errs := run(t, "verify", "--bundle", file, "--trusted-keys", file, code); exit == 0 || !strings.Contains(errs, "--trusted-keys") {
			t.Errorf("a bundle given as the keys file: exit %d, %s", exit, errs)
		}

		// The other helpers: a QR of the code, and a code from a device key.
		png := filepath.Join(t.TempDir(), "code.png")
		if exit, _, errs := run(t, "qr", "--out", png, code); exit != 0 {
			t.Errorf("qr: exit %d %s", exit, errs)
		} else if b, _ := os.ReadFile(png); !bytes.HasPrefix(b, []byte("\x89PNG")) {
			t.Error("qr wrote no PNG")
		}
		if exit, _, _ := run(t, "bundle", "fetch", "--server", "file:///etc/passwd", "--api-key", key, "--out", file); exit == 0 {
			t.Error("bundle fetch accepted a file: URL")
		}
	})
}

func TestASimulatedDeviceMakesCodesFromTheCommandLine(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		a := newCredApp(t, s, time.Now())
		gate := a.terminal("Gate 1", false)
		keyFile := filepath.Join(t.TempDir(), "device.pem")
		exit, jwk, errs := run(t, "device", "new", "--out", keyFile)
		if exit != 0 {
			t.Fatalf("device new: exit %d %s", exit, errs)
		}
		h := a.holder("沈一")
		r := h.c.json("POST", "/api/v1/face-checks", map[string]any{"purpose": "view", "certificate_id": h.certID, "device_key": json.RawMessage(jwk), "consent": true})
		h.c.want(r, 201, "")
		check := as[apiv1.FaceCheckResponse](r).FaceCheck.ID
		h.c.want(h.c.do("POST", "/api/v1/face-checks/"+check+"/capture", "image/jpeg", facetest.SampleJPEG()), 200, "")
		r = h.c.json("POST", "/api/v1/certificates/"+h.certID+"/passes", map[string]any{"face_check_id": check})
		h.c.want(r, 201, "")
		exit, code, errs := run(t, "code", "--pass", as[apiv1.PassResponse](r).Pass.Pass, "--device-key", keyFile)
		if exit != 0 {
			t.Fatalf("code: exit %d %s", exit, errs)
		}
		wantVerdict(t, a.verify(gate, strings.TrimSpace(code), "entry"), "valid", "", false)
	})
}
