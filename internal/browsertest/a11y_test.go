package browsertest

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// focusedID is the id of the element that has focus ("" for none or the body).
func focusedID(tb *tab) string {
	tb.t.Helper()
	return evalJS[string](tb, `document.activeElement?.id ?? ''`)
}

// wantTitleFocused checks that focus is on the passenger app's screen
// title after a screen change, and that the page's title names the screen.
func wantTitleFocused(tb *tab, screen string) {
	tb.t.Helper()
	tb.waitFor("focus on the "+screen+" screen's title", `document.activeElement?.id === 'screen-title'`)
	if got := tb.attr("screen-title", "tabindex"); got != "-1" {
		tb.t.Errorf("the %s screen's title has tabindex %q, want -1", screen, got)
	}
	title := evalJS[string](tb, `document.getElementById('screen-title').textContent.trim()`)
	if doc := evalJS[string](tb, `document.title`); !strings.HasPrefix(doc, title) {
		tb.t.Errorf("on the %s screen the page is titled %q; want it to start with the screen's title %q", screen, doc, title)
	}
}

// clearInput empties the input with this id as deleting its text would.
func clearInput(tb *tab, id string) {
	tb.t.Helper()
	evalJS[chromedp.Void](tb, fmt.Sprintf(`(() => { const el = document.getElementById(%q); el.value = ''; el.dispatchEvent(new Event('input', { bubbles: true })); })()`, id))
}

// key presses key (a kb constant or text) on the focused element, with
// Shift when shift is set.
func key(tb *tab, k string, shift bool) {
	tb.t.Helper()
	var opts []chromedp.KeyOption
	if shift {
		opts = append(opts, chromedp.KeyModifiers(chromedp.ModifierShift))
	}
	tb.do("press "+strconv.Quote(k), chromedp.KeyEvent(k, opts...))
}

// focusRing is the outline an element shows with keyboard focus, and the
// background colour next to it.
type focusRing struct {
	Style string  `json:"style"`
	Width float64 `json:"width"`
	Color string  `json:"color"`
	Next  string  `json:"next"`
}

// ringOf focuses the element with this id and reads its focus ring.
func ringOf(tb *tab, id string) focusRing {
	tb.t.Helper()
	return evalJS[focusRing](tb, fmt.Sprintf(`(() => {
	  const el = document.getElementById(%q);
	  el.focus();
	  const cs = getComputedStyle(el);
	  let p = el.parentElement, next = 'rgb(255, 255, 255)';
	  for (; p; p = p.parentElement) {
	    const bg = getComputedStyle(p).backgroundColor;
	    if (bg && bg !== 'transparent' && !/rgba\(.*,\s*0\)$/.test(bg)) { next = bg; break; }
	  }
	  return { style: cs.outlineStyle, width: parseFloat(cs.outlineWidth), color: cs.outlineColor, next };
	})()`, id))
}

// contrast is the WCAG contrast ratio of two CSS colours "rgb(r, g, b)".
func contrast(t *testing.T, a, b string) float64 {
	t.Helper()
	lum := func(c string) float64 {
		f := strings.FieldsFunc(strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(c, "rgba("), "rgb("), ")"), func(r rune) bool { return r == ',' || r == ' ' })
		if len(f) < 3 {
			t.Fatalf("colour %q is not rgb()", c)
		}
		var l [3]float64
		for i := range 3 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				t.Fatalf("colour %q: %v", c, err)
			}
			v /= 255
			if v <= 0.03928 {
				l[i] = v / 12.92
			} else {
				l[i] = math.Pow((v+0.055)/1.055, 2.4)
			}
		}
		return 0.2126*l[0] + 0.7152*l[1] + 0.0722*l[2]
	}
	la, lb := lum(a), lum(b)
	return (math.Max(la, lb) + 0.05) / (math.Min(la, lb) + 0.05)
}

