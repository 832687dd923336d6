package httpapi_test

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"tempid/internal/face/facetest"
	"tempid/internal/httpapi"
	"tempid/internal/httpapi/apiv1"
	"tempid/internal/policy"
	"tempid/internal/store"
	"tempid/internal/store/storetest"
)

// Bodies other than JSON are refused with 415 by every state-changing
// endpoint that reads one (captures: images); endpoints without a body
// need no Content-Type.
func TestStateChangingEndpointsRefuseBodiesThatAreNotJSON(t *testing.T) {
	// Endpoints that read no body, and those that read an image.
	noBody := map[string]bool{
		"DELETE /api/v1/session":                       true,
		"POST /api/v1/face-checks/{id}/complete":       true,
		"POST /api/v1/guest/face-checks/{id}/complete": true,
		"POST /api/v1/admin/keys/rotate":               true,
		"POST /api/v1/admin/terminals/{id}/revoke":     true,
		"DELETE /api/v1/travellers/{id}":               true,
		"POST /api/v1/me/consents/face/withdraw":       true,
	}
	images := map[string]bool{
		"POST /api/v1/face-checks/{id}/capture":       true,
		"POST /api/v1/guest/face-checks/{id}/capture": true,
		"POST /api/v1/kiosk/face-checks/{id}/capture": true,
	}

	storetest.Each(t, func(t *testing.T, s *store.Store) {
		a := newApp(t, s)
		admin := a.admin()
		// The offline grant: scans are uploaded only by terminals that have it.
		nt, err := a.accounts.CreateTerminal(context.Background(), store.CLI, "gate", "BJP", true, "")
		if err != nil {
			t.Fatal(err)
		}
		kt, err := a.accounts.CreateTerminal(context.Background(), store.CLI, "kiosk", "BJP", false, store.TerminalKiosk)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.accounts.CreateStaff(context.Background(), store.CLI, "window", "correct horse battery", store.RoleOfficer, "BJP"); err != nil {
			t.Fatal(err)
		}
		officer := a.client()
		officer.want(officer.login("window", "correct horse battery"), 200, "")
		bearer := func(key, method, path, contentType string, body []byte) answer {
			t.Helper()
			req, _ := http.NewRequest(method, a.srv.URL+path, bytes.NewReader(body))
			if contentType != "" {
				req.Header.Set("Content-Type", contentType)
			}
			req.Header.Set("Authorization", "Bearer "+key)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			return newAnswer(resp)
		}
		// send makes one request as a fresh caller of the route's kind.
		send := func(method, path, who, contentType string, body []byte) answer {
			t.Helper()
			switch who {
			case "public", "guest":
				return a.client().do(method, path, contentType, body)
			case "passenger":
				c := a.client()
				c.signUp(newPerson("内容"))
				return c.do(method, path, contentType, body)
			case "admin":
				return admin.do(method, path, contentType, body)
			case "officer":
				return officer.do(method, path, contentType, body)
			case "staffOrTerminal":
				return bearer(nt.APIKey, method, path, contentType, body)
			case "kiosk":
				return bearer(kt.APIKey, method, path, contentType, body)
			}
			t.Fatalf("%s %s: this test has no caller of kind %q; add one", method, path, who)
			return answer{}
		}
		tested := 0
		for _, rt := range httpapi.Routes() {
			method, pattern, who := rt[0], rt[1], rt[2]
			if method == http.MethodGet || method == http.MethodHead {
				continue
			}
			route := method + " " + pattern
			path := strings.ReplaceAll(pattern, "{id}", store.NewID())
			tested++
			t.Run(route, func(t *testing.T) {
				if noBody[route] {
					if r := send(method, path, who, "", nil); r.status == 415 || r.status == 400 {
						t.Errorf("without a body and a Content-Type: %d %s", r.status, r.raw)
					}
					return
				}
				refused := []string{"", "text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin1", "multipart/form-data; boundary=x"}
				accepted := []string{"application/json", "application/json; charset=utf-8", "Application/JSON; charset=UTF-8"}
				body := []byte(`{}`)
				if images[route] {
					refused = []string{"", "application/json", "text/plain", "image/gif"}
					accepted = []string{"image/jpeg", "image/png"}
					body = []byte("not really an image")
				}
				for _, ct := range refused {
					if r := send(method, path, who, ct, body); r.status != 415 || r.code() != "validation_failed" {
						t.Errorf("Content-Type %q: %d %s, want 415 validation_failed", ct, r.status, r.raw)
					}
				}
				for _, ct := range accepted {
					if r := send(method, path, who, ct, body); r.status == 415 {
						t.Errorf("Content-Type %q is refused: %s", ct, r.raw)
					}
				}
			})
		}
		if tested < 10 {
			t.Errorf("only %d state-changing routes tested", tested)
		}
	})
}

