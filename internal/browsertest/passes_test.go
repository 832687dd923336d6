package browsertest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// replaceText empties the input with this id and types text, as a person
// selecting what is there and typing over it.
func (tb *tab) replaceText(id, text string) {
	tb.t.Helper()
	evalJS[chromedp.Void](tb, fmt.Sprintf(`(() => { const e = document.getElementById(%q); e.value = ''; e.dispatchEvent(new Event('input', { bubbles: true })); })()`, id))
	tb.fill(id, text)
}

// wantBack checks the screen's back button and its spoken name.
func wantBack(t *testing.T, tb *tab, screen string) {
	t.Helper()
	if got := tb.attr("nav-back", "aria-label"); got != "返回" {
		t.Errorf("%s screen: back button aria-label %q, want 返回", screen, got)
	}
}

// TestTwoCertificatesOnOnePhoneAndRefusalsBeforeConsent: a passenger
// applies for themself and for a companion on one phone; both passes are
// kept and listed (本人 / 同行人), each draws its code. A person with an
// active certificate is told so on the home screen and the form, before
// any consent screen, with a way to the certificate.
func TestTwoCertificatesOnOnePhoneAndRefusalsBeforeConsent(t *testing.T) {
	tb := passengerTab(t)
	me := newPerson()
	signUpAndApply(t, tb, me, false)
	wantBack(t, tb, "cert")
	if tb.attr("cert-logout", "id") == "" {
		t.Error("no logout on the certificate screen")
	}
	own := tb.attr("cert-screen", "data-id")

	tb.click("nav-back")
	tb.waitScreen("home")
	tb.waitFor("the early refusal on the home screen", `document.getElementById('home-refusal')?.dataset.code === 'active_certificate_exists'`)
	tb.axe("home with an active certificate")
	if txt := evalJS[string](tb, `document.getElementById('home-refusal').textContent`); !strings.Contains(txt, "您已有有效证明，有效期至") || !strings.Contains(txt, "起可重新申请") {
		t.Errorf("home refusal reads %q", txt)
	}

	// The form pre-filled with the passenger's own identity says the same
	// and goes nowhere near the consent screen.
	tb.click("entry-tempid")
	tb.waitScreen("apply")
	wantBack(t, tb, "apply")
	tb.waitFor("the early refusal on the form", `document.getElementById('apply-refusal')?.dataset.code === 'active_certificate_exists'`)
	tb.axe("apply form with an active certificate")
	tb.click("apply-submit")
	if got := evalJS[string](tb, `document.querySelector('main#screen').dataset.testid`); got != "screen-apply" {
		t.Fatalf("submitting a refused application went to %s", got)
	}
	// Its button leads to the certificate.
	tb.click("apply-refusal-show")
	tb.waitScreen("cert")
	tb.waitFor("the own certificate's code", fmt.Sprintf(`document.getElementById('cert-screen')?.dataset.id === %q && document.getElementById('cert-screen').dataset.state === 'code'`, own))

	// A companion, never applied for: the quota pre-check's 404 is no
	// refusal, and the application goes through.
	friend := newPerson()
	tb.click("nav-back")
	tb.waitScreen("home")
	tb.click("entry-tempid")
	tb.waitScreen("apply")
	tb.replaceText("apply-name", friend.name)
	tb.replaceText("apply-id-number", friend.idNumber)
	tb.waitFor("the refusal gone for the companion", `!document.getElementById('apply-refusal')`)
	tb.waitFor("the city located", fmt.Sprintf(`document.getElementById('apply-city')?.dataset.code === %q`, guangzhouCode))
	tb.click("apply-submit")
	tb.waitScreen("consent")
	wantBack(t, tb, "consent")
	tb.click("consent-check")
	tb.waitFor("the agree button enabled", `!document.getElementById('consent-agree').disabled`)
	tb.click("consent-agree")
	faceCheck(t, tb, false)
	companion := tb.attr("cert-screen", "data-id")
	if companion == own || companion == "" {
		t.Fatalf("the companion's certificate is %q, the passenger's %q", companion, own)
	}

	// Both are kept and listed, each with its code.
	tb.click("nav-home")
	tb.waitScreen("home")
	tb.waitFor("two passes listed", `document.querySelectorAll('[data-testid=home-show]').length === 2`)
	tb.screenshot("passenger-7-two-certificates")
	for _, c := range []struct{ id, own, tag string }{{own, "true", "本人"}, {companion, "false", "同行人"}} {
		sel := fmt.Sprintf(`[data-testid=home-show][data-id=%q]`, c.id)
		if got := evalJS[string](tb, `document.querySelector('`+sel+`')?.dataset.own ?? ''`); got != c.own {
			t.Errorf("certificate %s listed with own=%q, want %s", c.id, got, c.own)
		}
		if txt := evalJS[string](tb, `document.querySelector('`+sel+`')?.textContent ?? ''`); !strings.Contains(txt, c.tag) || strings.Contains(txt, friend.idNumber) || strings.Contains(txt, me.idNumber) {
			t.Errorf("certificate %s listed as %q, want the tag %s and masked numbers", c.id, txt, c.tag)
		}
		tb.clickCSS(sel)
		tb.waitScreen("cert")
		tb.waitFor("the code of "+c.tag, fmt.Sprintf(`document.getElementById('cert-screen')?.dataset.id === %q && document.getElementById('cert-screen').dataset.state === 'code' && !!document.getElementById('cert-code')?.dataset.code`, c.id))
		tb.click("nav-back")
		tb.waitScreen("home")
	}

	// The companion, applied for now, is refused on the form at once.
	tb.click("entry-tempid")
	tb.waitScreen("apply")
	tb.replaceText("apply-name", friend.name)
	tb.replaceText("apply-id-number", friend.idNumber)
	tb.waitFor("the companion's early refusal", `document.getElementById('apply-refusal')?.dataset.code === 'active_certificate_exists'`)
	if txt := evalJS[string](tb, `document.getElementById('apply-refusal').textContent`); !strings.Contains(txt, "已有有效证明") {
		t.Errorf("companion refusal reads %q", txt)
	}
}

