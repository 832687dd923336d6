package httpapi_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"tempid/internal/accounts"
	tempidapp "tempid/internal/app"
	"tempid/internal/clock"
	"tempid/internal/credential"
	"tempid/internal/face"
	"tempid/internal/face/facetest"
	"tempid/internal/httpapi/apiv1"
	"tempid/internal/idnumber"
	"tempid/internal/keys"
	"tempid/internal/metrics"
	"tempid/internal/pii"
	"tempid/internal/policy"
	"tempid/internal/registry"
	"tempid/internal/store"
	"tempid/internal/store/storetest"
)

// syncBuffer is a log sink safe for concurrent handlers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// app is a complete tempid API on a real database, with a manual clock.
type app struct {
	t        *testing.T
	srv      *httptest.Server
	store    *store.Store
	clock    *clock.Manual
	accounts *accounts.Service
	keys     *keys.Service
	logs     *syncBuffer
	kr       *pii.Keyring

	codesMu sync.Mutex
	codes   []string // every code a phone showed, for the log scan
}

// shown remembers a code a phone showed: no code may appear in the logs.
func (a *app) shown(code string) {
	a.codesMu.Lock()
	defer a.codesMu.Unlock()
	a.codes = append(a.codes, code)
}

// newApp is the whole API on s, wired as serve wires it, with the clock at
// the present.
func newApp(t *testing.T, s *store.Store) *app { return newAppAt(t, s, time.Now()) }

// newAppAt is newApp with the clock at a chosen time.
func newAppAt(t *testing.T, s *store.Store, at time.Time) *app {
	t.Helper()
	return newAppWith(t, s, at, registry.Development{}, policy.Default())
}

// newAppWith is newAppAt with a chosen registry and policy.
func newAppWith(t *testing.T, s *store.Store, at time.Time, reg registry.Registry, pol policy.Settings) *app {
	t.Helper()
	kr, err := pii.ParseKeyring(pii.NewKeyFile())
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewManual(at.Truncate(time.Second))
	logs := &syncBuffer{}
	w, err := tempidapp.New(context.Background(), tempidapp.Config{Store: s, PII: kr, Registry: reg,
		Provider: face.NewSimulator(), Policy: pol, Clock: clk, Password: accounts.TestPassword,
		Log: slog.New(slog.NewJSONHandler(logs, nil)), Demo: true, Metrics: metrics.New()})
	if err != nil {
		t.Fatal(err)
	}
	api, acc, ks := w.API, w.Accounts, w.Signing
	srv := httptest.NewServer(api.Handler())
	t.Cleanup(srv.Close)
	a := &app{t: t, srv: srv, store: s, clock: clk, accounts: acc, keys: ks, logs: logs, kr: kr}
	// Every test of this package is also a log scan: no full ID number,
	// name or code of anyone it created may appear in what the server
	// logged.
	t.Cleanup(func() { assertNothingPersonalLogged(t, a, everyone()...) })
	return a
}

// admin creates an administrator and returns its logged-in browser.
func (a *app) admin() *client {
	a.t.Helper()
	if _, err := a.accounts.CreateStaff(context.Background(), store.CLI, "root", "correct horse battery", store.RoleAdmin, ""); err != nil {
		a.t.Fatal(err)
	}
	c := a.client()
	c.want(c.login("root", "correct horse battery"), 200, "")
	return c
}

// client is one browser: a cookie jar, the CSRF token and a device key.
type client struct {
	a      *app
	http   *http.Client
	csrf   string
	device *ecdsa.PrivateKey
	origin string
	user   string
}

func (a *app) client() *client {
	jar, _ := cookiejar.New(nil)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	return &client{a: a, http: &http.Client{Jar: jar}, device: key, origin: a.srv.URL}
}

// answer is what the server sent: problem is the RFC 9457 document of a
// refusal; a success is read with as, into its API type.
type answer struct {
	status  int
	header  http.Header
	problem map[string]any
	raw     []byte
}

func newAnswer(resp *http.Response) answer {
	raw, _ := io.ReadAll(resp.Body)
	out := answer{status: resp.StatusCode, header: resp.Header, raw: raw}
	if resp.StatusCode >= 300 {
		json.Unmarshal(raw, &out.problem)
	}
	return out
}

func (r answer) code() string { s, _ := r.problem["code"].(string); return s }

// as reads a successful answer into its API type (apiv1).
func as[T any](r answer) T {
	var v T
	json.Unmarshal(r.raw, &v)
	return v
}

