package httpapi_test

import (
	"regexp"
	"testing"
	"time"

	"tempid/internal/face/facetest"
	"tempid/internal/httpapi/apiv1"
	"tempid/internal/online"
	"tempid/internal/store"
	"tempid/internal/store/storetest"
)

// volatile are the members whose values change from run to run: they are
// replaced by <name>, so that what is pinned is every member, its order,
// its absence and every value that does not change.
var (
	volatile = regexp.MustCompile(`"(id|csrf_token|pass|api_key|kid|public_key|username|certificate_id|capture_url|object)":"[^"]*"`)
	aTime    = regexp.MustCompile(`"\d{4}-\d\d-\d\dT[0-9:.]+(Z|[+-]\d\d:\d\d)"`)
)

func pin(raw []byte) string {
	s := volatile.ReplaceAllString(string(raw), `"$1":"<$1>"`)
	return aTime.ReplaceAllString(s, `"<time>"`)
}

// checkPinned fails t unless answer r has the status and, pinned, the
// bytes want.
func checkPinned(t *testing.T, name string, r answer, status int, want string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: status %d (%s), want %d", name, r.status, r.raw, status)
	}
	if got := pin(r.raw); got != want+"\n" {
		t.Errorf("%s:\n got %s\nwant %s", name, got, want)
	}
}

