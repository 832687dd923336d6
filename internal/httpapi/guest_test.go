package httpapi_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"tempid/internal/credential"
	"tempid/internal/face/facetest"
	"tempid/internal/httpapi/apiv1"
	"tempid/internal/policy"
	"tempid/internal/registry"
	"tempid/internal/store"
	"tempid/internal/store/storetest"
)

// guest is a guest's phone: no account, no session, its own device key.
func (a *app) guest() *client {
	c := a.client()
	c.http.Jar = nil
	return c
}

// guestStart starts a guest face check for p with purpose and returns the
// answer.
func (c *client) guestStart(purpose string, p person) answer {
	c.a.t.Helper()
	return c.json("POST", "/api/v1/guest/face-checks", map[string]any{"purpose": purpose,
		"subject": map[string]any{"name": p.name, "id_number": p.id.String()}, "device_key": c.jwk(), "consent": true})
}

// guestCheck starts a guest face check and captures img; it returns the
// check's id.
func (c *client) guestCheck(purpose string, p person, img []byte) string {
	c.a.t.Helper()
	r := c.guestStart(purpose, p)
	c.want(r, 201, "")
	fc := as[apiv1.FaceCheckResponse](r).FaceCheck
	if want := "/api/v1/guest/face-checks/" + fc.ID + "/capture"; fc.CaptureURL != want {
		c.a.t.Errorf("capture_url %v, want %v", fc.CaptureURL, want)
	}
	c.want(c.do("POST", fc.CaptureURL, "image/jpeg", img), 200, "")
	return fc.ID
}

func (c *client) guestApply(p person, check string) answer {
	return c.json("POST", "/api/v1/guest/certificates", map[string]any{"face_check_id": check, "name": p.name, "id_number": p.id.String(), "city_code": "440100"})
}

func (c *client) guestPass(check string) answer {
	return c.json("POST", "/api/v1/guest/passes", map[string]any{"face_check_id": check})
}

// code draws the current code of a pass with the client's device key.
func (c *client) code(p apiv1.Pass) string {
	c.a.t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(p.Pass)
	if err != nil {
		c.a.t.Fatal(err)
	}
	code, err := credential.MakeCode(raw, credential.StepAt(c.a.clock.Now()), c.device, rand.Reader)
	if err != nil {
		c.a.t.Fatal(err)
	}
	return code
}