func (c *client) do(method, path, contentType string, body []byte) answer {
	c.a.t.Helper()
	req, err := http.NewRequest(method, c.a.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		c.a.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.csrf != "" {
		req.Header.Set("X-CSRF-Token", c.csrf)
	}
	if c.origin != "" && method != http.MethodGet {
		req.Header.Set("Origin", c.origin)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.a.t.Fatal(err)
	}
	defer resp.Body.Close()
	return newAnswer(resp)
}

func (c *client) json(method, path string, v any) answer {
	c.a.t.Helper()
	var body []byte
	if v != nil {
		body, _ = json.Marshal(v)
	}
	return c.do(method, path, "application/json", body)
}

func (c *client) want(r answer, status int, code string) {
	c.a.t.Helper()
	if r.status != status || (code != "" && r.code() != code) {
		c.a.t.Fatalf("got %d %s (%s), want %d %s", r.status, r.code(), r.raw, status, code)
	}
}

type person struct {
	name string
	id   idnumber.Number
}

var (
	peopleMu sync.Mutex
	seq      int
	people   []person
)

// newPerson makes a person with a fresh, valid ID number.
func newPerson(name string) person {
	peopleMu.Lock()
	defer peopleMu.Unlock()
	seq++
	p := person{name: name, id: idnumber.Generate("44", time.Date(1988, 8, 8, 0, 0, 0, 0, time.UTC), seq%1000)}
	people = append(people, p)
	return p
}

func everyone() []person {
	peopleMu.Lock()
	defer peopleMu.Unlock()
	return append([]person(nil), people...)
}

// signUp registers and logs in a passenger with their own identity.
func (c *client) signUp(p person) {
	c.a.t.Helper()
	user := fmt.Sprintf("user%d%d", seq, time.Now().UnixNano()%100000)
	c.want(c.json("POST", "/api/v1/accounts", map[string]any{"username": user, "password": "correct horse battery", "name": p.name, "id_number": p.id.String()}), 201, "")
	c.user = user
	c.want(c.login(user, "correct horse battery"), 200, "")
}

// relogin starts a new session, after the clock moved past the last one.
func (c *client) relogin() {
	c.a.t.Helper()
	c.want(c.login(c.user, "correct horse battery"), 200, "")
}

func (c *client) login(user, password string) answer {
	c.a.t.Helper()
	r := c.json("POST", "/api/v1/session", map[string]any{"username": user, "password": password})
	if r.status == 200 {
		c.csrf = as[apiv1.Session](r).CSRFToken
	}
	return r
}

func (c *client) jwk() json.RawMessage { return credential.JWK(&c.device.PublicKey) }

// faceCheck starts an apply check for p and sends img; it returns the id
// and the answer of the capture.
func (c *client) faceCheck(p person, img []byte) (string, answer) {
	c.a.t.Helper()
	r := c.json("POST", "/api/v1/face-checks", map[string]any{"purpose": "apply", "subject": map[string]any{"name": p.name, "id_number": p.id.String()}, "device_key": c.jwk(), "consent": true})
	c.want(r, 201, "")
	fc := as[apiv1.FaceCheckResponse](r).FaceCheck
	if fc.Status != "pending" {
		c.a.t.Errorf("a new face check is %v, want pending", fc.Status)
	}
	return fc.ID, c.do("POST", fc.CaptureURL, "image/jpeg", img)
}

func (c *client) apply(p person, check string) answer {
	return c.json("POST", "/api/v1/certificates", map[string]any{"face_check_id": check, "name": p.name, "id_number": p.id.String(), "city_code": "440100"})
}

var noFace = func() []byte {
	return facetest.PlainJPEG()
}()

func TestPassengerJourney(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		a := newApp(t, s)
		c := a.client()
		me := newPerson("李雷")
		c.signUp(me)

		sess := c.json("GET", "/api/v1/session", nil)
		c.want(sess, 200, "")
		if got, want := as[apiv1.Session](sess).Account.IDNumber, me.id.String(); got != want {
			t.Errorf("session id_number %v, want the account's own %v", got, want)
		}

		check, capture := c.faceCheck(me, facetest.SampleJPEG())
		c.want(capture, 200, "")
		if got, want := as[apiv1.FaceCheckResponse](capture).FaceCheck.Status, "passed"; got != want {
			t.Fatalf("face check %v (%s), want %v", got, capture.raw, want)
		}
		r := c.apply(me, check)
		c.want(r, 201, "")
		applied := as[apiv1.Applied](r)
		cert := applied.Certificate
		if got, want := cert.Status, "active"; got != want {
			t.Errorf("status %v, want %v", got, want)
		}
		if got, want := cert.Holder.IDNumberMasked, me.id.Masked(); got != want {
			t.Errorf("holder %v, want %v", got, want)
		}
		if got, want := cert.City.Name, "广州市"; got != want {
			t.Errorf("city %v, want %v", got, want)
		}
		if got, want := applied.Quota.Used, 1; got != want {
			t.Errorf("quota used %v, want %v", got, want)
		}
		q := c.json("GET", "/api/v1/quota", nil)
		c.want(q, 200, "")
		if got, want := as[apiv1.QuotaResponse](q).Quota.Remaining, 2; got != want {
			t.Errorf("remaining %v, want %v", got, want)
		}
		list := c.json("GET", "/api/v1/certificates", nil)
		c.want(list, 200, "")
		if n := len(as[apiv1.Certificates](list).Certificates); n != 1 {
			t.Errorf("%d certificates listed, want 1", n)
		}
		c.want(c.json("GET", "/api/v1/certificates/"+cert.ID, nil), 200, "")

		// The same check cannot issue twice.
		c.want(c.apply(me, check), 409, "face_check_used")
		// A renewal now is refused by R5 when its face check starts: the
		// account's own identity hears it before any face is sent.
		refused := c.json("POST", "/api/v1/face-checks", map[string]any{"purpose": "apply",
			"subject": map[string]any{"name": me.name, "id_number": me.id.String()}, "device_key": c.jwk(), "consent": true})
		c.want(refused, 409, "active_certificate_exists")
		if refused.problem["renewable_at"] == nil {
			t.Error("no renewable_at member")
		}
		// The pass shows codes that a gate accepts.
		if applied.Pass == nil {
			t.Fatalf("no pass in the answer: %s", r.raw)
		}
		passBytes, err := base64.RawURLEncoding.DecodeString(applied.Pass.Pass)
		if err != nil || len(passBytes) == 0 {
			t.Fatalf("no pass in the answer: %v", applied.Pass)
		}
		code, err := credential.MakeCode(passBytes, credential.StepAt(a.clock.Now()), c.device, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		gate, err := a.accounts.CreateTerminal(context.Background(), store.CLI, "Gate 1", "GZQ", false, "")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := json.Marshal(map[string]any{"code": code, "operation": "entry"})
		req, _ := http.NewRequest("POST", a.srv.URL+"/api/v1/verifications", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+gate.APIKey)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var verdict map[string]any
		json.NewDecoder(resp.Body).Decode(&verdict)
		resp.Body.Close()
		if verdict["verdict"] != "valid" {
			t.Errorf("the first code was not accepted at the gate: %v", verdict)
		}

		m := c.do("GET", "/metrics", "", nil)
		c.want(m, 200, "")
		text := string(m.raw)
		for _, want := range []string{
			"tempid_certificates_issued_total 1",
			`tempid_face_checks_total{reason="",result="passed"} 1`,
			`tempid_refusals_total{code="active_certificate_exists"} 1`,
			`tempid_verifications_total{operation="entry",reason="",verdict="valid"} 1`,
			`tempid_http_request_duration_seconds_count{method="POST",route="POST /api/v1/certificates",status="201"} 1`,
		} {
			if !strings.Contains(text, want) {
				t.Errorf("metrics lack %s", want)
			}
		}
		if strings.Contains(text, me.id.String()) || strings.Contains(text, me.name) || strings.Contains(text, cert.ID) {
			t.Error("metrics hold personal data or identifiers")
		}
	})
}

