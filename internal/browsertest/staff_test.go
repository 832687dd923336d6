package browsertest

import (
	"bytes"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"tempid/internal/face/facetest"
	"tempid/internal/idnumber"
	"tempid/internal/qr"
)

// consoleTab opens a desk-sized tab in c and logs into the console at path
// ("/staff" or "/admin") as the demo user.
func consoleTab(t *testing.T, c *chromeProc, path, user string) *tab {
	t.Helper()
	srv := sharedServer(t)
	tb := newTab(t, c, srv, desk)
	tb.open(path)
	tb.waitFor("the console's login form", `!!document.getElementById('login-username')`)
	tb.axe(path + " login")
	tb.fill("login-username", user)
	tb.fill("login-password", srv.passwords[user])
	tb.click("login-submit")
	return tb
}

// staffTab logs into the staff console of the shared browser.
func staffTab(t *testing.T) *tab {
	t.Helper()
	tb := consoleTab(t, sharedBrowser(t), "/staff", "staff")
	tb.waitFor("the scanner input", `!!document.getElementById('scan-input')`)
	tb.axe("staff console")
	return tb
}

// wedgeScan types the code into the scanner input and presses Enter, as a
// keyboard-wedge scanner does, and waits for a new verdict.
func wedgeScan(tb *tab, code string) {
	tb.t.Helper()
	before := evalJS[int](tb, `document.querySelectorAll('[data-testid=scan-history-item]').length`)
	tb.fill("scan-input", code+"\n")
	tb.waitFor("the verdict", fmt.Sprintf(`document.querySelectorAll('[data-testid=scan-history-item]').length > %d && ['valid', 'invalid', 'error'].includes(document.getElementById('result')?.dataset.verdict)`, before))
}

// resultText returns the trimmed text of the result card's element id.
func resultText(tb *tab, id string) string {
	tb.t.Helper()
	return evalJS[string](tb, fmt.Sprintf(`document.getElementById(%q)?.textContent.trim() ?? ''`, id))
}

func TestStaffScanCodesWithAWedgeScannerAndSeeTheVerdictAndReason(t *testing.T) {
	cert := issueByAPI(t, sharedServer(t))
	tb := staffTab(t)
	id := idnumber.Number(cert.person.idNumber)

	// Entry: masked identity only (R6); the counter operations and the
	// ID check show the full one (TestTheClerkSeesTheFullIdentity…).
	tb.click("op-entry")
	tb.waitFor("the operation chosen", `document.getElementById('operation')?.dataset.value === 'entry'`)
	wedgeScan(tb, cert.code(t, time.Now()))
	if got := tb.attr("result", "data-verdict"); got != "valid" {
		t.Fatalf("verdict of a fresh code = %q (reason %q), want valid", got, tb.attr("result", "data-reason"))
	}
	if got, want := resultText(tb, "result-name"), idnumber.MaskName(cert.person.name); got != want {
		t.Errorf("holder shown = %q, want %q", got, want)
	}
	if got, want := resultText(tb, "result-id-masked"), id.Masked(); got != want {
		t.Errorf("masked ID shown = %q, want %q", got, want)
	}
	if got := resultText(tb, "result-id-full"); got != "" {
		t.Errorf("entry shows the full ID number %q; only counter operations and the ID check may", got)
	}
	tb.screenshot("staff-1-valid")

	// A counter operation shows the full ID number to match the ticket.
	tb.click("op-ticket_purchase")
	tb.waitFor("the operation chosen", `document.getElementById('operation')?.dataset.value === 'ticket_purchase'`)
	wedgeScan(tb, cert.code(t, time.Now()))
	if got := tb.attr("result", "data-verdict"); got != "valid" {
		t.Fatalf("verdict for ticket purchase = %q (reason %q), want valid", got, tb.attr("result", "data-reason"))
	}
	if got, want := resultText(tb, "result-id-full"), id.String(); got != want {
		t.Errorf("full ID shown for ticket purchase = %q, want %q", got, want)
	}

	// A code from three minutes ago: a screenshot of a code, say.
	tb.click("op-id_check")
	wedgeScan(tb, cert.code(t, time.Now().Add(-3*time.Minute)))
	if got, want := tb.attr("result", "data-verdict"), "invalid"; got != want {
		t.Fatalf("verdict of an old code = %q, want %q", got, want)
	}
	if got, want := tb.attr("result", "data-reason"), "code_expired"; got != want {
		t.Errorf("reason of an old code = %q, want %q", got, want)
	}
	if resultText(tb, "result-reason") == "" {
		t.Error("the result card gives no reason for an invalid code")
	}
	tb.screenshot("staff-2-invalid")

	// Something that is not a tempid code at all.
	wedgeScan(tb, "TID1:NOT A CODE")
	if got, want := tb.attr("result", "data-reason"), "malformed"; got != want {
		t.Errorf("reason of a malformed code = %q, want %q", got, want)
	}
	if n := evalJS[int](tb, `document.querySelectorAll('[data-testid=scan-history-item]').length`); n != 4 {
		t.Errorf("scan history has %d entries, want 4", n)
	}
}

func TestStaffScanACodeWithTheCamera(t *testing.T) {
	srv := sharedServer(t)
	cert := issueByAPI(t, srv)
	dir := t.TempDir()

	// The fake camera films the QR symbol of a real, current code. The
	// browser is started for this video only: the fake camera's file is a
	// command-line flag, so it cannot be the shared browser.
	var symbol bytes.Buffer
	if err := qr.Render(&symbol, cert.code(t, time.Now()), "png", 6); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&symbol)
	if err != nil {
		t.Fatal(err)
	}
	video := filepath.Join(dir, "qr.y4m")
	if err := os.WriteFile(video, facetest.Y4M(img, 5), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := startChrome(filepath.Join(dir, "profile"), video)
	if err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	t.Cleanup(c.close)

	tb := consoleTab(t, c, "/staff", "staff")
	tb.waitFor("the scanner input", `!!document.getElementById('scan-input')`)
	tb.click("camera-toggle")
	tb.waitFor("a verdict from the camera", `['valid', 'invalid', 'error'].includes(document.getElementById('result')?.dataset.verdict)`)
	if got := tb.attr("result", "data-verdict"); got != "valid" {
		t.Fatalf("verdict of the filmed code = %q (reason %q), want valid", got, tb.attr("result", "data-reason"))
	}
	if got, want := resultText(tb, "result-id-masked"), idnumber.Number(cert.person.idNumber).Masked(); got != want {
		t.Errorf("masked ID shown = %q, want %q", got, want)
	}
	// The camera sees the same code many times a second; it is verified once.
	tb.do("let the camera keep scanning", chromedp.Sleep(time.Second))
	if n := evalJS[int](tb, `document.querySelectorAll('[data-testid=scan-history-item]').length`); n != 1 {
		t.Errorf("one code in front of the camera made %d verifications, want 1", n)
	}
}
