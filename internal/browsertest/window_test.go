package browsertest

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// officerTab logs the demo officer into the staff console and opens the
// manual window.
func officerTab(t *testing.T) *tab {
	t.Helper()
	tb := consoleTab(t, sharedBrowser(t), "/staff", "officer")
	tb.waitFor("the officer's mode switch", `!!document.getElementById('mode-window')`)
	tb.click("mode-window")
	tb.waitFor("the manual window", `!!document.getElementById('window-name')`)
	return tb
}

// TestTheOfficersSlipPrintsAndItsQRVerifies is the officer's flow to the
// print page, and the acceptance round trip: the print page printed to
// PDF by Chromium, the PDF rendered to an image, its QR decoded with the
// Go decoder the other tests use, and the slip verified: valid.
func TestTheOfficersSlipPrintsAndItsQRVerifies(t *testing.T) {
	p := newPerson()
	tb := officerTab(t)
	tb.fill("window-name", p.name)
	tb.fill("window-id", p.idNumber)
	tb.click("window-lookup")
	tb.waitFor("the registry's answer", `document.querySelector('[data-testid=window-look]')?.dataset.confirmed === 'true'`)
	tb.click("method-questions")
	tb.click("window-issue")
	tb.waitFor("the print page", `!!document.querySelector('[data-testid=slip-qr]')?.dataset.slip`)
	slip := tb.attr("slip-qr", "data-slip")
	if !strings.HasPrefix(slip, "TIDS1:") {
		t.Fatalf("the print page's slip is %q", slip)
	}
	for id, want := range map[string]string{"slip-name": p.name, "slip-id": p.idNumber, "slip-station": "BJP"} {
		if got := evalJS[string](tb, `document.querySelector('[data-testid=`+id+`]').textContent.trim()`); got != want {
			t.Errorf("%s on the slip is %q, want %q", id, got, want)
		}
	}
	if text := evalJS[string](tb, `document.getElementById('slip').textContent`); !strings.Contains(text, "仅限办理铁路业务使用") || !strings.Contains(text, "北京时间") {
		t.Errorf("the slip lacks the railway-use line or the CST times: %q", text)
	}
	tb.screenshot("window-print")

	ctx, cancel := context.WithTimeout(tb.ctx, actionTimeout)
	defer cancel()
	var pdf []byte
	yes := true
	_, err := chromedp.Run(ctx, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		// A6, as the print stylesheet asks (@page size A6).
		res, err := chromedp.Call(ctx, page.PrintToPDF, page.PrintToPDFParams{PreferCSSPageSize: &yes, PrintBackground: &yes})
		pdf = res.Data
		return err
	}))
	if err != nil || !bytes.HasPrefix(pdf, []byte("%PDF")) {
		t.Fatalf("printToPDF: %v (%d bytes)", err, len(pdf))
	}
	pdftoppm, err := exec.LookPath("pdftoppm")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("pdftoppm (poppler-utils) is needed to render the printed slip")
		}
		t.Skip("pdftoppm (poppler-utils) is not installed: the printed PDF is not rendered")
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "slip.pdf")
	if err := os.WriteFile(in, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	// render draws the page at dpi, as a scanner's camera sees it at one
	// distance; the QR is read at two, since the decoder now and then
	// misreads a symbol's format at one size that it reads at another.
	render := func(dpi string) []byte {
		t.Helper()
		if out, err := exec.Command(pdftoppm, "-png", "-r", dpi, "-f", "1", "-l", "1", "-singlefile", in, filepath.Join(dir, "slip-"+dpi)).CombinedOutput(); err != nil {
			t.Fatalf("pdftoppm: %v %s", err, out)
		}
		img, err := os.ReadFile(filepath.Join(dir, "slip-"+dpi+".png"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := png.Decode(bytes.NewReader(img)); err != nil {
			t.Fatalf("the rendered page is not a PNG: %v", err)
		}
		return img
	}
	img := render("200")
	if _, err := saveScreenshot("window-printed-slip", img); err != nil {
		t.Fatal(err)
	}
	decoded, err := decodeQR(img)
	if err != nil {
		decoded, err = decodeQR(render("100"))
	}
	if err != nil {
		t.Fatalf("decoding the printed QR at 200 and 100 dpi: %v", err)
	}
	if decoded != slip {
		t.Fatalf("the printed QR says %q, the page %q", decoded, slip)
	}
	if v := verifyOffline(trustBundle(t, sharedServer(t)), decoded, time.Now()); !v.Valid {
		t.Errorf("the printed slip verifies %s, want valid", v.Reason)
	}
}

// TestTheStaffConsoleVerifiesASlip: a slip issued at the window, scanned
// at a staff console like a code, is valid and shown as paper.
func TestTheStaffConsoleVerifiesASlip(t *testing.T) {
	srv := sharedServer(t)
	p := newPerson()
	c := newAPIClient(t, srv)
	var session struct {
		CSRFToken string `json:"csrf_token"`
	}
	c.must("POST", "/api/v1/session", map[string]any{"username": "officer", "password": srv.passwords["officer"]}, &session)
	c.csrf = session.CSRFToken
	var out struct {
		Slip string `json:"slip"`
	}
	c.must("POST", "/api/v1/slips", map[string]any{"name": p.name, "id_number": p.idNumber, "method": "questions"}, &out)
	tb := staffTab(t)
	tb.click("op-id_check")
	wedgeScan(tb, out.Slip)
	if v := tb.attr("result", "data-verdict"); v != "valid" {
		t.Fatalf("the slip's verdict is %q (%s)", v, resultText(tb, "result-reason"))
	}
	if evalJS[bool](tb, `!document.querySelector('[data-testid=result-slip]')`) {
		t.Error("the verdict does not say it is a paper slip")
	}
	// At id_check the clerk sees the printed identity in full.
	if got := resultText(tb, "result-name"); got != p.name {
		t.Errorf("the holder shown is %q, want the full name %q", got, p.name)
	}
	if got := resultText(tb, "result-id-full"); got != p.idNumber {
		t.Errorf("the full ID shown is %q, want %q", got, p.idNumber)
	}
	tb.screenshot("staff-slip")
}

// TestTheKioskPrintsASlipAndForgetsThePerson: from the first screen through
// the entry, the consent and the face check to the printed slip, and back
// to the first screen with nothing of the person left in browser storage.
func TestTheKioskPrintsASlipAndForgetsThePerson(t *testing.T) {
	srv := sharedServer(t)
	if srv.KioskKey == "" {
		t.Fatal("the demo server printed no kiosk key")
	}
	p := newPerson()
	tb := newTab(t, sharedBrowser(t), srv, desk)
	tb.open("/kiosk")
	tb.waitFor("the pairing form", `!!document.getElementById('kiosk-key')`)
	tb.fill("kiosk-key", srv.KioskKey)
	tb.click("kiosk-pair-btn")
	tb.waitFor("the first screen", `document.querySelector('[data-testid=kiosk]')?.dataset.screen === 'welcome'`)
	tb.screenshot("kiosk-start")
	tb.click("kiosk-start")
	tb.fill("kiosk-name", p.name)
	for _, ch := range p.idNumber {
		tb.clickCSS(`.k-key[data-key="` + string(ch) + `"]`)
	}
	tb.click("kiosk-next")
	tb.waitFor("the consent screen", `document.querySelector('[data-testid=kiosk]')?.dataset.screen === 'consent'`)
	tb.click("kiosk-agree")
	tb.waitFor("the camera", `document.querySelector('[data-testid=kiosk-face]')?.dataset.phase === 'ready'`)
	tb.click("kiosk-capture")
	tb.waitFor("the printed slip", `!!document.querySelector('[data-testid=slip-qr]')?.dataset.slip`)
	slip := tb.attr("slip-qr", "data-slip")
	if got := evalJS[string](tb, `document.querySelector('[data-testid=slip-id]').textContent.trim()`); got != p.idNumber {
		t.Errorf("the slip shows ID %q, want %q", got, p.idNumber)
	}
	tb.screenshot("kiosk-slip")
	if v := verifyOffline(trustBundle(t, srv), slip, time.Now()); !v.Valid {
		t.Errorf("the kiosk's slip verifies %s, want valid", v.Reason)
	}
	tb.click("slip-done")
	tb.waitFor("the first screen again", `document.querySelector('[data-testid=kiosk]')?.dataset.screen === 'welcome'`)
	stored := evalJS[string](tb, `JSON.stringify({local: Object.keys(localStorage), session: Object.keys(sessionStorage), text: document.body.innerText})`)
	if !strings.Contains(stored, `"local":["tempid.kiosk.key"]`) || !strings.Contains(stored, `"session":[]`) {
		t.Errorf("browser storage after the person: %s, want only the pairing key", stored)
	}
	if strings.Contains(stored, p.idNumber) || strings.Contains(stored, p.name) {
		t.Errorf("the first screen still shows the person: %s", stored)
	}
}

// TestTheKioskReturnsToTheStartWhenIdle: a person who walks away half way
// leaves nothing on the screen; the kiosk returns to its first screen (60 s
// in service, shortened here through the page's test hook).
func TestTheKioskReturnsToTheStartWhenIdle(t *testing.T) {
	srv := sharedServer(t)
	p := newPerson()
	tb := newTab(t, sharedBrowser(t), srv, desk)
	tb.open("/kiosk")
	tb.waitFor("the pairing form", `!!document.getElementById('kiosk-key')`)
	tb.fill("kiosk-key", srv.KioskKey)
	tb.click("kiosk-pair-btn")
	tb.waitFor("the first screen", `document.querySelector('[data-testid=kiosk]')?.dataset.screen === 'welcome'`)
	evalJS[chromedp.Void](tb, `window.__tempidKioskIdleMs = 1500`)
	tb.click("kiosk-start")
	tb.fill("kiosk-name", p.name)
	tb.waitFor("the first screen after the idle time", `document.querySelector('[data-testid=kiosk]')?.dataset.screen === 'welcome'`)
	if text := evalJS[string](tb, `document.body.innerText + JSON.stringify(Object.keys(sessionStorage))`); strings.Contains(text, p.name) {
		t.Errorf("the name is still on the screen after the reset: %q", text)
	}
}