func assertNothingPersonalLogged(t *testing.T, a *app, people ...person) {
	t.Helper()
	logs := a.logs.String()
	if len(logs) == 0 {
		t.Error("no logs captured")
	}
	a.codesMu.Lock()
	for _, c := range a.codes {
		if len(c) > 60 && strings.Contains(logs, c[len(credential.Prefix):60]) {
			t.Error("a code appears in the logs")
			break
		}
	}
	a.codesMu.Unlock()
	for _, p := range people {
		// Names of one character would match anything; the tests' names have two or more.
		if strings.Contains(logs, p.id.String()) || (utf8.RuneCountInString(p.name) > 1 && strings.Contains(logs, p.name)) {
			t.Errorf("a full ID number or name of %s appears in the logs", p.id.Masked())
			if os.Getenv("TEMPID_DUMP_LOGS") != "" {
				t.Log(logs)
			}
		}
	}
}

func TestCaptureWithoutAFaceFailsAndUsesNoQuota(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		a := newApp(t, s)
		c := a.client()
		me := newPerson("韩梅梅")
		c.signUp(me)
		check, capture := c.faceCheck(me, noFace)
		c.want(capture, 200, "")
		if got, want := as[apiv1.FaceCheckResponse](capture).FaceCheck.Status, "failed"; got != want {
			t.Fatalf("status %v, want %v", got, want)
		}
		if got, want := as[apiv1.FaceCheckResponse](capture).FaceCheck.Reason, "no_face"; got != want {
			t.Errorf("reason %v, want %v", got, want)
		}
		c.want(c.apply(me, check), 409, "face_check_not_passed")
		q := c.json("GET", "/api/v1/quota", nil)
		if got := as[apiv1.QuotaResponse](q).Quota.Used; got != 0 {
			t.Errorf("quota used %v after a failed face check", got)
		}
		// A capture for a check that already has a result changes nothing.
		c.want(c.do("POST", "/api/v1/face-checks/"+check+"/capture", "image/jpeg", facetest.SampleJPEG()), 409, "face_check_used")
	})
}

func TestBadFaceCheckRequestsChangeNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		a := newApp(t, s)
		c := a.client()
		me := newPerson("王五")
		c.signUp(me)
		subject := map[string]any{"name": me.name, "id_number": me.id.String()}
		// start is a valid apply request with some members replaced.
		start := func(changes map[string]any) map[string]any {
			body := map[string]any{"purpose": "apply", "subject": subject, "device_key": c.jwk(), "consent": true}
			for k, v := range changes {
				body[k] = v
			}
			return body
		}
		entries := func() int {
			e, _ := s.AuditEntries(context.Background(), 0, 100000)
			return len(e)
		}
		before := entries()
		for _, tc := range []struct {
			name    string
			changes map[string]any
			status  int
			code    string
		}{
			{"no consent", map[string]any{"consent": false}, 403, "consent_required"},
			{"point off the curve", map[string]any{"device_key": json.RawMessage(`{"kty":"EC","crv":"P-256","x":"AQ","y":"AQ"}`)}, 400, "validation_failed"},
			{"not a JWK", map[string]any{"device_key": "abc"}, 400, "validation_failed"},
			{"RSA key", map[string]any{"device_key": json.RawMessage(`{"kty":"RSA","n":"AQ","e":"AQAB"}`)}, 400, "validation_failed"},
			{"bad ID number", map[string]any{"subject": map[string]any{"name": me.name, "id_number": "110101199001011234"}}, 400, "invalid_id_number"},
			{"unknown purpose", map[string]any{"purpose": "travel"}, 400, "validation_failed"},
			{"view of a foreign certificate", map[string]any{"purpose": "view", "subject": nil, "certificate_id": store.NewID()}, 404, "not_found"},
			{"unknown member", map[string]any{"extra": 1}, 400, "validation_failed"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				c.want(c.json("POST", "/api/v1/face-checks", start(tc.changes)), tc.status, tc.code)
			})
		}
		if got := entries(); got != before {
			t.Errorf("refused face-check requests wrote %d audit entries", got-before)
		}

		// Captures: not an image, too large, someone else's check, an
		// expired check.
		check := as[apiv1.FaceCheckResponse](c.json("POST", "/api/v1/face-checks", start(nil))).FaceCheck.ID
		check2 := as[apiv1.FaceCheckResponse](c.json("POST", "/api/v1/face-checks", start(nil))).FaceCheck.ID
		other := a.client()
		other.signUp(newPerson("赵六"))
		before = entries()
		capture := func(cl *client, id, contentType string, body []byte) answer {
			return cl.do("POST", "/api/v1/face-checks/"+id+"/capture", contentType, body)
		}
		c.want(capture(c, check, "text/plain", []byte("hello")), 415, "validation_failed")
		c.want(capture(c, check, "image/jpeg", make([]byte, 9<<20)), 413, "too_large")
		other.want(capture(other, check2, "image/jpeg", facetest.SampleJPEG()), 404, "not_found")
		a.clock.Advance(11 * time.Minute)
		c.want(capture(c, check2, "image/jpeg", facetest.SampleJPEG()), 410, "face_check_expired")
		if got := entries(); got != before {
			t.Errorf("refused captures wrote %d audit entries", got-before)
		}
		if f, err := s.FaceCheck(context.Background(), check2); err != nil || f.Status != store.FacePending {
			t.Errorf("the refused captures changed the check: %s, %v", f.Status, err)
		}
	})
}

func TestParallelUseOfOnePassedCheckIssuesOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		a := newApp(t, s)
		c := a.client()
		me := newPerson("周七")
		c.signUp(me)
		check, _ := c.faceCheck(me, facetest.SampleJPEG())
		const n = 10
		statuses := make([]int, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses[i] = c.apply(me, check).status
			}()
		}
		wg.Wait()
		created := 0
		for _, st := range statuses {
			if st == 201 {
				created++
			} else if st != 409 {
				t.Errorf("status %d", st)
			}
		}
		if created != 1 {
			t.Errorf("%d certificates from one face check, want 1", created)
		}
	})
}