// TestAnswersKeepTheirBytes pins the bytes of a few answers as the server
// sends them: the member order, the members left out when empty and every
// value that does not change from run to run. Clients compare and store
// these answers, so a change of types behind them must not change them.
func TestAnswersKeepTheirBytes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		a := newCredApp(t, s, time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC))
		gate := a.terminal("Gate 1", false)
		admin := a.staff(store.RoleAdmin)
		staff := a.staff(store.RoleStaff)
		c := a.client()
		p := newPerson("赵六")
		check := func(name string, r answer, status int, want string) { checkPinned(t, name, r, status, want) }
		check("sign-up", c.json("POST", "/api/v1/accounts", map[string]any{"username": "zhao", "password": "correct horse battery", "name": p.name, "id_number": p.id.String()}), 201,
			`{"account":{"created_at":"<time>","id":"<id>","id_number_masked":"`+p.id.Masked()+`","name_masked":"赵*","role":"passenger","username":"<username>"}}`)
		check("login", c.login("zhao", "correct horse battery"), 200,
			`{"account":{"created_at":"<time>","id":"<id>","id_number":"`+p.id.String()+`","id_number_masked":"`+p.id.Masked()+`","name":"赵六","name_masked":"赵*","role":"passenger","username":"<username>"},"csrf_token":"<csrf_token>"}`)
		check("session", c.json("GET", "/api/v1/session", nil), 200,
			`{"account":{"created_at":"<time>","id":"<id>","id_number":"`+p.id.String()+`","id_number_masked":"`+p.id.Masked()+`","name":"赵六","name_masked":"赵*","role":"passenger","username":"<username>"},"csrf_token":"<csrf_token>","expires_at":"<time>"}`)
		r := c.json("POST", "/api/v1/face-checks", map[string]any{"purpose": "apply", "subject": map[string]any{"name": p.name, "id_number": p.id.String()}, "device_key": c.jwk(), "consent": true})
		check("face check", r, 201,
			`{"face_check":{"capture_url":"<capture_url>","expires_at":"<time>","id":"<id>","provider":"simulator","purpose":"apply","status":"pending"}}`)
		_, failed := c.faceCheck(p, noFace)
		check("failed capture", failed, 200, `{"face_check":{"id":"<id>","reason":"no_face","status":"failed"}}`)
		id, passed := c.faceCheck(p, facetest.SampleJPEG())
		check("passed capture", passed, 200, `{"face_check":{"id":"<id>","status":"passed"}}`)
		r = c.apply(p, id)
		check("application", r, 201,
			`{"certificate":{"channel":"app","city":{"code":"440100","name":"广州市"},"expires_at":"<time>","holder":{"id_number_masked":"`+p.id.Masked()+`","name_masked":"赵*"},"id":"<id>","issued_at":"<time>","renewable_at":"<time>","status":"active"},`+
				`"pass":{"not_after":"<time>","not_before":"<time>","pass":"<pass>","step_seconds":60},"quota":{"month":"2030-05","used":1,"limit":3,"remaining":2,"resets_at":"<time>"}}`)
		certID := as[apiv1.Applied](r).Certificate.ID
		check("quota", c.json("GET", "/api/v1/quota", nil), 200,
			`{"quota":{"month":"2030-05","used":1,"limit":3,"remaining":2,"resets_at":"<time>"}}`)
		check("history", c.json("GET", "/api/v1/certificates?month=2030-05", nil), 200,
			`{"certificates":[{"channel":"app","city":{"code":"440100","name":"广州市"},"expires_at":"<time>","holder":{"id_number_masked":"`+p.id.Masked()+`","name_masked":"赵*"},"id":"<id>","issued_at":"<time>","renewable_at":"<time>","status":"active"}],"month":"2030-05"}`)

		h := &holder{c: c, p: p, certID: certID}
		h.setPass(r)
		check("valid verification", a.verify(gate, h.code(a.clock.Now()), online.Entry), 200,
			`{"certificate":{"expires_at":"<time>","id":"<id>","status":"active"},"holder":{"id_number_masked":"`+p.id.Masked()+`","name":"赵*","name_masked":"赵*"},"kind":"code","pass_not_after":"<time>","replay":false,"verdict":"valid","verified_at":"<time>"}`)
		check("counter verification", a.verify(gate, h.code(a.clock.Now()), online.Refund), 200,
			`{"certificate":{"expires_at":"<time>","id":"<id>","status":"active"},"holder":{"id_number":"`+p.id.String()+`","id_number_masked":"`+p.id.Masked()+`","name":"赵六","name_masked":"赵*"},"kind":"code","pass_not_after":"<time>","replay":false,"verdict":"valid","verified_at":"<time>"}`)
		check("malformed verification", a.verify(gate, "TID1:NOT A CODE", online.Entry), 200,
			`{"kind":"code","reason":"malformed","replay":false,"verdict":"invalid","verified_at":"<time>"}`)
		check("verifier", a.bearer("GET", "/api/v1/verifier", gate, nil), 200,
			`{"terminal":{"created_at":"<time>","id":"<id>","kind":"handheld","name":"Gate 1","offline":false,"station_code":"BJP"}}`)
		check("staff verifier", staff.json("GET", "/api/v1/verifier", nil), 200,
			`{"account":{"created_at":"<time>","id":"<id>","role":"staff","station_code":"BJP","username":"<username>"}}`)

		check("revocation", admin.json("POST", "/api/v1/admin/certificates/"+certID+"/revoke", map[string]any{"reason": "reported lost"}), 200,
			`{"certificate":{"channel":"app","city":{"code":"440100","name":"广州市"},"expires_at":"<time>","holder":{"id_number_masked":"`+p.id.Masked()+`","name_masked":"赵*"},"id":"<id>","issued_at":"<time>","renewable_at":"<time>","revoke_reason":"other","status":"revoked"}}`)
		r = admin.json("POST", "/api/v1/admin/terminals", map[string]any{"name": "Gate 9", "station_code": "SHH", "offline": true})
		check("new terminal", r, 201,
			`{"api_key":"<api_key>","terminal":{"created_at":"<time>","id":"<id>","kind":"handheld","name":"Gate 9","offline":true,"station_code":"SHH"}}`)
		admin.want(admin.json("POST", "/api/v1/admin/terminals/"+as[apiv1.NewTerminal](r).Terminal.ID+"/revoke", nil), 204, "")
		check("staff list", admin.json("GET", "/api/v1/admin/staff", nil), 200,
			`{"staff":[{"created_at":"<time>","id":"<id>","role":"admin","username":"<username>"},{"created_at":"<time>","id":"<id>","role":"staff","station_code":"BJP","username":"<username>"}]}`)
		r = admin.json("GET", "/api/v1/admin/terminals", nil)
		if r.status != 200 || !regexp.MustCompile(`"name":"Gate 9","offline":true,"revoked_at":"[^"]+","station_code":"SHH"}`).Match(r.raw) {
			t.Errorf("terminal list: %s", r.raw)
		}
		check("audit verification", admin.json("GET", "/api/v1/admin/audit/verify", nil), 200, `{"entries":`+
			regexp.MustCompile(`"entries":(\d+)`).FindStringSubmatch(string(admin.json("GET", "/api/v1/admin/audit/verify", nil).raw))[1]+`,"ok":true,"pending":0}`)
		check("stats", admin.json("GET", "/api/v1/admin/stats?from=2030-05-06T00:00:00Z&to=2030-05-06T06:00:00Z", nil), 200,
			`{"applicants":[],"bucket":"","channels":[],"cities":[],"face_failures":[],"failures":[],"from":"<time>","issuance":[],"officers":[],"to":"<time>","verifications":[]}`)
		check("locate", c.json("GET", "/api/v1/regions/locate?lat=0&lon=0", nil), 200, `{"city":null}`)
		check("health", c.json("GET", "/healthz", nil), 200, `{"status":"ok"}`)
		check("rotation", admin.json("POST", "/api/v1/admin/keys/rotate", nil), 200,
			`{"created":true,"key":{"kid":"<kid>","not_after":"<time>","not_before":"<time>"}}`)
	})
}