// adminByAPI returns a client logged in as the demo administrator.
func adminByAPI(t *testing.T, srv *server) *apiClient {
	t.Helper()
	admin := newAPIClient(t, srv)
	var session struct {
		CSRFToken string `json:"csrf_token"`
	}
	admin.must("POST", "/api/v1/session", map[string]any{"username": "admin", "password": srv.passwords["admin"]}, &session)
	admin.csrf = session.CSRFToken
	return admin
}

// TestASpentQuotaIsToldBeforeConsent: a passenger whose three applications
// this month are used (each revoked, so that R5 stands aside) sees the
// reset date on the home screen and on the form, which then goes nowhere
// near the consent screen.
func TestASpentQuotaIsToldBeforeConsent(t *testing.T) {
	tb := passengerTab(t)
	p := newPerson()
	c := signUpByAPI(t, tb.srv, p)
	admin := adminByAPI(t, tb.srv)
	for range 3 {
		cert := applyByAPI(t, c, p)
		admin.must("POST", "/api/v1/admin/certificates/"+cert.id+"/revoke", map[string]any{"reason": "wrong_details"}, nil)
	}
	tb.open("/")
	tb.waitScreen("login")
	tb.fill("login-username", p.username)
	tb.fill("login-password", p.password)
	tb.click("login-submit")
	tb.waitScreen("home")
	tb.waitFor("the spent quota on the home screen", `document.getElementById('home-refusal')?.dataset.code === 'quota_exhausted'`)
	tb.axe("home with the quota spent")
	if txt := evalJS[string](tb, `document.getElementById('home-refusal').textContent`); !strings.Contains(txt, "本月申请次数已用完") || !strings.Contains(txt, "重置") {
		t.Errorf("home refusal reads %q", txt)
	}
	tb.click("entry-tempid")
	tb.waitScreen("apply")
	tb.waitFor("the spent quota on the form", `document.getElementById('apply-refusal')?.dataset.code === 'quota_exhausted'`)
	tb.axe("apply form with the quota spent")
	tb.waitFor("the city located", fmt.Sprintf(`document.getElementById('apply-city')?.dataset.code === %q`, guangzhouCode))
	tb.click("apply-submit")
	if got := evalJS[string](tb, `document.querySelector('main#screen').dataset.testid`); got != "screen-apply" {
		t.Fatalf("submitting a refused application went to %s", got)
	}
}