func TestCSRFAndOrigin(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		a := newApp(t, s)
		c := a.client()
		me := newPerson("孙八")
		c.signUp(me)
		body := map[string]any{"purpose": "apply", "subject": map[string]any{"name": me.name, "id_number": me.id.String()}, "device_key": c.jwk(), "consent": true}
		token := c.csrf

		c.csrf = ""
		c.want(c.json("POST", "/api/v1/face-checks", body), 403, "csrf_failed")
		c.csrf = "wrong"
		c.want(c.json("POST", "/api/v1/face-checks", body), 403, "csrf_failed")
		c.csrf, c.origin = token, "https://evil.example"
		c.want(c.json("POST", "/api/v1/face-checks", body), 403, "csrf_failed")
		c.want(c.json("DELETE", "/api/v1/session", nil), 403, "csrf_failed")
		c.origin = a.srv.URL
		c.want(c.json("POST", "/api/v1/face-checks", body), 201, "")
		// Login from a foreign page is refused too (login CSRF).
		c.origin = "https://evil.example"
		c.want(c.json("POST", "/api/v1/session", map[string]any{"username": "x", "password": "y"}), 403, "csrf_failed")
	})
}

func TestAccountsSeeOnlyTheirOwnCertificates(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		a := newApp(t, s)
		alice, bob := a.client(), a.client()
		pa, pb := newPerson("爱丽丝"), newPerson("鲍勃")
		alice.signUp(pa)
		bob.signUp(pb)
		check, _ := alice.faceCheck(pa, facetest.SampleJPEG())
		id := as[apiv1.Applied](alice.apply(pa, check)).Certificate.ID
		bob.want(bob.json("GET", "/api/v1/certificates/"+id, nil), 404, "not_found")
		bob.want(bob.json("GET", "/api/v1/quota?id_number="+pa.id.String(), nil), 404, "not_found")
		if list := bob.json("GET", "/api/v1/certificates", nil); len(as[apiv1.Certificates](list).Certificates) != 0 {
			t.Error("bob lists alice's certificate")
		}
		viewBody := map[string]any{"purpose": "view", "certificate_id": id, "device_key": bob.jwk(), "consent": true}
		bob.want(bob.json("POST", "/api/v1/face-checks", viewBody), 404, "not_found")
		// A companion sees the quota of a person they applied for.
		traveller := newPerson("小明")
		check, _ = alice.faceCheck(traveller, facetest.SampleJPEG())
		alice.want(alice.apply(traveller, check), 201, "")
		alice.want(alice.json("GET", "/api/v1/quota?id_number="+traveller.id.String(), nil), 200, "")
	})
}

func TestSessionsRotateAtLoginAndEndAtLogout(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		a := newApp(t, s)
		c := a.client()
		user := "rotating"
		c.want(c.json("POST", "/api/v1/accounts", map[string]any{"username": user, "password": "correct horse battery", "name": "甲", "id_number": newPerson("甲").id.String()}), 201, "")
		c.login(user, "correct horse battery")
		first := cookie(c)
		c.login(user, "correct horse battery")
		second := cookie(c)
		if first == "" || first == second {
			t.Fatal("the session token did not change at login")
		}
		stale := a.client()
		setCookie(stale, first)
		stale.want(stale.json("GET", "/api/v1/session", nil), 401, "unauthenticated")

		c.want(c.json("DELETE", "/api/v1/session", nil), 204, "")
		replay := a.client()
		setCookie(replay, second)
		replay.want(replay.json("GET", "/api/v1/session", nil), 401, "unauthenticated")

		c.login(user, "correct horse battery")
		a.clock.Advance(12*time.Hour + time.Second)
		c.want(c.json("GET", "/api/v1/session", nil), 401, "unauthenticated")
	})
}