// TestThePassengerAppIsUsableWithTheKeyboardAndAScreenReader walks a new
// passenger from sign-up to the face screen and checks, on the way, what
// axe-core cannot see: focus moves to each new screen's title and the
// page's title names the screen in the chosen language (and is not cut),
// the history toggles say which is pressed, a bad ID number marks its
// field invalid and points to the error, inputs show a 2 px focus ring at
// 3:1, the city picker holds focus, closes on Escape and gives focus back,
// and the face check's status is a live region.
func TestThePassengerAppIsUsableWithTheKeyboardAndAScreenReader(t *testing.T) {
	tb := passengerTab(t)
	p := newPerson()
	tb.open("/")
	tb.waitScreen("login")
	tb.waitFor("the login form", `!!document.getElementById('login-submit')`)

	tb.click("to-signup")
	tb.waitScreen("signup")
	wantTitleFocused(tb, "signup")
	tb.fill("signup-username", p.username)
	tb.fill("signup-password", p.password)
	tb.fill("signup-name", p.name)
	tb.fill("signup-id-number", p.idNumber)
	tb.click("signup-submit")
	tb.waitScreen("home")
	wantTitleFocused(tb, "home")

	// The history's month toggles.
	pressed := `[document.querySelector('[data-testid=history-this-month]').getAttribute('aria-pressed'), document.querySelector('[data-testid=history-last-month]').getAttribute('aria-pressed')].join()`
	if got := evalJS[string](tb, pressed); got != "true,false" {
		t.Errorf("history toggles aria-pressed (this month, last month) = %s, want true,false", got)
	}
	tb.clickCSS("[data-testid=history-last-month]")
	tb.waitFor("last month pressed", pressed+` === 'false,true'`)

	tb.click("entry-tempid")
	tb.waitScreen("apply")
	wantTitleFocused(tb, "apply")
	tb.waitFor("the city located from the position", fmt.Sprintf(`document.getElementById('apply-city')?.dataset.code === %q`, guangzhouCode))

	// Inputs show their focus: 2 px, at 3:1 against the card around them.
	ring := ringOf(tb, "apply-name")
	if ring.Style == "none" || ring.Width < 2 {
		t.Errorf("the focused name input's outline is %s %.1fpx, want a 2 px line", ring.Style, ring.Width)
	}
	if c := contrast(t, ring.Color, ring.Next); c < 3 {
		t.Errorf("the focus ring %s against %s is %.2f:1, want at least 3:1", ring.Color, ring.Next, c)
	}

	// A bad ID number: the field is invalid and described by the error.
	clearInput(tb, "apply-id-number")
	tb.fill("apply-id-number", "12345")
	tb.click("apply-submit")
	tb.waitFor("the ID number's error", `!!document.getElementById('apply-id-number-error')`)
	if got := tb.attr("apply-id-number", "aria-invalid"); got != "true" {
		t.Errorf("a wrong ID number's input has aria-invalid %q, want true", got)
	}
	if got := tb.attr("apply-id-number", "aria-describedby"); got != "apply-id-number-error" {
		t.Errorf("a wrong ID number's input is described by %q, want apply-id-number-error", got)
	}
	if got := tb.attr("apply-name", "aria-invalid"); got != "" {
		t.Errorf("the valid name's input has aria-invalid %q, want none", got)
	}
	tb.axe("apply form with an error")
	clearInput(tb, "apply-id-number")
	tb.fill("apply-id-number", p.idNumber)
	tb.waitFor("the error gone", `!document.getElementById('apply-id-number').hasAttribute('aria-invalid')`)

	// The city picker: a named modal dialog that keeps focus inside, closes
	// on Escape and gives focus back to the button that opened it.
	tb.click("apply-city")
	tb.waitFor("the city picker with its cities", `!!document.querySelector('#city-picker [data-testid=city-option]')`)
	tb.axe("city picker open")
	if got := focusedID(tb); got != "city-search" {
		t.Errorf("focus in the open city picker is on %q, want city-search", got)
	}
	inside := `document.getElementById('city-picker').contains(document.activeElement)`
	key(tb, kb.Tab, true) // to the close button, the first
	key(tb, kb.Tab, true) // round to the last city
	if !evalJS[bool](tb, inside) || evalJS[string](tb, `document.activeElement.dataset.testid ?? ''`) != "city-option" {
		t.Errorf("Shift+Tab from the picker's first control went to %q, want the last city", evalJS[string](tb, `document.activeElement.outerHTML.slice(0, 80)`))
	}
	key(tb, kb.Tab, false) // round to the first
	if got := evalJS[string](tb, `document.activeElement.dataset.testid ?? ''`); got != "city-close" {
		t.Errorf("Tab from the last city went to %q, want the close button", got)
	}
	key(tb, kb.Escape, false)
	tb.waitFor("the city picker closed", `!document.getElementById('city-picker')`)
	if got := focusedID(tb); got != "apply-city" {
		t.Errorf("after Escape focus is on %q, want the city button apply-city", got)
	}

	// In English the page's title follows, and the screen's title is whole.
	tb.click("lang-switch")
	tb.waitFor("the English page title", `document.title.startsWith('Apply for a temporary ID')`)
	if got := evalJS[string](tb, `document.documentElement.lang`); got != "en" {
		t.Errorf("html lang = %q in English", got)
	}
	tb.axe("apply in English")

	tb.click("apply-submit")
	tb.waitScreen("consent")
	wantTitleFocused(tb, "consent")
	tb.click("consent-check")
	tb.waitFor("the agree button enabled", `!document.getElementById('consent-agree').disabled`)
	tb.click("consent-agree")
	tb.waitScreen("face")
	wantTitleFocused(tb, "face")
	if got := tb.attr("face-status", "role"); got != "status" {
		t.Errorf("#face-status has role %q, want status (a polite live region)", got)
	}
	tb.waitFor("the face check ready with the camera playing",
		`document.getElementById('face-screen')?.dataset.phase === 'ready' && !!document.getElementById('face-capture') && document.getElementById('face-video').videoWidth > 0`)
	tb.click("face-capture")
	tb.waitScreen("cert")
	wantTitleFocused(tb, "cert")
	// The longest English title is whole: wrapped, not cut with "…".
	if evalJS[bool](tb, `(() => { const h = document.getElementById('screen-title'); const cs = getComputedStyle(h); return cs.textOverflow === 'ellipsis' || h.scrollWidth > h.clientWidth; })()`) {
		t.Errorf("the certificate screen's English title %q is cut", evalJS[string](tb, `document.getElementById('screen-title').textContent`))
	}
	if got := evalJS[string](tb, `document.title`); !strings.HasPrefix(got, "Electronic temporary boarding ID") {
		t.Errorf("the certificate screen's page title in English = %q", got)
	}
}

