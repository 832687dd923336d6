package browsertest

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"tempid/internal/credential"
)

// guestView walks a passenger without an account through 查看: the first
// screen's "查看我的临时身份证明", name and ID number, consent and face
// check, to the certificate screen showing a code.
func guestView(t *testing.T, tb *tab, p person) {
	t.Helper()
	tb.waitScreen("login")
	tb.click("guest-view")
	tb.waitScreen("guest-view")
	tb.fill("guest-view-name", p.name)
	tb.fill("guest-view-id-number", p.idNumber)
	tb.click("guest-view-submit")
	tb.waitScreen("consent")
	tb.click("consent-check")
	tb.waitFor("the agree button enabled", `!document.getElementById('consent-agree').disabled`)
	tb.click("consent-agree")
	faceCheck(t, tb, false)
}

// storedKeys lists what the passenger app keeps in IndexedDB.
func storedKeys(tb *tab) []string {
	tb.t.Helper()
	return evalJS[[]string](tb, `new Promise((resolve, reject) => {
	  const r = indexedDB.open('tempid');
	  r.onerror = () => reject(r.error);
	  r.onsuccess = () => {
	    const db = r.result;
	    if (!db.objectStoreNames.contains('kv')) { db.close(); resolve([]); return; }
	    const q = db.transaction('kv').objectStore('kv').getAllKeys();
	    q.onsuccess = () => { db.close(); resolve(q.result.map(String)); };
	    q.onerror = () => reject(q.error);
	  };
	})`)
}

// certOf is the certificate id a code names.
func certOf(t *testing.T, code string) [16]byte {
	t.Helper()
	c, err := credential.ParseCode(code)
	if err != nil {
		t.Fatalf("parsing the shown code: %v", err)
	}
	return c.Pass.CertID
}

func TestAGuestAppliesWithoutAnAccountAndShowsTheCodeAgainAfterAReloadAndOnAnotherPhone(t *testing.T) {
	tb := passengerTab(t)
	p := newPerson()
	tb.open("/")
	tb.waitScreen("login")
	tb.waitFor("the guest entries on the first screen", `!!document.getElementById('guest-apply') && !!document.getElementById('guest-view') && !!document.getElementById('guest-hint')?.textContent`)
	tb.screenshot("guest-1-first-screen")

	// 不登录，直接申请: the same form, empty, with the hint to use 查看.
	tb.click("guest-apply")
	tb.waitScreen("apply")
	tb.waitFor("the hint to use 查看", `!!document.getElementById('apply-guest-hint')`)
	if name, id := evalJS[string](tb, `document.getElementById('apply-name').value`), evalJS[string](tb, `document.getElementById('apply-id-number').value`); name != "" || id != "" {
		t.Fatalf("the guest's apply form is filled in: %q %q", name, id)
	}
	tb.fill("apply-name", p.name)
	tb.fill("apply-id-number", p.idNumber)
	tb.waitFor("the city located from the position", fmt.Sprintf(`document.getElementById('apply-city')?.dataset.code === %q`, guangzhouCode))
	tb.screenshot("guest-2-apply")
	tb.click("apply-submit")
	tb.waitScreen("consent")
	tb.click("consent-check")
	tb.waitFor("the agree button enabled", `!document.getElementById('consent-agree').disabled`)
	tb.click("consent-agree")
	faceCheck(t, tb, false)
	tb.waitFor("the certificate's holder", `!!document.getElementById('cert-holder-name')?.textContent`)
	tb.screenshot("guest-3-certificate")

	code1, _ := shownCode(t, tb)
	if v := verifyOnline(t, tb.srv, code1, "entry"); v.Verdict != "valid" {
		t.Fatalf("the guest's code: verdict %q reason %q, want valid", v.Verdict, v.Reason)
	}
	if got := storedKeys(tb); len(got) != 1 || got[0] != "device_key" {
		t.Fatalf("the app stored %v for a guest, want only the device key", got)
	}
	if evalJS[bool](tb, `document.cookie !== ''`) {
		t.Error("a guest got a cookie")
	}

	// A reload forgets the pass: the first screen again, and 查看 asks for
	// name, ID number and a face check before a code is shown.
	tb.do("reload", chromedp.Reload())
	tb.waitScreen("login")
	if evalJS[bool](tb, `!!document.getElementById('cert-code')`) {
		t.Fatal("after a reload a guest's code is shown without a face check")
	}
	guestView(t, tb, p)
	code2, _ := shownCode(t, tb)
	c1, _ := credential.ParseCode(code1)
	c2, _ := credential.ParseCode(code2)
	if certOf(t, code2) != certOf(t, code1) {
		t.Fatal("after the reload the code names another certificate")
	}
	if bytes.Equal(c1.Pass.Bytes, c2.Pass.Bytes) {
		t.Error("after the reload's face check the code carries the old pass")
	}
	if v := verifyOnline(t, tb.srv, code2, "ticket_check"); v.Verdict != "valid" {
		t.Fatalf("the code after the reload: verdict %q reason %q, want valid", v.Verdict, v.Reason)
	}

	// Another phone: a new browser context, its own device key, the same
	// certificate.
	other := newTab(t, sharedBrowser(t), tb.srv, phone)
	other.open("/")
	guestView(t, other, p)
	code3, _ := shownCode(t, other)
	if certOf(t, code3) != certOf(t, code1) {
		t.Fatal("the other phone shows another certificate")
	}
	c3, _ := credential.ParseCode(code3)
	if c3.Pass.DeviceKey == c2.Pass.DeviceKey {
		t.Error("the other phone's pass names the first phone's device key")
	}
	if v := verifyOnline(t, other.srv, code3, "id_check"); v.Verdict != "valid" {
		t.Fatalf("the other phone's code: verdict %q reason %q, want valid", v.Verdict, v.Reason)
	}

	// The certificate is revoked: with its next code the app asks
	// certificate-status and stops drawing codes.
	admin := newAPIClient(t, tb.srv)
	var session struct {
		CSRFToken string `json:"csrf_token"`
	}
	admin.must("POST", "/api/v1/session", map[string]any{"username": "admin", "password": tb.srv.passwords["admin"]}, &session)
	admin.csrf = session.CSRFToken
	id := certOf(t, code3)
	admin.must("POST", "/api/v1/admin/certificates/"+hex.EncodeToString(id[:])+"/revoke", map[string]any{"reason": "test"}, nil)
	// The next step starts when the page clock passes the next minute; keep
	// the page no more than the verifiers' skew ahead of the server.
	next := time.Until(time.Now().Truncate(time.Minute).Add(time.Minute))
	if next > 25*time.Second {
		time.Sleep(next - 25*time.Second)
		next = 25 * time.Second
	}
	other.setClock(next + time.Second)
	other.waitFor("the certificate shown revoked, with no code", `document.getElementById('cert-status')?.dataset.status === 'revoked' && !document.getElementById('cert-code')`)
}