func TestLoginDoesNotTellWhichUsernamesExistAndIsThrottled(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		a := newApp(t, s)
		c := a.client()
		c.want(c.json("POST", "/api/v1/accounts", map[string]any{"username": "known", "password": "correct horse battery", "name": "乙", "id_number": newPerson("乙").id.String()}), 201, "")
		wrongPassword := c.json("POST", "/api/v1/session", map[string]any{"username": "known", "password": "wrong password!"})
		unknownUser := c.json("POST", "/api/v1/session", map[string]any{"username": "unknown", "password": "wrong password!"})
		c.want(wrongPassword, 401, "unauthenticated")
		c.want(unknownUser, 401, "unauthenticated")
		if wrongPassword.problem["detail"] != unknownUser.problem["detail"] {
			t.Errorf("different messages: %q and %q", wrongPassword.problem["detail"], unknownUser.problem["detail"])
		}
		for range 9 {
			c.json("POST", "/api/v1/session", map[string]any{"username": "known", "password": "wrong password!"})
		}
		r := c.json("POST", "/api/v1/session", map[string]any{"username": "known", "password": "correct horse battery"})
		c.want(r, 429, "rate_limited")
		if r.header.Get("Retry-After") == "" {
			t.Error("no Retry-After")
		}
		a.clock.Advance(16 * time.Minute)
		c.want(c.login("known", "correct horse battery"), 200, "")
	})
}

func TestTerminalKeysAuthenticateUntilRevoked(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		a := newApp(t, s)
		ctx := context.Background()
		admin := a.admin()
		r := admin.json("POST", "/api/v1/admin/terminals", map[string]any{"name": "Gate 1", "station_code": "BJP", "offline": true})
		admin.want(r, 201, "")
		key := as[apiv1.NewTerminal](r).APIKey
		id := as[apiv1.NewTerminal](r).Terminal.ID

		gate := a.client()
		gate.origin = ""
		bearer := func() answer {
			req, _ := http.NewRequest("GET", a.srv.URL+"/api/v1/verifier", nil)
			req.Header.Set("Authorization", "Bearer "+key)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			return newAnswer(resp)
		}
		if r := bearer(); r.status != 200 || as[apiv1.Verifier](r).Terminal == nil || as[apiv1.Verifier](r).Terminal.StationCode != "BJP" {
			t.Fatalf("terminal key refused: %d %s", r.status, r.raw)
		}
		// A passenger session may not verify.
		p := a.client()
		p.signUp(newPerson("丙"))
		p.want(p.json("GET", "/api/v1/verifier", nil), 403, "forbidden")
		p.want(p.json("POST", "/api/v1/admin/terminals", map[string]any{"name": "x", "station_code": "BJP"}), 403, "forbidden")

		admin.want(admin.json("POST", "/api/v1/admin/terminals/"+id+"/revoke", nil), 204, "")
		if r := bearer(); r.status != 401 || r.code() != "unauthenticated" {
			t.Errorf("revoked key: %d %s", r.status, r.raw)
		}
		stored, _ := s.Terminals(ctx)
		for _, tm := range stored {
			if bytes.Contains(tm.KeyHash, []byte(key)) {
				t.Error("the API key is stored in the clear")
			}
		}
	})
}

// cookie returns the client's session token.
func cookie(c *client) string {
	u, _ := url.Parse(c.a.srv.URL)
	for _, ck := range c.http.Jar.Cookies(u) {
		if strings.HasSuffix(ck.Name, "tempid_session") {
			return ck.Value
		}
	}
	return ""
}

// setCookie gives a client a session token, as a thief would.
func setCookie(c *client, token string) {
	u, _ := url.Parse(c.a.srv.URL)
	c.http.Jar.SetCookies(u, []*http.Cookie{{Name: "tempid_session", Value: token, Path: "/"}})
}

// TestNoFaceImageIsPersisted runs captures and then searches the whole
// database — the SQLite files on disk, or every row of every PostgreSQL
// table — for any 32-byte piece of the images sent.
func TestNoFaceImageIsPersisted(t *testing.T) {
	for _, backend := range storetest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			opts := storetest.Options(t, backend)
			s, err := store.Open(context.Background(), opts)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			a := newApp(t, s)
			c := a.client()
			me := newPerson("钱九")
			c.signUp(me)
			img := facetest.SampleJPEG()
			check, _ := c.faceCheck(me, img)
			c.want(c.apply(me, check), 201, "")
			// The second image for a companion: the account's own identity,
			// now with a certificate, is refused before any capture.
			c.faceCheck(newPerson("钱十"), noFace)
			var haystack []byte
			if backend == "sqlite" {
				s.Close()
				entries, _ := os.ReadDir(opts.DataDir)
				for _, e := range entries {
					b, err := os.ReadFile(filepath.Join(opts.DataDir, e.Name()))
					if err != nil {
						t.Fatal(err)
					}
					haystack = append(haystack, b...)
				}
			} else {
				dump, err := store.DumpForTest(s)
				if err != nil {
					t.Fatal(err)
				}
				haystack = []byte(dump)
			}
			if len(haystack) < 1000 {
				t.Fatalf("only %d bytes of database to search", len(haystack))
			}
			for _, sent := range [][]byte{img, noFace} {
				for off := 0; off+32 <= len(sent); off += len(sent) / 16 {
					piece := sent[off : off+32]
					if bytes.Contains(haystack, piece) || bytes.Contains(haystack, []byte(hex.EncodeToString(piece))) {
						t.Fatalf("bytes %d..%d of a capture are in the database", off, off+32)
					}
				}
			}
			if bytes.Contains(haystack, []byte(me.id.String())) {
				t.Error("a full ID number is stored in the clear")
			}
		})
	}
}