// gateVerdict presents a code at a new gate and returns the verdict and
// reason.
func (a *app) gateVerdict(code string) (string, string) {
	a.t.Helper()
	gate, err := a.accounts.CreateTerminal(context.Background(), store.CLI, "Gate", "GZQ", false, "")
	if err != nil {
		a.t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{"code": code, "operation": "entry"})
	req, _ := http.NewRequest("POST", a.srv.URL+"/api/v1/verifications", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+gate.APIKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	var v struct{ Verdict, Reason string }
	json.NewDecoder(resp.Body).Decode(&v)
	return v.Verdict, v.Reason
}

// noCookie fails when an answer sets a cookie: guests have no session.
func noCookie(t *testing.T, r answer) {
	t.Helper()
	if h := r.header.Values("Set-Cookie"); len(h) > 0 {
		t.Errorf("a guest answer set a cookie: %v", h)
	}
}

func TestGuestAppliesThenShowsTheCertificateOnAnotherPhone(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		a := newApp(t, s)
		admin := a.admin()
		phone := a.guest()
		me := newPerson("郑一")

		check := phone.guestCheck("apply", me, facetest.SampleJPEG())
		r := phone.guestApply(me, check)
		phone.want(r, 201, "")
		noCookie(t, r)
		applied := as[apiv1.Applied](r)
		if applied.Pass == nil || applied.Certificate.Status != "active" || applied.Quota.Used != 1 {
			t.Fatalf("applied: %s", r.raw)
		}
		if v, why := a.gateVerdict(phone.code(*applied.Pass)); v != "valid" {
			t.Errorf("the guest's code: %s %s, want valid", v, why)
		}

		// Another phone (or this one after a reload) shows the same
		// certificate after a view check of the person.
		other := a.guest()
		view := other.guestCheck("view", me, facetest.SampleJPEG())
		p := other.guestPass(view)
		other.want(p, 201, "")
		noCookie(t, p)
		got := as[apiv1.GuestPassResponse](p)
		if got.Certificate.ID != applied.Certificate.ID {
			t.Errorf("the other phone got certificate %v, want %v", got.Certificate.ID, applied.Certificate.ID)
		}
		// A code of one certificate is claimed once a minute.
		a.clock.Advance(time.Minute)
		code := other.code(got.Pass)
		if v, why := a.gateVerdict(code); v != "valid" {
			t.Errorf("the other phone's code: %s %s, want valid", v, why)
		}
		// The pass is bound to the check's device key, not the phone that
		// applied.
		raw, _ := base64.RawURLEncoding.DecodeString(got.Pass.Pass)
		parsed, err := credential.ParsePass(raw)
		if err != nil {
			t.Fatal(err)
		}
		if key, _ := credential.CompressDeviceKey(&other.device.PublicKey); parsed.DeviceKey != key {
			t.Error("the pass does not name the view check's device key")
		}
		a.clock.Advance(time.Minute)

		// The app learns the certificate's status with a current code,
		// and that asking does not use the code up.
		code = other.code(got.Pass)
		st := other.json("POST", "/api/v1/guest/certificate-status", map[string]any{"code": code})
		other.want(st, 200, "")
		if c := as[apiv1.CertificateStatusResponse](st).Certificate; c.ID != applied.Certificate.ID || c.Status != "active" {
			t.Errorf("status %s", st.raw)
		}
		if v, why := a.gateVerdict(code); v != "valid" {
			t.Errorf("a code after its status was asked: %s %s, want valid", v, why)
		}
		admin.want(admin.json("POST", "/api/v1/admin/certificates/"+applied.Certificate.ID+"/revoke", map[string]any{"reason": "test"}), 200, "")
		st = other.json("POST", "/api/v1/guest/certificate-status", map[string]any{"code": other.code(got.Pass)})
		other.want(st, 200, "")
		if c := as[apiv1.CertificateStatusResponse](st).Certificate; c.Status != "revoked" {
			t.Errorf("status after revocation %s, want revoked", st.raw)
		}
		other.want(other.json("POST", "/api/v1/guest/certificate-status", map[string]any{"code": "TID1:NOTACODE"}), 400, "validation_failed")

		// Audit and statistics tell guests' applications apart.
		stats := admin.json("GET", "/api/v1/admin/stats?bucket=hour", nil)
		admin.want(stats, 200, "")
		if ap := as[apiv1.Stats](stats).Applicants; len(ap) != 1 || ap[0].Applicant != "guest" || ap[0].Count != 1 {
			t.Errorf("applicants %s", stats.raw)
		}
		audit := admin.json("GET", "/api/v1/admin/audit?limit=1000", nil)
		found := false
		for _, e := range as[apiv1.AuditEntries](audit).Entries {
			if e.Action == "certificate.issue" {
				found = true
				var d map[string]any
				json.Unmarshal(e.Detail, &d)
				if e.Actor != "guest" || d["applicant"] != "guest" {
					t.Errorf("issue entry by %v, applicant %v; want guest, guest", e.Actor, d["applicant"])
				}
			}
		}
		if !found {
			t.Error("no certificate.issue entry")
		}
	})
}

// at is a fixed time in the middle of a month, so that R2's month does not
// end within a test that moves the clock by days.
var at = time.Date(2030, 5, 10, 9, 0, 0, 0, time.UTC)

func TestGuestRefusalsWhenACheckStartsFollowAPIOrderAndSayNothingOfCertificates(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		a := newAppAt(t, s, at)
		g := a.guest()
		holder, nobody := newPerson("冯二"), newPerson("陈三")
		// holder gets a certificate.
		g.want(g.guestApply(holder, g.guestCheck("apply", holder, facetest.SampleJPEG())), 201, "")

		start := func(purpose, name, id string, consent bool) answer {
			return g.json("POST", "/api/v1/guest/face-checks", map[string]any{"purpose": purpose,
				"subject": map[string]any{"name": name, "id_number": id}, "device_key": g.jwk(), "consent": consent})
		}
		bad := holder.id.String()[:17] + "0"
		if bad == holder.id.String() {
			bad = holder.id.String()[:17] + "1"
		}
		for _, tc := range []struct {
			name   string
			answer answer
			status int
			code   string
		}{
			{"an invalid ID number is refused before the missing consent", start("apply", holder.name, bad, false), 400, "invalid_id_number"},
			{"a missing consent is refused", start("apply", holder.name, holder.id.String(), false), 403, "consent_required"},
			{"a view check without consent is refused", start("view", holder.name, holder.id.String(), false), 403, "consent_required"},
			{"an apply check for a holder of an active certificate starts (no R5 before the check)", start("apply", holder.name, holder.id.String(), true), 201, ""},
			{"a view check for a holder starts", start("view", holder.name, holder.id.String(), true), 201, ""},
			{"a view check for a person without a certificate starts all the same", start("view", nobody.name, nobody.id.String(), true), 201, ""},
			{"a view check naming a certificate is refused", g.json("POST", "/api/v1/guest/face-checks", map[string]any{"purpose": "view",
				"certificate_id": "00", "device_key": g.jwk(), "consent": true}), 400, "validation_failed"},
		} {
			t.Run(tc.name, func(t *testing.T) { g.want(tc.answer, tc.status, tc.code) })
		}

		// R5 and "no certificate" come after the face check.
		g.want(g.guestApply(holder, g.guestCheck("apply", holder, facetest.SampleJPEG())), 409, "active_certificate_exists")
		g.want(g.guestPass(g.guestCheck("view", nobody, facetest.SampleJPEG())), 404, "not_found")

		// R2: three certificates this month (renewing in R5's last hours),
		// then a fourth apply check still starts, and the refusal comes
		// with the application.
		for range 2 {
			a.clock.Advance(22 * time.Hour)
			g.want(g.guestApply(holder, g.guestCheck("apply", holder, facetest.SampleJPEG())), 201, "")
		}
		a.clock.Advance(22 * time.Hour)
		r := g.guestStart("apply", holder)
		g.want(r, 201, "")
		fc := as[apiv1.FaceCheckResponse](r).FaceCheck
		g.want(g.do("POST", fc.CaptureURL, "image/jpeg", facetest.SampleJPEG()), 200, "")
		refused := g.guestApply(holder, fc.ID)
		g.want(refused, 429, "quota_exhausted")
		if refused.problem["resets_at"] == nil {
			t.Errorf("no resets_at: %s", refused.raw)
		}
	})
}

