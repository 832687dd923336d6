package browsertest

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"tempid/internal/base45"
	"tempid/internal/credential"
)

// terminalScan types a code and Enter, as a keyboard-wedge scanner does,
// and waits for the verdict; it returns the verdict, the reason and the
// milliseconds from the scan to the verdict.
func terminalScan(tb *tab, code string) (verdict, reason string, ms float64) {
	tb.t.Helper()
	before := evalJS[string](tb, `document.getElementById('result')?.dataset.n ?? ''`)
	tb.fill("scan-input", code+"\n")
	tb.waitFor("the verdict", fmt.Sprintf(`(document.getElementById('result')?.dataset.n ?? '') !== %q`, before))
	ms, _ = strconv.ParseFloat(tb.attr("result", "data-ms"), 64)
	return tb.attr("result", "data-verdict"), tb.attr("result", "data-reason"), ms
}

// TestTheTerminalVerifiesOfflineAndUploadsItsScans pairs /terminal, fetches
// the bundle, cuts the network and verifies in the browser: a valid code, a
// certificate revoked before the bundle was fetched, a code 2.5 minutes
// old, a tampered code, the same code twice, a reload while offline, and
// the clock moved past the bundle's freshness. Back online, the queued
// scans reach the server and a code also used at another terminal shows
// in the admin list of after-the-fact replays.
func TestTheTerminalVerifiesOfflineAndUploadsItsScans(t *testing.T) {
	srv := sharedServer(t)
	good, revoked, elsewhere := issueByAPI(t, srv), issueByAPI(t, srv), issueByAPI(t, srv)
	admin := newAPIClient(t, srv)
	var session struct {
		CSRFToken string `json:"csrf_token"`
	}
	admin.must("POST", "/api/v1/session", map[string]any{"username": "admin", "password": srv.passwords["admin"]}, &session)
	admin.csrf = session.CSRFToken
	admin.must("POST", "/api/v1/admin/certificates/"+revoked.id+"/revoke", map[string]any{"reason": "lost phone"}, nil)
	// A paper slip, issued at the window before the terminal pairs.
	officer := newAPIClient(t, srv)
	officer.must("POST", "/api/v1/session", map[string]any{"username": "officer", "password": srv.passwords["officer"]}, &session)
	officer.csrf = session.CSRFToken
	var slip struct {
		Slip        string `json:"slip"`
		Certificate struct {
			ID string `json:"id"`
		} `json:"certificate"`
	}
	sp := newPerson()
	officer.must("POST", "/api/v1/slips", map[string]any{"name": sp.name, "id_number": sp.idNumber, "method": "questions"}, &slip)

	c := sharedBrowser(t)
	tb := newTab(t, c, srv, desk)
	tb.open("/terminal")
	tb.waitFor("the pairing screen", `document.getElementById('screen')?.dataset.testid === 'screen-pairing'`)
	// A key without the offline grant gets no bundle, so it does not pair.
	var onlineOnly struct {
		APIKey string `json:"api_key"`
	}
	admin.must("POST", "/api/v1/admin/terminals", map[string]any{"name": "Online only " + good.id[:6], "station_code": "BJP", "offline": false}, &onlineOnly)
	tb.fill("pair-key", onlineOnly.APIKey)
	tb.click("pair-submit")
	tb.waitFor("the refusal of a key without the offline grant", `!!document.querySelector('[data-testid=error]')`)
	evalJS[chromedp.Void](tb, `(() => { const i = document.getElementById('pair-key'); i.value = ''; i.dispatchEvent(new Event('input', { bubbles: true })); })()`)
	tb.fill("pair-key", srv.APIKey)
	tb.click("pair-submit")
	tb.waitFor("the scanner with a fresh bundle", `document.getElementById('bundle-age')?.dataset.stale === 'false'`)
	tb.waitFor("the web app manifest that makes the terminal installable",
		`fetch(document.querySelector('link[rel=manifest]').href).then((r) => r.ok && r.headers.get('Content-Type') === 'application/manifest+json' ? r.json() : null).then((m) => m?.start_url === '/terminal')`)
	tb.waitFor("the app shell cached by the service worker",
		`caches.open('tempid-terminal-v1').then((c) => c.keys()).then((k) => k.some((r) => r.url.endsWith('/terminal')) && k.length >= 3)`)

	tb.setOffline(true)
	tb.waitFor("the page to see it is offline", `navigator.onLine === false`)
	// Codes are made just before they are scanned: a code lives two
	// minutes at most, and typing one key by key is slow on a busy machine.
	var fresh, usedElsewhere string
	var times []float64
	for _, tt := range []struct {
		name            string
		code            func() string
		verdict, reason string
	}{
		{"a valid code is valid", func() string { fresh = good.code(t, time.Now()); return fresh }, "valid", ""},
		{"the same code again is flagged", func() string { return fresh }, "invalid", "replayed"},
		{"a certificate revoked before the bundle was fetched is revoked", func() string { return revoked.code(t, time.Now()) }, "invalid", "revoked"},
		{"a code 2.5 minutes old is code_expired", func() string { return good.code(t, time.Now().Add(-150*time.Second)) }, "invalid", "code_expired"},
		{"a tampered code is bad_signature", func() string {
			// A bit of the issuer's signature: the pass no longer verifies.
			code := good.code(t, time.Now())
			raw, err := base45.Decode(strings.TrimPrefix(code, credential.Prefix))
			if err != nil {
				t.Fatal(err)
			}
			raw[len(raw)-4-64-1] ^= 1
			return credential.Prefix + base45.Encode(raw)
		}, "invalid", "bad_signature"},
		{"garbage is malformed", func() string { return "HC1:NCFOXN%TS3DH3ZSUZK+.V0ETD%65NL-AH" }, "invalid", "malformed"},
		{"a code used online at another terminal is valid here, offline", func() string {
			// Its use here is an after-the-fact replay, found on upload.
			usedElsewhere = elsewhere.code(t, time.Now())
			if v := verifyOnline(t, srv, usedElsewhere, "entry"); v.Verdict != "valid" {
				t.Fatalf("online first use: %+v", v)
			}
			return usedElsewhere
		}, "valid", ""},
	} {
		verdict, reason, ms := terminalScan(tb, tt.code())
		if verdict != tt.verdict || reason != tt.reason {
			t.Errorf("%s: verdict %q reason %q, want %q %q", tt.name, verdict, reason, tt.verdict, tt.reason)
		}
		if tt.reason == "code_expired" {
			tb.screenshot("terminal-2-invalid")
		}
		times = append(times, ms)
	}
	t.Logf("scan-to-verdict in the browser (ms): %v", times)
	if kind := tb.attr("result", "data-kind"); kind != "code" {
		t.Errorf("a code's verdict shows kind %q, want code", kind)
	}
	// A slip is static: the same slip twice is valid twice, shown as paper.
	for i := 1; i <= 2; i++ {
		verdict, reason, _ := terminalScan(tb, slip.Slip)
		if verdict != "valid" || reason != "" || tb.attr("result", "data-kind") != "slip" || tb.attr("result-kind", "data-kind") != "slip" {
			t.Errorf("slip scan %d: verdict %q reason %q kind %q, want a valid slip", i, verdict, reason, tb.attr("result", "data-kind"))
		}
	}
	if got := resultText(tb, "result-name"); got == "" || got == sp.name {
		t.Errorf("the slip's holder shown is %q, want the masked name", got)
	}

	tb.open("/terminal")
	tb.waitFor("the terminal reloaded offline", `document.getElementById('screen')?.dataset.testid === 'screen-scanner'`)
	tb.click("op-ticket_check")
	if verdict, reason, _ := terminalScan(tb, good.code(t, time.Now())); verdict != "valid" {
		t.Errorf("after a reload offline: %q %q, want valid", verdict, reason)
	}
	tb.screenshot("terminal-1-valid")
	tb.setClock(24*time.Hour + time.Minute)
	if verdict, reason, _ := terminalScan(tb, good.code(t, time.Now().Add(24*time.Hour+time.Minute))); verdict != "invalid" || reason != "stale_bundle" {
		t.Errorf("past the freshness limit: %q %q, want stale_bundle", verdict, reason)
	}
	tb.setClock(0)

	tb.setOffline(false)
	tb.waitFor("the scan log uploaded", `document.getElementById('pending')?.dataset.count === '0'`)
	var list struct {
		Replays []struct {
			Certificate struct {
				ID string `json:"id"`
			} `json:"certificate"`
			StationCode string `json:"station_code"`
		} `json:"replays"`
	}
	admin.must("GET", "/api/v1/admin/replays", nil, &list)
	found := false
	for _, r := range list.Replays {
		found = found || (r.Certificate.ID == elsewhere.id && strings.EqualFold(r.StationCode, "BJP"))
	}
	for _, r := range list.Replays {
		if r.Certificate.ID == slip.Certificate.ID {
			t.Errorf("a slip scanned twice is listed as a replay: %+v", r)
		}
	}
	if !found {
		t.Errorf("the code used at two terminals is not in the admin list of after-the-fact replays: %+v", list.Replays)
	}
}