func TestAdminSearchesRevokesAndReadsTheAudit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		a := newApp(t, s)
		admin := a.admin()
		c := a.client()
		me := newPerson("吴十")
		c.signUp(me)
		check, _ := c.faceCheck(me, facetest.SampleJPEG())
		id := as[apiv1.Applied](c.apply(me, check)).Certificate.ID

		found := admin.json("GET", "/api/v1/admin/certificates?id_number="+me.id.String(), nil)
		admin.want(found, 200, "")
		if list := as[apiv1.Certificates](found).Certificates; len(list) != 1 || list[0].ID != id {
			t.Fatalf("search found %s", found.raw)
		}
		admin.want(admin.json("GET", "/api/v1/admin/certificates?id_number=12345", nil), 400, "invalid_id_number")
		admin.want(admin.json("POST", "/api/v1/admin/certificates/"+id+"/revoke", map[string]any{}), 400, "validation_failed")
		r := admin.json("POST", "/api/v1/admin/certificates/"+id+"/revoke", map[string]any{"reason": "reported stolen"})
		admin.want(r, 200, "")
		if got, want := as[apiv1.CertificateResponse](r).Certificate.Status, "revoked"; got != want {
			t.Errorf("status %v, want %v", got, want)
		}
		if got := as[apiv1.CertificateResponse](c.json("GET", "/api/v1/certificates/"+id, nil)).Certificate.Status; got != "revoked" {
			t.Errorf("the passenger sees %v", got)
		}
		stats := admin.json("GET", "/api/v1/admin/stats?bucket=hour", nil)
		admin.want(stats, 200, "")
		if cities := as[apiv1.Stats](stats).Cities; len(cities) != 1 || cities[0].Name != "广州市" {
			t.Errorf("cities %v", cities)
		}
		audit := admin.json("GET", "/api/v1/admin/audit?limit=1000", nil)
		admin.want(audit, 200, "")
		actions := map[string]bool{}
		for _, entry := range as[apiv1.AuditEntries](audit).Entries {
			actions[entry.Action] = true
			if strings.Contains(entry.Object+string(entry.Detail), me.id.String()) {
				t.Errorf("an audit entry holds the full ID number: %v", entry)
			}
		}
		for _, want := range []string{"account.create", "session.login", "face_check.start", "face_check.passed", "certificate.issue", "certificate.search", "certificate.revoke"} {
			if !actions[want] {
				t.Errorf("no %s entry in the audit log", want)
			}
		}
		v := admin.json("GET", "/api/v1/admin/audit/verify", nil)
		admin.want(v, 200, "")
		if !as[apiv1.AuditCheck](v).OK {
			t.Errorf("audit verify: %s", v.raw)
		}
		c.want(c.json("GET", "/api/v1/admin/audit", nil), 403, "forbidden")
	})
}

// passedCheck records a passed apply check for p straight in the store, as
// if the face check had just passed; races then need no image processing.
func (c *client) passedCheck(p person) string {
	c.a.t.Helper()
	ctx := context.Background()
	sess := c.json("GET", "/api/v1/session", nil)
	c.want(sess, 200, "")
	me := as[apiv1.Session](sess).Account.ID
	iss := c.a.accounts.Issuance
	key, _ := credential.CompressDeviceKey(&c.device.PublicKey)
	hash := credential.DeviceKeyHash(key)
	now := c.a.clock.Now()
	id := store.NewID()
	if err := c.a.store.CreateFaceCheck(ctx, store.CLI, store.FaceCheck{ID: id, AccountID: me, SessionID: "s", Purpose: store.PurposeApply,
		SubjectIndex: iss.HolderIndex(p.id), NameIndex: iss.NameIndex(p.name), NameMasked: idnumber.MaskName(p.name),
		DeviceKey: key[:], DeviceKeyHash: hash[:], Provider: "test", ConsentAt: now, CreatedAt: now, ExpiresAt: now.Add(time.Minute)}); err != nil {
		c.a.t.Fatal(err)
	}
	if _, err := c.a.store.CompleteFaceCheck(ctx, store.CLI, id, me, store.FaceResult{Passed: true, Score: 1}, now); err != nil {
		c.a.t.Fatal(err)
	}
	return id
}