// A JSON endpoint sent no body at all answers that the body is missing
// (400), not that its type is wrong.
func TestAMissingBodyIsAValidationErrorNotAMediaTypeError(t *testing.T) {
	s := storetest.Open(t, "sqlite")
	a := newApp(t, s)
	c := a.client()
	c.want(c.do("POST", "/api/v1/session", "", nil), 400, "validation_failed")
}

func TestLocateRefusesPositionsThatAreNotNumbers(t *testing.T) {
	s := storetest.Open(t, "sqlite")
	a := newApp(t, s)
	c := a.client()
	for _, q := range []string{
		"lat=NaN&lon=NaN", "lat=nan&lon=116.4", "lat=39.9&lon=NaN", "lat=Inf&lon=116.4", "lat=39.9&lon=-Inf",
		"lat=+Inf&lon=+Inf", "lat=1e999&lon=116.4", "lat=39.9&lon=181", "lat=&lon=116.4",
	} {
		t.Run(q, func(t *testing.T) {
			c.want(c.json("GET", "/api/v1/regions/locate?"+q, nil), 400, "validation_failed")
		})
	}
	c.want(c.json("GET", "/api/v1/regions/locate?lat=39.9042&lon=116.4074", nil), 200, "")
}

// Staff and terminals verify at their own station only; an admin names
// any station (API.md, Staff and terminals).
func TestVerificationsAreRecordedAtTheVerifiersOwnStationOnly(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		a := newCredApp(t, s, time.Now())
		h := a.holder("站台")
		staff := a.staff(store.RoleStaff) // bound to BJP
		admin := a.staff(store.RoleAdmin)
		gate := a.terminal("Gate 1", false) // at BJP
		verify := func(who string, station string) answer {
			body := map[string]any{"code": h.code(a.clock.Now()), "operation": "ticket_check"}
			if station != "" {
				body["station_code"] = station
			}
			switch who {
			case "staff":
				return staff.json("POST", "/api/v1/verifications", body)
			case "admin":
				return admin.json("POST", "/api/v1/verifications", body)
			}
			return a.bearer("POST", "/api/v1/verifications", gate, body)
		}
		for _, tt := range []struct {
			name    string
			who     string
			station string
			status  int
			code    string
		}{
			{"staff naming another station are forbidden", "staff", "SHH", 403, "forbidden"},
			{"a terminal naming another station is forbidden", "terminal", "SHH", 403, "forbidden"},
			{"staff naming their own station verify", "staff", "BJP", 200, ""},
			{"staff naming no station verify at their own", "staff", "", 200, ""},
			{"a terminal naming its own station verifies", "terminal", "BJP", 200, ""},
			{"an admin names any station", "admin", "SHH", 200, ""},
			{"an admin naming no station picks one first", "admin", "", 400, "validation_failed"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				r := verify(tt.who, tt.station)
				if r.status != tt.status || (tt.code != "" && r.code() != tt.code) {
					t.Fatalf("got %d %s, want %d %s", r.status, r.raw, tt.status, tt.code)
				}
				a.clock.Advance(time.Minute) // a fresh code each time, not a replay
			})
		}
		// The refused verifications recorded nothing at SHH.
		entries, err := s.AuditEntries(context.Background(), 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range entries {
			if e.Action == "verification" && strings.Contains(e.Detail, `"station":"SHH"`) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d verifications recorded at SHH, want the admin's 1", n)
		}
	})
}