func TestGuestChecksOfIdentitiesTheRegistryDoesNotConfirmAreRefusedAfterConsent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		listed := newPerson("秦一")
		reg, err := registry.ParseFile(strings.NewReader(listed.name+","+listed.id.String()+"\n"), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		a := newAppWith(t, s, time.Now(), reg, policy.Default())
		g := a.guest()
		start := func(purpose, name, id string, consent bool) answer {
			return g.json("POST", "/api/v1/guest/face-checks", map[string]any{"purpose": purpose,
				"subject": map[string]any{"name": name, "id_number": id}, "device_key": g.jwk(), "consent": consent})
		}
		for _, tc := range []struct {
			name   string
			answer answer
			status int
			code   string
		}{
			{"an invalid ID number is refused before the missing consent", start("apply", "无名氏", "123", false), 400, "invalid_id_number"},
			{"a missing consent is refused before the registry is asked", start("apply", "无名氏", listed.id.String(), false), 403, "consent_required"},
			{"an apply check for a name the registry does not confirm is refused", start("apply", "无名氏", listed.id.String(), true), 422, "identity_mismatch"},
			{"a view check for a name the registry does not confirm is refused", start("view", "无名氏", listed.id.String(), true), 422, "identity_mismatch"},
			{"a check for the listed person starts", start("view", listed.name, listed.id.String(), true), 201, ""},
		} {
			t.Run(tc.name, func(t *testing.T) { g.want(tc.answer, tc.status, tc.code) })
		}
	})
}

func TestGuestFaceChecksMustMatchTheirUse(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		a := newApp(t, s)
		g := a.guest()
		me, other := newPerson("褚四"), newPerson("卫五")

		apply := g.guestCheck("apply", me, facetest.SampleJPEG())
		g.want(g.guestApply(other, apply), 409, "face_check_mismatch")
		g.want(g.guestPass(apply), 409, "face_check_mismatch")
		view := g.guestCheck("view", me, facetest.SampleJPEG())
		g.want(g.guestApply(me, view), 409, "face_check_mismatch")

		failed := g.guestCheck("apply", me, noFace)
		g.want(g.guestApply(me, failed), 409, "face_check_not_passed")
		pending := as[apiv1.FaceCheckResponse](g.guestStart("view", me)).FaceCheck.ID
		g.want(g.guestPass(pending), 409, "face_check_not_passed")

		g.want(g.guestApply(me, apply), 201, "")
		g.want(g.guestApply(me, apply), 409, "face_check_used")
		g.want(g.guestPass(view), 201, "")
		g.want(g.guestPass(view), 409, "face_check_used")

		// An account's check is not a guest's, nor the other way round.
		acct := a.client()
		acct.signUp(other)
		mine, _ := acct.faceCheck(other, facetest.SampleJPEG())
		g.want(g.guestApply(other, mine), 404, "not_found")
		theirs := g.guestCheck("apply", other, facetest.SampleJPEG())
		acct.want(acct.apply(other, theirs), 404, "not_found")
		pending = as[apiv1.FaceCheckResponse](g.guestStart("apply", other)).FaceCheck.ID
		acct.want(acct.do("POST", "/api/v1/face-checks/"+pending+"/capture", "image/jpeg", facetest.SampleJPEG()), 404, "not_found")

		// A view check expires like any other.
		late := g.guestCheck("view", me, facetest.SampleJPEG())
		a.clock.Advance(6 * time.Minute)
		g.want(g.guestPass(late), 410, "face_check_expired")
	})
}