// TestQuotaRaceOverHTTP: a person with two certificates this month, 50
// parallel applications from two accounts (the person's own and a
// companion's), each with its own passed face check: exactly one issues.
func TestQuotaRaceOverHTTP(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		// Mid-month, so that the two earlier certificates fall in it.
		a := newAppAt(t, s, time.Date(2026, 7, 10, 9, 0, 0, 0, time.FixedZone("CST", 8*3600)))
		own, companion := a.client(), a.client()
		traveller := newPerson("郑十一")
		own.signUp(traveller)
		companion.signUp(newPerson("王十二"))
		for range 2 {
			own.relogin()
			own.want(own.apply(traveller, own.passedCheck(traveller)), 201, "")
			a.clock.Advance(25 * time.Hour)
		}
		own.relogin()
		companion.relogin()
		const n = 50
		checks := make([]string, n)
		clients := make([]*client, n)
		for i := range n {
			clients[i] = []*client{own, companion}[i%2]
			checks[i] = clients[i].passedCheck(traveller)
		}
		var wg sync.WaitGroup
		answers := make([]answer, n)
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				answers[i] = clients[i].apply(traveller, checks[i])
			}()
		}
		close(start)
		wg.Wait()
		issued := 0
		for _, r := range answers {
			switch {
			case r.status == 201:
				issued++
			case r.code() == "quota_exhausted" || r.code() == "active_certificate_exists":
			default:
				t.Errorf("unexpected answer %d %s", r.status, r.raw)
			}
		}
		if issued != 1 {
			t.Errorf("%d certificates issued, want exactly 1", issued)
		}
		q := own.json("GET", "/api/v1/quota", nil)
		if got := as[apiv1.QuotaResponse](q).Quota.Used; got != 3 {
			t.Errorf("quota used %v, want 3", got)
		}
	})
}

// TestSessionCookieAttributes pins the cookie of SPEC "Accounts": HttpOnly
// and SameSite always; Secure with the __Host- prefix outside demo mode,
// and a plain name only in demo mode on plain HTTP.
func TestSessionCookieAttributes(t *testing.T) {
	for _, demo := range []bool{false, true} {
		t.Run(fmt.Sprintf("demo=%v", demo), func(t *testing.T) {
			s := storetest.Open(t, "sqlite")
			kr, _ := pii.ParseKeyring(pii.NewKeyFile())
			w, err := tempidapp.New(context.Background(), tempidapp.Config{Store: s, PII: kr, Registry: registry.Development{},
				Policy: policy.Default(), Clock: clock.Real{}, Password: accounts.TestPassword, Demo: demo})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Accounts.CreateStaff(context.Background(), store.CLI, "clerk", "correct horse battery", store.RoleStaff, "BJP"); err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(w.API.Handler())
			defer srv.Close()
			resp, err := http.Post(srv.URL+"/api/v1/session", "application/json", strings.NewReader(`{"username":"clerk","password":"correct horse battery"}`))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			cookies := resp.Cookies()
			if len(cookies) != 1 {
				t.Fatalf("%d cookies set, want 1", len(cookies))
			}
			c := cookies[0]
			wantName, wantSecure := "__Host-tempid_session", true
			if demo {
				wantName, wantSecure = "tempid_session", false
			}
			if c.Name != wantName || c.Secure != wantSecure || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Domain != "" {
				t.Errorf("cookie %+v: want %s, Secure %v, HttpOnly, SameSite=Strict, Path=/, no Domain", c, wantName, wantSecure)
			}
			if len(c.Value) < 43 { // 256 bits in base64url
				t.Errorf("session token of %d characters is too short", len(c.Value))
			}
		})
	}
}

// TestASuccessfulLoginForgivesTheAccountsFailures: nine wrong passwords,
// a right one, nine more wrong ones, and the right one still works.
func TestASuccessfulLoginForgivesTheAccountsFailures(t *testing.T) {
	s := storetest.Open(t, "sqlite")
	a := newApp(t, s)
	c := a.client()
	c.want(c.json("POST", "/api/v1/accounts", map[string]any{"username": "forgiven", "password": "correct horse battery", "name": "丁一", "id_number": newPerson("丁一").id.String()}), 201, "")
	for round := range 2 {
		for range 9 {
			c.want(c.json("POST", "/api/v1/session", map[string]any{"username": "forgiven", "password": "wrong password!"}), 401, "unauthenticated")
		}
		if r := c.login("forgiven", "correct horse battery"); r.status != 200 {
			t.Fatalf("round %d: the right password was refused: %d %s", round, r.status, r.raw)
		}
	}
}
