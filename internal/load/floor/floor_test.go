package floor

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"tempid/internal/credential"
	"tempid/internal/httpapi/apiv1"
	"tempid/internal/idnumber"
	"tempid/internal/store/storetest"
)

const (
	adminUser, adminPassword = "admin", "floor admin password"
)

// testFloor is a floor of one backend behind an HTTP test server.
type testFloor struct {
	t   testing.TB
	s   *Server
	url string
}

func eachBackend(t *testing.T, fn func(t *testing.T, f *testFloor)) {
	for _, b := range storetest.Backends(t) {
		t.Run(b, func(t *testing.T) { fn(t, newTestFloor(t, b)) })
	}
}

func newTestFloor(t testing.TB, backend string) *testFloor {
	o := storetest.Options(t, backend)
	s, err := Open(context.Background(), Options{DataDir: o.DataDir, DSN: o.DSN, AdminUser: adminUser, AdminPassword: adminPassword})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return &testFloor{t: t, s: s, url: srv.URL}
}

// client is a browser or a terminal.
type client struct {
	f      *testFloor
	http   *http.Client
	csrf   string
	apiKey string
}

func (f *testFloor) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{f: f, http: &http.Client{Jar: jar}}
}

// call posts in and decodes a 2xx answer into out; it returns the status
// and, for a problem, its code.
func (c *client) call(path string, in, out any) (int, string) {
	c.f.t.Helper()
	var body []byte
	if b, ok := in.([]byte); ok {
		body = b
	} else {
		body, _ = json.Marshal(in)
	}
	req, _ := http.NewRequest("POST", c.f.url+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if c.csrf != "" {
		req.Header.Set("X-CSRF-Token", c.csrf)
	}
	if c.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.apiKey)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.f.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		var p struct{ Code string }
		json.NewDecoder(resp.Body).Decode(&p)
		return resp.StatusCode, p.Code
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			c.f.t.Fatal(err)
		}
	}
	return resp.StatusCode, ""
}

func (c *client) must(path string, in, out any) {
	c.f.t.Helper()
	if status, code := c.call(path, in, out); status >= 300 {
		c.f.t.Fatalf("POST %s: %d %s", path, status, code)
	}
}

func (c *client) login(user, password string) {
	c.f.t.Helper()
	var s apiv1.Session
	c.must("/api/v1/session", apiv1.LoginRequest{Username: user, Password: password}, &s)
	c.csrf = s.CSRFToken
}

// person is the i-th synthetic person of a test.
func person(i int) apiv1.Subject {
	n := idnumber.Generate("11", time.Date(1980, 1, 1+i/1000, 0, 0, 0, 0, time.UTC), i%1000)
	return apiv1.Subject{Name: fmt.Sprintf("测试旅客%d", i), IDNumber: n.String()}
}

// passedCheck makes a passed apply face check for p on a new device.
func (c *client) passedCheck(p apiv1.Subject) (string, *ecdsa.PrivateKey) {
	c.f.t.Helper()
	dev, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		c.f.t.Fatal(err)
	}
	var fc apiv1.FaceCheckResponse
	c.must("/api/v1/face-checks", apiv1.FaceCheckRequest{Purpose: "apply", Subject: &p, DeviceKey: credential.JWK(&dev.PublicKey), Consent: true}, &fc)
	c.must(fc.FaceCheck.CaptureURL, []byte("not a photograph"), nil)
	return fc.FaceCheck.ID, dev
}

func (c *client) apply(p apiv1.Subject, check string) (apiv1.Applied, int, string) {
	var out apiv1.Applied
	status, code := c.call("/api/v1/certificates", apiv1.ApplyRequest{FaceCheckID: check, Name: p.Name, IDNumber: p.IDNumber, CityCode: "110100"}, &out)
	return out, status, code
}

// passenger signs up and logs in an account.
func (f *testFloor) passenger(name string, p apiv1.Subject) *client {
	c := f.client()
	c.must("/api/v1/accounts", apiv1.SignUpRequest{Username: name, Password: "pw " + name, Name: p.Name, IDNumber: p.IDNumber}, nil)
	c.login(name, "pw "+name)
	return c
}

func (f *testFloor) terminal() *client {
	admin := f.client()
	admin.login(adminUser, adminPassword)
	var nt apiv1.NewTerminal
	admin.must("/api/v1/admin/terminals", apiv1.CreateTerminalRequest{Name: "gate", StationCode: "BJP"}, &nt)
	t := f.client()
	t.apiKey = nt.APIKey
	return t
}

func (c *client) verify(code, op string) apiv1.VerifyResponse {
	c.f.t.Helper()
	var v apiv1.VerifyResponse
	c.must("/api/v1/verifications", apiv1.VerifyRequest{Code: code, Operation: op}, &v)
	return v
}

func (f *testFloor) count(q string, args ...any) int {
	f.t.Helper()
	var n int
	if err := f.s.db.queryRow(context.Background(), q, args...).Scan(&n); err != nil {
		f.t.Fatal(err)
	}
	return n
}