// A bundle dated later than this machine's clock plus the skew would be
// trusted for longer than its freshness limit: bundle fetch refuses it and
// keeps the file it has.
func TestBundleFetchRefusesABundleFromTheFuture(t *testing.T) {
	for _, tt := range []struct {
		name  string
		ahead time.Duration // of the server's clock
		saved bool
	}{
		{"a bundle issued two hours ahead is refused", 2 * time.Hour, false},
		// The server dates a bundle at the start of its 10-minute epoch
		// (the ETag's stability), so a clock 11 minutes ahead issues it at
		// least a minute after the terminal's now.
		{"a bundle issued a minute or more ahead is refused", 11 * time.Minute, false},
		{"a bundle issued ten seconds ahead is within the skew", 10 * time.Second, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := newCredApp(t, storetest.Open(t, "sqlite"), time.Now().Add(tt.ahead))
			key := a.terminal("Gate 1", true)
			file := filepath.Join(t.TempDir(), "bundle.json")
			exit, out, errs := run(t, "bundle", "fetch", "--server", a.srv.URL, "--api-key", key, "--out", file)
			_, statErr := os.Stat(file)
			if saved := exit == 0 && statErr == nil; saved != tt.saved {
				t.Fatalf("saved %v, want %v: exit %d, %q %q", saved, tt.saved, exit, out, errs)
			}
			if !tt.saved && !strings.Contains(errs, "later than this machine's clock") {
				t.Errorf("the refusal does not say why: %q", errs)
			}
		})
	}
}

// Every way a name enters — sign-up, a face check's subject, an
// application — refuses hidden characters with validation_failed, and
// takes a name in NFC, so the same name typed two ways is one name.
func TestNamesWithHiddenCharactersAreRefusedWhereverTheyEnter(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		a := newApp(t, s)
		c := a.client()
		c.signUp(newPerson("名字"))
		refused := func(t *testing.T, r answer) {
			t.Helper()
			if r.status != 400 || r.code() != "validation_failed" {
				t.Errorf("got %d %s, want 400 validation_failed", r.status, r.raw)
			}
		}
		for _, bad := range []string{"张\u202e三", "张\u200b三", "张\x00三", "a\u0301\u0302\u0303", "张\ue000"} {
			p := newPerson(bad)
			t.Run("sign-up "+strings.ToValidUTF8(bad, "?"), func(t *testing.T) {
				r := a.client().json("POST", "/api/v1/accounts", map[string]any{"username": "u" + store.NewID()[:12], "password": "correct horse battery", "name": p.name, "id_number": p.id.String()})
				refused(t, r)
			})
			t.Run("face check "+strings.ToValidUTF8(bad, "?"), func(t *testing.T) {
				r := c.json("POST", "/api/v1/face-checks", map[string]any{"purpose": "apply", "subject": map[string]any{"name": p.name, "id_number": p.id.String()}, "device_key": c.jwk(), "consent": true})
				refused(t, r)
			})
			t.Run("application "+strings.ToValidUTF8(bad, "?"), func(t *testing.T) {
				good := newPerson("好人")
				check := c.passedCheck(good)
				refused(t, c.apply(person{name: bad, id: good.id}, check))
			})
		}
		// A name checked decomposed and applied for composed is one name.
		nfd := newPerson("Jose\u0301")
		check, capture := c.faceCheck(nfd, facetest.SampleJPEG())
		c.want(capture, 200, "")
		r := c.apply(person{name: "José", id: nfd.id}, check)
		c.want(r, 201, "")
		if got := as[apiv1.Applied](r).Certificate.Holder.NameMasked; got != "J***" {
			t.Errorf("masked name %q, want J***", got)
		}
	})
}

// The probe of issue 12: thirty wrong passwords sent at once over HTTP
// all got 401. Now at most the limit (10) do; the rest are 429 with
// Retry-After, and every 401 says the same.
func TestParallelWrongLoginsOverHTTPStopAtTheLimit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		a := newApp(t, s)
		if _, err := a.accounts.CreateStaff(context.Background(), store.CLI, "clerk", "correct horse battery", store.RoleStaff, "BJP"); err != nil {
			t.Fatal(err)
		}
		answers := make(chan answer, 30)
		var wg sync.WaitGroup
		for range 30 {
			wg.Go(func() {
				c := a.client()
				answers <- c.json("POST", "/api/v1/session", map[string]any{"username": "clerk", "password": "wrong password!"})
			})
		}
		wg.Wait()
		close(answers)
		got := map[int]int{}
		details := map[any]bool{}
		for r := range answers {
			got[r.status]++
			switch r.status {
			case 401:
				details[r.problem["detail"]] = true
			case 429:
				if r.header.Get("Retry-After") == "" {
					t.Error("a 429 without Retry-After")
				}
			}
		}
		if got[401] > policy.Default().LoginFailuresPerAccountIP || got[401]+got[429] != 30 || len(details) != 1 {
			t.Errorf("30 parallel wrong logins: %v, %d different messages; want at most %d 401, the rest 429",
				got, len(details), policy.Default().LoginFailuresPerAccountIP)
		}
	})
}
