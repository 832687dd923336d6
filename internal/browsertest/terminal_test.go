package browsertest

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"tempid/internal/base45"
	"tempid/internal/credential"
	"tempid/internal/face/facetest"
	"tempid/internal/qr"
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
	tb.axe("terminal pairing refused")
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

// cameraBrowser starts a browser of its own whose fake camera films img:
// the camera's file is a command-line flag, so it cannot be the shared
// browser.
func cameraBrowser(t *testing.T, img image.Image) *chromeProc {
	t.Helper()
	dir := t.TempDir()
	video := filepath.Join(dir, "camera.y4m")
	if err := os.WriteFile(video, facetest.Y4M(img, 5), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := startChrome(filepath.Join(dir, "profile"), video)
	if err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	t.Cleanup(c.close)
	return c
}

// qrImage draws text as a QR symbol with the server's own encoder.
func qrImage(t *testing.T, text string) image.Image {
	t.Helper()
	var symbol bytes.Buffer
	if err := qr.Render(&symbol, text, "png", 6); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&symbol)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// fakeSpeaker replaces the page's AudioContext with one that records the
// frequency of every tone the terminal plays in window.__tones.
const fakeSpeaker = `(() => {
	window.__tones = [];
	window.AudioContext = class {
		constructor() { this.currentTime = 0; this.state = 'running'; this.destination = {}; }
		createOscillator() {
			const tone = {};
			return { type: '', frequency: { set value(v) { tone.hz = v; } }, connect(g) { return g; }, start() { window.__tones.push(tone.hz); }, stop() {} };
		}
		createGain() { return { gain: { setValueAtTime() {}, linearRampToValueAtTime() {} }, connect(d) { return d; } }; }
	};
})()`

// pairTerminalByTyping pairs /terminal with the key typed in.
func pairTerminalByTyping(tb *tab, key string) {
	tb.t.Helper()
	tb.open("/terminal")
	tb.waitFor("the pairing screen", `document.getElementById('screen')?.dataset.testid === 'screen-pairing'`)
	tb.fill("pair-key", key)
	tb.click("pair-submit")
	tb.waitFor("the scanner with a fresh bundle", `document.getElementById('bundle-age')?.dataset.stale === 'false'`)
}

// TestTheTerminalScansACodeWithTheCameraAndSoundsTheVerdict shows a real,
// current code to the terminal's (fake) camera: it is verified once, by
// the same path as a wedge scan, and each verdict plays its tone — high
// for valid, a low double tone for invalid — until the sound is switched
// off, which the terminal remembers after a reload.
func TestTheTerminalScansACodeWithTheCameraAndSoundsTheVerdict(t *testing.T) {
	srv := sharedServer(t)
	cert := issueByAPI(t, srv)
	c := cameraBrowser(t, qrImage(t, cert.code(t, time.Now())))
	tb := newTab(t, c, srv, desk)
	pairTerminalByTyping(tb, srv.APIKey)
	evalJS[chromedp.Void](tb, fakeSpeaker)
	if got := tb.attr("sound-toggle", "aria-pressed"); got != "true" {
		t.Errorf("the sound is %q at first, want on (true)", got)
	}

	tb.click("camera-toggle")
	tb.waitFor("a verdict from the camera", `['valid', 'invalid'].includes(document.getElementById('result')?.dataset.verdict)`)
	if verdict, reason := tb.attr("result", "data-verdict"), tb.attr("result", "data-reason"); verdict != "valid" {
		t.Fatalf("verdict of the filmed code = %q (reason %q), want valid", verdict, reason)
	}
	t.Logf("camera scan-to-verdict in the browser: %s ms", tb.attr("result", "data-ms"))
	// The camera sees the same code many times a second; it is verified once.
	tb.do("let the camera keep scanning", chromedp.Sleep(time.Second))
	if n := tb.attr("result", "data-n"); n != "1" {
		t.Errorf("one code in front of the camera made %s verdicts, want 1", n)
	}
	if got := evalJS[[]float64](tb, `window.__tones`); fmt.Sprint(got) != "[1760]" {
		t.Errorf("tones after a valid verdict: %v, want one high tone [1760]", got)
	}
	tb.click("camera-toggle")
	tb.waitFor("the camera stopped", `!document.getElementById('camera-video')`)

	if verdict, reason, _ := terminalScan(tb, "https://example.com/not-a-pass"); verdict != "invalid" || reason != "malformed" {
		t.Errorf("a URL: %q %q, want invalid malformed", verdict, reason)
	}
	if got := evalJS[[]float64](tb, `window.__tones`); fmt.Sprint(got) != "[1760 330 330]" {
		t.Errorf("tones after an invalid verdict: %v, want a low double tone after the high one", got)
	}

	tb.click("sound-toggle")
	tb.open("/terminal")
	tb.waitFor("the scanner after a reload", `document.getElementById('screen')?.dataset.testid === 'screen-scanner'`)
	evalJS[chromedp.Void](tb, fakeSpeaker)
	if got := tb.attr("sound-toggle", "aria-pressed"); got != "false" {
		t.Errorf("the sound switched off is %q after a reload, want off (false)", got)
	}
	if verdict, _, _ := terminalScan(tb, "garbage"); verdict != "invalid" {
		t.Errorf("garbage: %q, want invalid", verdict)
	}
	if got := evalJS[[]float64](tb, `window.__tones`); len(got) != 0 {
		t.Errorf("tones with the sound off: %v, want none", got)
	}
}

// TestAnOfflineTerminalIsPairedWithTheQRTheAdminConsoleShowsOnce creates
// a terminal with the offline grant in the admin console, films the
// pairing QR the console draws with the new terminal's camera, and sees
// the terminal paired: the key went from screen to screen through no URL,
// no field and no log line. A terminal without the offline grant gets no
// pairing QR, since it could not pair.
func TestAnOfflineTerminalIsPairedWithTheQRTheAdminConsoleShowsOnce(t *testing.T) {
	srv := sharedServer(t)
	admin := consoleTab(t, sharedBrowser(t), "/admin", "admin")
	admin.waitFor("the dashboard", `!!document.getElementById('tab-terminals')`)
	admin.click("tab-terminals")
	admin.waitFor("the terminal form", `!!document.getElementById('terminal-name')`)
	name := fmt.Sprintf("Handheld %d", time.Now().UnixNano())
	create := func(name string, offline bool) string {
		t.Helper()
		before := evalJS[string](admin, `document.getElementById('terminal-api-key')?.textContent ?? ''`)
		admin.fill("terminal-name", name)
		admin.fill("terminal-station", "BJP")
		if offline {
			admin.click("terminal-offline")
		}
		admin.click("terminal-create")
		admin.waitFor("the new key shown once", fmt.Sprintf(`(document.getElementById('terminal-api-key')?.textContent ?? '') !== %q`, before))
		return evalJS[string](admin, `document.getElementById('terminal-api-key').textContent`)
	}

	create(name+" online", false)
	if evalJS[bool](admin, `!!document.getElementById('terminal-pair-qr')`) {
		t.Error("a terminal without the offline grant got a pairing QR")
	}

	key := create(name, true)
	admin.waitFor("the pairing QR drawn", `!!document.getElementById('terminal-pair-qr')?.width`)
	admin.screenshot("admin-4-terminal-pairing-qr")
	ctx, cancel := context.WithTimeout(admin.ctx, actionTimeout)
	defer cancel()
	shot, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.ID("terminal-pair-qr")))
	if err != nil {
		t.Fatalf("screenshot of the pairing QR: %v", err)
	}
	if got, err := decodeQR(shot); err != nil || got != key {
		t.Fatalf("the pairing QR reads %q (%v), want the key shown beside it", got, err)
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatal(err)
	}

	tb := newTab(t, cameraBrowser(t, img), srv, desk)
	tb.open("/terminal")
	tb.waitFor("the pairing screen", `document.getElementById('screen')?.dataset.testid === 'screen-pairing'`)
	tb.click("pair-camera-toggle")
	tb.waitFor("the terminal paired from the camera, with a fresh bundle", `document.getElementById('bundle-age')?.dataset.stale === 'false'`)
	if u := evalJS[string](tb, `location.href`); strings.Contains(u, key) {
		t.Errorf("the key is in the terminal's URL %q", u)
	}
	if strings.Contains(srv.log.tail(1<<22), key) {
		t.Error("the key is in the server's log")
	}
	if verdict, reason, _ := terminalScan(tb, "garbage"); verdict != "invalid" || reason != "malformed" {
		t.Errorf("the paired terminal's first scan: %q %q, want invalid malformed", verdict, reason)
	}
}