// TestTheCodeGoesFullScreenForAScanner: a tap on the code shows it over
// the whole width with its quiet zone, and it closes again. The module
// size is measured at 390 and 320 CSS px wide, normal and full screen.
func TestTheCodeGoesFullScreenForAScanner(t *testing.T) {
	tb := passengerTab(t)
	signUpAndApply(t, tb, newPerson(), false)
	// module is the CSS width of one module of the canvas with this id.
	module := func(id string) (float64, int) {
		m := evalJS[[]float64](tb, fmt.Sprintf(`(() => { const c = document.getElementById(%q); return [c.getBoundingClientRect().width, Number(c.dataset.modules)]; })()`, id))
		return m[0] / m[1], int(m[1])
	}
	// The screen wake lock is watched: taken when the view opens, released
	// when it closes.
	evalJS[chromedp.Void](tb, `(() => {
	  window.__locks = { taken: 0, released: 0 };
	  Object.defineProperty(navigator, 'wakeLock', { configurable: true, value: { request: async (type) => {
	    if (type !== 'screen') throw new Error('wake lock type ' + type);
	    window.__locks.taken++;
	    return { release: async () => { window.__locks.released++; } };
	  } } });
	})()`)
	for i, width := range []int64{390, 320} {
		tb.do(fmt.Sprintf("viewport %d px", width), chromedp.EmulateViewport(width, 700, chromedp.EmulateScale(2), chromedp.EmulateMobile))
		tb.waitFor("the code", `document.getElementById('cert-screen')?.dataset.state === 'code'`)
		normal, modules := module("cert-qr")
		tb.click("cert-qr-open")
		tb.waitFor("the full-screen code", `!!document.getElementById('qr-full-canvas')?.dataset.modules`)
		full, fullModules := module("qr-full-canvas")
		if width == 390 {
			tb.screenshot("passenger-8-full-screen")
		} else {
			tb.axe("full-screen code at 320 px")
		}
		canvasWidth := evalJS[float64](tb, `document.getElementById('qr-full-canvas').getBoundingClientRect().width`)
		t.Logf("viewport %d CSS px: %d modules with the quiet zone; module %.2f CSS px normal, %.2f CSS px full screen", width, modules, normal, full)
		if modules != fullModules || modules < 21+8 {
			t.Errorf("module counts %d and %d: the quiet zone of 4 modules on each side is not kept", modules, fullModules)
		}
		if canvasWidth < float64(width)-1 {
			t.Errorf("the full-screen code is %.1f CSS px wide on a %d px screen, want the whole width", canvasWidth, width)
		}
		if full <= normal {
			t.Errorf("full screen module %.2f px is not larger than the normal %.2f px", full, normal)
		}
		if hint := evalJS[string](tb, `document.getElementById('qr-full-hint')?.textContent ?? ''`); !strings.Contains(hint, "亮度") {
			t.Errorf("the full-screen view's hint %q says nothing of the brightness", hint)
		}
		if width == 390 {
			tb.click("qr-full-close")
		} else {
			tb.do("press Escape", chromedp.KeyEvent("\x1b"))
		}
		tb.waitFor("the full-screen view closed", `!document.getElementById('qr-full')`)
		tb.waitFor("the wake lock taken and released once per view", fmt.Sprintf(`window.__locks.taken === %d && window.__locks.released === %d`, i+1, i+1))
	}
}

// TestARevokedCertificateStopsDrawingOnThePhone: once an administrator
// revokes the certificate, the phone that shows it asks the server, stops
// drawing codes and says why; its history detail gives the reason.
func TestARevokedCertificateStopsDrawingOnThePhone(t *testing.T) {
	tb := passengerTab(t)
	signUpAndApply(t, tb, newPerson(), false)
	id := tb.attr("cert-screen", "data-id")

	adminByAPI(t, tb.srv).must("POST", "/api/v1/admin/certificates/"+id+"/revoke", map[string]any{"reason": "suspected_misuse"}, nil)
	// The phone asks again as soon as it is back online (and otherwise
	// within the minute).
	evalJS[bool](tb, `window.dispatchEvent(new Event('online')) || true`)

	tb.waitFor("the code gone and the revocation said", `document.getElementById('cert-screen')?.dataset.state === 'expired' && document.getElementById('cert-expired')?.dataset.status === 'revoked' && !document.getElementById('cert-code')`)
	if txt := evalJS[string](tb, `document.getElementById('cert-expired').textContent`); !strings.Contains(txt, "撤销") || !strings.Contains(txt, "疑似冒用") {
		t.Errorf("the revoked certificate's screen says %q", txt)
	}

	tb.screenshot("passenger-9-revoked")
	tb.click("nav-back")
	tb.waitScreen("home")
	tb.waitFor("no pass listed", `document.querySelectorAll('[data-testid=home-show]').length === 0`)
	tb.waitFor("the history", fmt.Sprintf(`!!document.querySelector('[data-testid=history-detail][data-id=%q]')`, id))
	if got := evalJS[string](tb, `document.querySelector('[data-testid=history-this-month]').getAttribute('aria-pressed')`); got != "true" {
		t.Errorf("this month's toggle aria-pressed=%q", got)
	}
	tb.clickCSS(fmt.Sprintf(`[data-testid=history-detail][data-id=%q]`, id))
	tb.waitScreen("history-detail")
	wantBack(t, tb, "history detail")
	tb.waitFor("the reason in words", `document.getElementById('detail-why')?.dataset.reason === 'suspected_misuse'`)
	tb.screenshot("passenger-10-history-detail")
	if txt := evalJS[string](tb, `document.getElementById('detail-why').textContent + ' ' + document.getElementById('detail-status').textContent`); !strings.Contains(txt, "疑似冒用") || !strings.Contains(txt, "已撤销") {
		t.Errorf("history detail says %q", txt)
	}
}

// TestEveryAppShowsTheDemoRibbon: the shared test server runs --demo, and
// each of the five apps says so.
func TestEveryAppShowsTheDemoRibbon(t *testing.T) {
	srv := sharedServer(t)
	c := sharedBrowser(t)
	for _, path := range []string{"/", "/staff", "/admin", "/terminal", "/kiosk"} {
		vp := desk
		if path == "/" {
			vp = phone
		}
		tb := newTab(t, c, srv, vp)
		tb.open(path)
		tb.waitFor("the demo ribbon on "+path, `document.getElementById('demo-ribbon')?.textContent === '演示环境 / DEMO'`)
		tb.axe("the demo ribbon on " + path)
	}
}