// TestOwnDataAnswersKeepTheirBytes pins the answers of the data-rights
// endpoints and the other additions the apps read (API.md "Guest (no
// account) and data rights", docs/design.md "Data-subject rights",
// docs/api-passenger-status.md): API.md's traveller members {id, name,
// id_number_masked}, the statuses it names, and the members added beside
// them, so that a renamed or dropped member fails here.
func TestOwnDataAnswersKeepTheirBytes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		a := newCredApp(t, s, time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC))
		admin := a.staff(store.RoleAdmin)
		c := a.client()
		p := newPerson("钱七")
		c.signUp(p)
		friend := newPerson("孙八")
		check := func(name string, r answer, status int, want string) { checkPinned(t, name, r, status, want) }
		travellerJSON := `{"created_at":"<time>","id":"<id>","id_number_masked":"` + friend.id.Masked() + `","name":"孙八","name_masked":"孙*"}`
		r := c.addTraveller(friend)
		check("traveller added", r, 201, `{"traveller":`+travellerJSON+`}`)
		trID := as[apiv1.TravellerResponse](r).Traveller.ID
		check("traveller saved again", c.addTraveller(friend), 200, `{"traveller":`+travellerJSON+`}`)
		check("travellers", c.json("GET", "/api/v1/travellers", nil), 200, `{"limit":15,"travellers":[`+travellerJSON+`]}`)
		check("one traveller", c.json("GET", "/api/v1/travellers/"+trID, nil), 200,
			`{"traveller":{"created_at":"<time>","id":"<id>","id_number":"`+friend.id.String()+`","id_number_masked":"`+friend.id.Masked()+`","name":"孙八","name_masked":"孙*"}}`)
		check("own data", c.json("GET", "/api/v1/me/data", nil), 200,
			`{"account":{"created_at":"<time>","id":"<id>","id_number_masked":"`+p.id.Masked()+`","name_masked":"钱*","role":"passenger","username":"<username>"},`+
				`"certificates":[],"certificates_held":[],"consents":[],"devices":[],"exported_at":"<time>","face_checks":[],`+
				`"sessions":[{"created_at":"<time>","current":true,"expires_at":"<time>","id":"<id>"}],`+
				`"travellers":[{"created_at":"<time>","id":"<id>","id_number_masked":"`+friend.id.Masked()+`","name_masked":"孙*"}]}`)
		check("about", c.json("GET", "/api/v1/about", nil), 200, `{"demo":true}`)

		id, _ := c.faceCheck(p, facetest.SampleJPEG())
		certID := as[apiv1.Applied](c.apply(p, id)).Certificate.ID
		admin.want(admin.json("POST", "/api/v1/admin/certificates/"+certID+"/revoke", map[string]any{"reason": "found_id_card"}), 200, "")
		check("own revoked certificate", c.json("GET", "/api/v1/certificates/"+certID, nil), 200,
			`{"certificate":{"channel":"app","city":{"code":"440100","name":"广州市"},"expires_at":"<time>","holder":{"id_number_masked":"`+p.id.Masked()+`","name_masked":"钱*"},"id":"<id>","issued_at":"<time>","renewable_at":"<time>","revoke_reason":"found_id_card","status":"revoked"}}`)

		empty := func(name string, r answer) {
			t.Helper()
			if r.status != 204 || len(r.raw) != 0 {
				t.Errorf("%s: %d %q, want 204 and no body", name, r.status, r.raw)
			}
		}
		empty("consent withdrawn", c.json("POST", "/api/v1/me/consents/face/withdraw", nil))
		empty("traveller removed", c.json("DELETE", "/api/v1/travellers/"+trID, nil))
		// A wrong password is 403, not 401: the session is still good
		// (docs/design.md, "Data-subject rights").
		c.want(c.json("DELETE", "/api/v1/accounts/me", map[string]any{"password": "not the password"}), 403, "forbidden")
		empty("account deleted", c.json("DELETE", "/api/v1/accounts/me", map[string]any{"password": "correct horse battery"}))
	})
}