func TestTheFloorVerifiesOnceAndRecordsTheUseWithItsAudit(t *testing.T) {
	eachBackend(t, func(t *testing.T, f *testFloor) {
		p := person(1)
		c := f.passenger("one", p)
		check, dev := c.passedCheck(p)
		a, status, code := c.apply(p, check)
		if status != http.StatusCreated || a.Pass == nil {
			t.Fatalf("apply: %d %s", status, code)
		}
		pass, err := base64.RawURLEncoding.DecodeString(a.Pass.Pass)
		if err != nil {
			t.Fatal(err)
		}
		term := f.terminal()
		qr, err := credential.MakeCode(pass, credential.StepAt(time.Now()), dev, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}

		v := term.verify(qr, "ticket_purchase")
		if v.Verdict != apiv1.Valid || v.Replay || v.Certificate == nil || v.Certificate.ID != a.Certificate.ID {
			t.Fatalf("first scan: %+v", v)
		}
		if v.Holder == nil || v.Holder.IDNumber != p.IDNumber || v.Holder.IDNumberMasked == p.IDNumber {
			t.Fatalf("a counter operation is shown the full number, masked elsewhere: %+v", v.Holder)
		}
		again := term.verify(qr, "ticket_purchase")
		if again.Verdict != apiv1.Invalid || !again.Replay || again.Reason != "replayed" {
			t.Fatalf("the same code again: %+v", again)
		}
		if v := term.verify(qr, "entry"); v.Verdict != apiv1.Valid || v.Holder.IDNumber != "" {
			t.Fatalf("the same code for another operation by the same terminal: %+v", v)
		}
		if v := f.terminal().verify(qr, "refund"); !v.Replay {
			t.Fatalf("the same code at another terminal: %+v", v)
		}
		tampered := []byte(qr)
		tampered[len(tampered)-3] ^= 1
		if v := term.verify(string(tampered), "entry"); v.Verdict != apiv1.Invalid || v.Replay {
			t.Fatalf("a tampered code: %+v", v)
		}

		if n := f.count(`SELECT count(*) FROM verifications WHERE certificate_id = $1 AND verdict = 'valid'`, a.Certificate.ID); n != 2 {
			t.Errorf("%d valid verifications recorded, want 2", n)
		}
		if n := f.count(`SELECT count(*) FROM verifications WHERE replay = 1`); n != 2 {
			t.Errorf("%d replays recorded, want 2", n)
		}
		if n := f.count(`SELECT count(*) FROM code_claims WHERE certificate_id = $1`, a.Certificate.ID); n != 1 {
			t.Errorf("%d claims, want 1", n)
		}
		// An issuance and five verifications, each with its audit row.
		n, err := f.s.VerifyAudit(context.Background())
		if err != nil || n != 6 {
			t.Fatalf("audit chain: %d rows, %v", n, err)
		}
		if err := f.s.db.exec(context.Background(), `UPDATE audit SET detail = replace(detail, 'replayed', 'valid') WHERE seq = 3`); err != nil {
			t.Fatal(err)
		}
		if _, err := f.s.VerifyAudit(context.Background()); !errors.Is(err, ErrAuditChain) {
			t.Fatalf("a changed audit row: %v", err)
		}
	})
}

func TestTheFloorCountsTheMonth(t *testing.T) {
	eachBackend(t, func(t *testing.T, f *testFloor) {
		p := person(2)
		c := f.passenger("two", p)
		limit := f.s.pol.MonthlyLimit
		for i := 1; i <= limit; i++ {
			a, status, code := c.apply(p, must(c.passedCheck(p)))
			if status != http.StatusCreated || a.Quota.Used != i {
				t.Fatalf("application %d: %d %s, used %d", i, status, code, a.Quota.Used)
			}
		}
		check, _ := c.passedCheck(p)
		if _, status, code := c.apply(p, check); code != "quota_exhausted" {
			t.Fatalf("application past the limit: %d %s", status, code)
		}
		// The refusal left the check unused and issued nothing.
		if n := f.count(`SELECT count(*) FROM face_checks WHERE id = $1 AND used_at IS NOT NULL`, check); n != 0 {
			t.Error("a refused application used its face check")
		}
		if n := f.count(`SELECT count(*) FROM certificates`); n != limit {
			t.Errorf("%d certificates, want %d", n, limit)
		}

		// Applications for one person at once: the limit holds, and a
		// face check is used once.
		q := person(3)
		d := f.passenger("three", q)
		checks := make([]string, limit+3)
		for i := range checks {
			checks[i], _ = d.passedCheck(q)
		}
		checks = append(checks, checks[0])
		var wg sync.WaitGroup
		var mu sync.Mutex
		codes := map[string]int{}
		for _, ch := range checks {
			wg.Go(func() {
				_, status, code := d.apply(q, ch)
				mu.Lock()
				defer mu.Unlock()
				codes[fmt.Sprint(status, code)]++
			})
		}
		wg.Wait()
		if codes["201"] != limit {
			t.Errorf("answers %v: want %d issued", codes, limit)
		}
		if n := f.count(`SELECT count(*) FROM certificates`); n != 2*limit {
			t.Errorf("%d certificates, want %d", n, 2*limit)
		}
		if n, err := f.s.VerifyAudit(context.Background()); err != nil || n != 2*limit {
			t.Fatalf("audit chain: %d rows, %v", n, err)
		}
	})
}

func must[T, U any](v T, _ U) T { return v }
