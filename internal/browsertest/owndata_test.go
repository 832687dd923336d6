package browsertest

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"tempid/internal/idnumber"
)

// signUp registers p through the app and arrives at the home screen.
func signUp(t *testing.T, tb *tab, p person) {
	t.Helper()
	tb.open("/")
	tb.waitScreen("login")
	tb.click("to-signup")
	tb.waitScreen("signup")
	tb.fill("signup-username", p.username)
	tb.fill("signup-password", p.password)
	tb.fill("signup-name", p.name)
	tb.fill("signup-id-number", p.idNumber)
	tb.click("signup-submit")
	homeSettled(tb)
}

// homeSettled waits for the home screen and for what it loads (the quota,
// the history): a click while they arrive may land where the layout was.
func homeSettled(tb *tab) {
	tb.t.Helper()
	tb.waitScreen("home")
	tb.waitFor("the home screen loaded", `document.querySelector('[data-testid=quota]')?.dataset.remaining !== '' && !document.querySelector('#history .spinner-wrap')`)
}

func TestAPassengerSavesATravellerAndAppliesForThemFromTheList(t *testing.T) {
	tb := passengerTab(t)
	me, friend := newPerson(), newPerson()
	signUp(t, tb, me)

	tb.click("entry-travellers")
	tb.waitScreen("travellers")
	tb.waitFor("the empty list", `!!document.querySelector('[data-testid=travellers-empty]')`)
	// A typo is shown at its field, tied to it for a screen reader.
	tb.fill("traveller-name", friend.name)
	tb.fill("traveller-id-number", friend.idNumber[:17])
	tb.click("traveller-submit")
	tb.waitFor("the ID number's error", `document.getElementById('traveller-id-number').getAttribute('aria-invalid') === 'true'`)
	if got := tb.attr("traveller-id-number", "aria-describedby"); got != "traveller-id-number-error" {
		t.Errorf("the ID number's aria-describedby is %q, want its error", got)
	}
	tb.fill("traveller-id-number", friend.idNumber[17:])
	tb.click("traveller-submit")
	tb.waitFor("the saved traveller", `document.querySelectorAll('[data-testid=traveller-item]').length === 1`)
	item := evalJS[string](tb, `document.querySelector('[data-testid=traveller-item]').textContent`)
	if !strings.Contains(item, idnumber.Number(friend.idNumber).Masked()) || strings.Contains(item, friend.idNumber) {
		t.Errorf("the list shows %q, want the ID number masked", item)
	}
	tb.screenshot("passenger-travellers")
	if got := tb.attr("nav-back", "aria-label"); got != "返回" {
		t.Errorf("the back button is labelled %q", got)
	}
	if n := evalJS[int](tb, `document.querySelectorAll('h1').length`); n != 1 {
		t.Errorf("the screen has %d h1, want 1", n)
	}

	tb.click("nav-back")
	homeSettled(tb)
	tb.click("entry-tempid")
	tb.waitScreen("apply")
	tb.click("traveller-pick")
	tb.waitFor("the saved travellers offered", `!!document.querySelector('[data-testid=traveller-option]')`)
	tb.screenshot("passenger-travellers-pick")
	tb.clickCSS(`[data-testid=traveller-option]`)
	tb.waitFor("the form filled with the traveller", fmt.Sprintf(`document.getElementById('apply-id-number').value === %q && document.getElementById('apply-name').value === %q`,
		friend.idNumber, friend.name))
	tb.waitFor("the city located from the position", fmt.Sprintf(`document.getElementById('apply-city')?.dataset.code === %q`, guangzhouCode))
	tb.click("apply-submit")
	tb.waitScreen("consent")
	tb.click("consent-check")
	tb.waitFor("the agree button enabled", `!document.getElementById('consent-agree').disabled`)
	tb.click("consent-agree")
	faceCheck(t, tb, false)
	tb.waitFor("the certificate's holder", `!!document.getElementById('cert-holder-id')?.textContent`)
	if got, want := evalJS[string](tb, `document.getElementById('cert-holder-id').textContent.trim()`), idnumber.Number(friend.idNumber).Masked(); got != want {
		t.Errorf("the certificate is for %q, want the traveller %q", got, want)
	}
}