// TestTheAdminConsoleMovesFocusToEachTabsTitle: changing tab is a new
// screen; focus goes to its h1 and the page's title names it.
func TestTheAdminConsoleMovesFocusToEachTabsTitle(t *testing.T) {
	admin := consoleTab(t, sharedBrowser(t), "/admin", "admin")
	admin.waitFor("the dashboard", `!!document.getElementById('tab-certificates')`)
	admin.axe("admin dashboard")
	admin.click("tab-certificates")
	admin.waitFor("focus on the certificates tab's title", `document.activeElement?.matches('h1.page-title[tabindex="-1"]') && document.activeElement.textContent.trim() !== ''`)
	h1 := evalJS[string](admin, `document.activeElement.textContent.trim()`)
	if got := evalJS[string](admin, `document.title`); !strings.HasPrefix(got, h1+" · ") {
		t.Errorf("the certificates tab's page title = %q, want it to start with %q", got, h1)
	}
	admin.axe("admin certificates search")
}

// TestTheStaffConsolesTitleFollowsTheLanguage: the page's title is the
// console's name in the language chosen, and the console in English passes
// axe-core too.
func TestTheStaffConsolesTitleFollowsTheLanguage(t *testing.T) {
	tb := staffTab(t)
	if got := evalJS[string](tb, `document.title`); got != "临时身份证明核验 · 车站工作人员控制台" {
		t.Errorf("the staff console's page title = %q", got)
	}
	tb.click("lang-switch")
	tb.waitFor("the English page title", `document.title === 'Temporary ID verification · Station staff console'`)
	tb.axe("staff console in English")
}