func TestGuestRoutesRefuseForeignOriginsAndSetNoCookie(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		a := newApp(t, s)
		g := a.guest()
		me := newPerson("蒋六")
		g.origin = "https://evil.example"
		g.want(g.guestStart("apply", me), 403, "csrf_failed")
		g.want(g.guestApply(me, "x"), 403, "csrf_failed")
		g.want(g.guestPass("x"), 403, "csrf_failed")
		g.origin = a.srv.URL
		r := g.guestStart("apply", me)
		g.want(r, 201, "")
		noCookie(t, r)
	})
}

func TestABurstOfGuestFaceChecksFromOneIPIsThrottled(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		{
			pol := policy.Default()
			pol.GuestFaceChecksPerIP, pol.GuestFaceChecksPerSubject = 5, 100
			a := newAppWith(t, s, time.Now(), registry.Development{}, pol)
			g := a.guest()
			for i := range 5 {
				// Refused starts count too: trying ID numbers costs as
				// much as trying faces.
				p := newPerson("沈七")
				if i%2 == 1 {
					g.want(g.json("POST", "/api/v1/guest/face-checks", map[string]any{"purpose": "apply",
						"subject": map[string]any{"name": p.name, "id_number": "123"}, "consent": true}), 400, "invalid_id_number")
					continue
				}
				g.want(g.guestStart("apply", p), 201, "")
			}
			r := g.guestStart("view", newPerson("沈七"))
			g.want(r, 429, "rate_limited")
			retry, err := strconv.Atoi(r.header.Get("Retry-After"))
			if err != nil || retry < 1 || retry > int(pol.GuestWindow/time.Second) {
				t.Errorf("Retry-After %q", r.header.Get("Retry-After"))
			}
			a.clock.Advance(pol.GuestWindow + time.Second)
			g.want(g.guestStart("apply", newPerson("沈七")), 201, "")
		}
	})
}

func TestGuestFaceChecksForOnePersonAreThrottled(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		{
			pol := policy.Default()
			pol.GuestFaceChecksPerIP, pol.GuestFaceChecksPerSubject = 100, 3
			a := newAppWith(t, s, time.Now(), registry.Development{}, pol)
			g := a.guest()
			me := newPerson("韩八")
			for range 3 {
				g.want(g.guestStart("view", me), 201, "")
			}
			r := g.guestStart("apply", me)
			g.want(r, 429, "rate_limited")
			if r.header.Get("Retry-After") == "" {
				t.Error("no Retry-After")
			}
			g.want(g.guestStart("apply", newPerson("杨九")), 201, "")
		}
	})
}

func TestParallelGuestApplicationsWithOnePassedCheckIssueOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		a := newApp(t, s)
		g := a.guest()
		me := newPerson("朱十")
		check := g.guestCheck("apply", me, facetest.SampleJPEG())
		const n = 10
		statuses := make([]answer, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses[i] = g.guestApply(me, check)
			}()
		}
		wg.Wait()
		created := 0
		for _, r := range statuses {
			switch {
			case r.status == 201:
				created++
			case r.status != 409 || r.code() != "face_check_used":
				t.Errorf("status %d %s", r.status, r.code())
			}
		}
		if created != 1 {
			t.Errorf("%d certificates from one face check, want 1", created)
		}
		m := a.clock.Now()
		certs, err := s.SearchCertificates(context.Background(), a.accounts.Issuance.HolderIndex(me.id), "", m.Add(-time.Hour), m.Add(time.Hour), m, 10)
		if err != nil || len(certs) != 1 {
			t.Errorf("%d certificates stored (%v), want 1", len(certs), err)
		}
	})
}

func TestTheGuestAccountCannotLogIn(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		a := newApp(t, s)
		c := a.client()
		for _, pw := range []string{"", "x", "correct horse battery"} {
			if r := c.login("(guest)", pw); r.status == 200 {
				t.Fatalf("the guest account logged in with %q", pw)
			}
		}
		g, err := s.Account(context.Background(), store.GuestAccountID)
		if err != nil || g.DisabledAt.IsZero() || g.PasswordHash != "" {
			t.Errorf("the guest account %+v (%v), want disabled with no password hash", g, err)
		}
	})
}