func TestAPassengerSeesDownloadsWithdrawsConsentAndDeletesTheirAccount(t *testing.T) {
	tb := passengerTab(t)
	p := newPerson()
	signUpAndApply(t, tb, p, false)
	masked := idnumber.Number(p.idNumber).Masked()

	tb.click("nav-back")
	homeSettled(tb)
	tb.click("entry-mydata")
	tb.waitScreen("mydata")
	tb.waitFor("the data", `!!document.querySelector('[data-testid=mydata-screen]')`)
	if got := evalJS[string](tb, `document.querySelector('[data-testid=mydata-id-number]').textContent`); got != masked {
		t.Errorf("My data shows the ID number %q, want %q", got, masked)
	}
	if got := evalJS[string](tb, `document.querySelector('[data-testid=mydata-certificates]').textContent`); got != "1" {
		t.Errorf("My data counts %q certificates, want 1", got)
	}
	tb.screenshot("passenger-mydata")
	if strings.Contains(evalJS[string](tb, `document.body.textContent`), p.idNumber) {
		t.Error("My data shows the full ID number")
	}

	// Download: the app saves the JSON it fetched; the file the server
	// sends is the same data, named for saving.
	tb.click("mydata-download")
	tb.waitFor("the download", `!!document.getElementById('mydata-download').dataset.bytes`)
	type download struct {
		Disposition string `json:"disposition"`
		Body        string `json:"body"`
	}
	file := evalJS[download](tb, `fetch('/api/v1/me/data?download=1', {credentials: 'same-origin'}).then(async (r) => ({disposition: r.headers.get('Content-Disposition'), body: await r.text()}))`)
	if file.Disposition != `attachment; filename="tempid-my-data.json"` {
		t.Errorf("Content-Disposition %q", file.Disposition)
	}
	var data struct {
		Account struct {
			Username       string `json:"username"`
			IDNumberMasked string `json:"id_number_masked"`
		} `json:"account"`
		Certificates []json.RawMessage `json:"certificates"`
		FaceChecks   []struct {
			Result string `json:"result"`
		} `json:"face_checks"`
		Consents []struct {
			Status string `json:"status"`
		} `json:"consents"`
		Devices  []json.RawMessage `json:"devices"`
		Sessions []json.RawMessage `json:"sessions"`
	}
	if err := json.Unmarshal([]byte(file.Body), &data); err != nil {
		t.Fatalf("the downloaded data is not JSON: %v", err)
	}
	if data.Account.Username != p.username || data.Account.IDNumberMasked != masked || len(data.Certificates) != 1 ||
		len(data.FaceChecks) != 1 || data.FaceChecks[0].Result != "passed" || len(data.Consents) != 1 || len(data.Devices) != 1 || len(data.Sessions) == 0 {
		t.Errorf("the downloaded data: %s", file.Body)
	}
	if strings.Contains(file.Body, p.idNumber) || strings.Contains(file.Body, p.password) {
		t.Error("the downloaded data holds the full ID number or the password")
	}

	// Withdraw the consent; the next face check asks for it again.
	tb.waitFor("the consent given", `document.querySelector('[data-testid=mydata-consent]')?.dataset.status === 'given'`)
	tb.click("mydata-withdraw")
	tb.clickCSS(`[data-testid=mydata-withdraw-confirm]`)
	tb.waitFor("the consent withdrawn", `document.querySelector('[data-testid=mydata-consent]')?.dataset.status === 'withdrawn'`)
	tb.click("nav-back")
	homeSettled(tb)
	// The home screen starts at its top, not at the scroll the data
	// screen was left at (where its first buttons sat under the header).
	if y := evalJS[float64](tb, `window.scrollY`); y != 0 {
		t.Errorf("the home screen opened scrolled to %v, want its top", y)
	}
	tb.click("entry-tempid")
	tb.waitScreen("apply")
	// For a companion: the passenger's own identity, with its active
	// certificate, is refused on the form before any consent (R5).
	companion := newPerson()
	tb.replaceText("apply-name", companion.name)
	tb.replaceText("apply-id-number", companion.idNumber)
	tb.waitFor("the city located from the position", fmt.Sprintf(`document.getElementById('apply-city')?.dataset.code === %q`, guangzhouCode))
	tb.waitFor("no early refusal for the companion", `!document.getElementById('apply-refusal')`)
	tb.click("apply-submit")
	tb.waitScreen("consent")
	tb.click("consent-decline")
	tb.waitScreen("apply")
	tb.click("nav-back")
	homeSettled(tb)

	// A code of this phone, read at the start of a minute so that it is
	// still good when the deletion is done.
	tb.click("home-show")
	tb.waitScreen("cert")
	tb.waitFor("a code of the current minute, early in it",
		`(() => { const n = Date.now(); return new Date(n).getSeconds() < 40 && document.getElementById('cert-code')?.dataset.step === String(Math.floor(n / 60000)); })()`)
	code, _ := shownCode(t, tb)
	tb.click("nav-back")
	homeSettled(tb)
	tb.click("entry-mydata")
	tb.waitScreen("mydata")
	tb.click("mydata-delete-open")
	tb.fill("mydata-delete-password", "not the password")
	tb.click("mydata-delete-sure")
	tb.click("mydata-delete-submit")
	tb.waitFor("the wrong password's error", `document.getElementById('mydata-delete-password').getAttribute('aria-invalid') === 'true'`)
	tb.screenshot("passenger-mydata-delete")
	if got := tb.attr("mydata-delete-password", "aria-describedby"); got != "mydata-delete-password-error" {
		t.Errorf("the password's aria-describedby is %q, want its error", got)
	}
	evalJS[bool](tb, `(() => { const i = document.getElementById('mydata-delete-password'); i.value = ''; i.dispatchEvent(new Event('input', {bubbles: true})); return true; })()`)
	tb.fill("mydata-delete-password", p.password)
	tb.click("mydata-delete-submit")
	tb.waitScreen("login")
	tb.waitFor("the deletion's notice", `document.querySelector('[data-testid=login-flash]')?.textContent.includes('账号已注销')`)
	if v := verifyOnline(t, tb.srv, code, "entry"); v.Verdict != "invalid" || v.Reason != "device_revoked" {
		t.Errorf("the phone's code after the deletion: %s %s, want invalid device_revoked", v.Verdict, v.Reason)
	}

	tb.fill("login-username", p.username)
	tb.fill("login-password", p.password)
	tb.click("login-submit")
	tb.waitFor("the login refused", `!!document.querySelector('[data-testid=login-error]')?.textContent`)
	if evalJS[string](tb, `document.querySelector('main#screen').dataset.testid`) != "screen-login" {
		t.Error("the deleted account logged in")
	}
}
