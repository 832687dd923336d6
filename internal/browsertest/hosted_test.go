package browsertest

import (
	"bytes"
	"context"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/security"
	"github.com/chromedp/chromedp"

	"tempid/internal/credential"
	"tempid/internal/tencent/tencenttest"
)

// TestAHostedFaceCheckGoesToTheVendorsPageAndComesBack runs a server whose
// face provider is Tencent Cloud FaceID in hosted mode, pointed at the
// local fake (which checks every request's signature): the passenger
// applies, is told who the vendor is, goes to the vendor's (fake) page,
// passes there, and comes back to /face-return, where the app completes
// the check and gets the certificate.
func TestAHostedFaceCheckGoesToTheVendorsPageAndComesBack(t *testing.T) {
	tb, fake, srv := hostedTab(t)
	p := newPerson()
	hostedSignUpAndApply(tb, p)

	tb.waitScreen("face")
	tb.waitFor("the hosted check ready", `document.getElementById('face-screen')?.dataset.phase === 'hosted' && !!document.getElementById('face-hosted')`)
	if vendor := evalJS[string](tb, `document.getElementById('face-vendor')?.textContent ?? ''`); !strings.Contains(vendor, "腾讯云") {
		t.Errorf("the face screen names the vendor as %q, want Tencent Cloud", vendor)
	}
	tb.click("face-hosted")
	waitAcrossNavigation(tb, "the vendor's page", fmt.Sprintf(`location.origin === %q && !!document.getElementById('fake-pass')`, fake.URL()))
	tb.click("fake-pass")
	// The vendor's page redirects to /face-return, which loads the app.
	waitAcrossNavigation(tb, "back at tempid", fmt.Sprintf(`location.origin === %q && !!document.querySelector('main#screen')`, srv.URL))
	tb.waitScreen("cert")
	tb.waitFor("a code on the certificate screen", `document.getElementById('cert-screen')?.dataset.state === 'code' && !!document.getElementById('cert-code')?.dataset.code`)
	if path := evalJS[string](tb, `location.pathname + location.search`); path != "/" {
		t.Errorf("the address after the return is %q, want / (the check's id is not left in the history)", path)
	}
	if n := fake.Count("GetDetectInfoEnhanced"); n != 1 {
		t.Errorf("GetDetectInfoEnhanced asked %d times, want 1", n)
	}
	if logs := srv.log.tail(1 << 20); strings.Contains(logs, p.idNumber) || strings.Contains(logs, p.name) {
		t.Error("the server logged the passenger's name or ID number")
	}
}

// TestAFailedHostedCheckIsRetriedAndAHostedCheckRenewsAPass covers what
// the passenger app keeps across the vendor's page for both purposes: an
// application whose hosted check fails comes back to a failed check and
// starts a new one for the same application, and a certificate's new pass
// after thirty minutes goes through the vendor's page too.
func TestAFailedHostedCheckIsRetriedAndAHostedCheckRenewsAPass(t *testing.T) {
	tb, fake, srv := hostedTab(t)
	p := newPerson()
	hostedSignUpAndApply(tb, p)

	hostedCheck(tb, fake, srv, "fake-liveness")
	tb.waitFor("the failed check with a retry", `document.getElementById('face-return-screen')?.dataset.phase === 'failed' && !!document.getElementById('face-retry')`)
	if msg := evalJS[string](tb, `document.querySelector('[data-testid=face-error]')?.textContent ?? ''`); strings.TrimSpace(msg) == "" {
		t.Error("the failed hosted check shows no reason")
	}
	tb.click("face-retry")
	hostedCheck(tb, fake, srv, "fake-pass")
	tb.waitScreen("cert")
	tb.waitFor("a code on the certificate screen", `document.getElementById('cert-screen')?.dataset.state === 'code' && !!document.getElementById('cert-code')?.dataset.code`)
	code1, _ := shownCode(t, tb)

	tb.setClock(31 * time.Minute)
	tb.waitFor("the certificate screen to ask for a face check", `document.getElementById('cert-screen')?.dataset.state === 'need_face'`)
	tb.click("cert-face-again")
	tb.waitScreen("consent")
	tb.setClock(0) // the page loads (vendor, return) put it back anyway
	tb.click("consent-check")
	tb.waitFor("the agree button enabled", `!document.getElementById('consent-agree').disabled`)
	tb.click("consent-agree")
	hostedCheck(tb, fake, srv, "fake-pass")
	tb.waitScreen("cert")
	tb.waitFor("a code on the certificate screen", `document.getElementById('cert-screen')?.dataset.state === 'code' && !!document.getElementById('cert-code')?.dataset.code`)
	code2, _ := shownCode(t, tb)
	c1, err1 := credential.ParseCode(code1)
	c2, err2 := credential.ParseCode(code2)
	if err1 != nil || err2 != nil {
		t.Fatalf("parsing the codes: %v, %v", err1, err2)
	}
	if bytes.Equal(c1.Pass.Bytes, c2.Pass.Bytes) {
		t.Fatal("after the hosted check for a new pass the code carries the old pass")
	}
	if v := verifyOnline(t, srv, code2, "ticket_check"); v.Verdict != "valid" {
		t.Fatalf("the code after the hosted check for a new pass: verdict %q reason %q, want valid", v.Verdict, v.Reason)
	}
	if n := fake.Count("GetDetectInfoEnhanced"); n != 3 {
		t.Errorf("GetDetectInfoEnhanced asked %d times, want 3 (one per check)", n)
	}
}

// hostedCheck goes from the face screen of a hosted check to the vendor's
// page, answers there with the button outcome, and waits to be back.
func hostedCheck(tb *tab, fake *tencenttest.Fake, srv *server, outcome string) {
	tb.t.Helper()
	tb.waitScreen("face")
	tb.waitFor("the hosted check ready", `document.getElementById('face-screen')?.dataset.phase === 'hosted' && !!document.getElementById('face-hosted')`)
	tb.click("face-hosted")
	waitAcrossNavigation(tb, "the vendor's page", fmt.Sprintf(`location.origin === %q && !!document.getElementById(%q)`, fake.URL(), outcome))
	tb.click(outcome)
	waitAcrossNavigation(tb, "back at tempid", fmt.Sprintf(`location.origin === %q && !!document.querySelector('main#screen')`, srv.URL))
}

// hostedTab runs a server whose face provider is Tencent Cloud FaceID in
// hosted mode, pointed at the local fake (which checks every request's
// signature), and opens a phone's tab on it.
func hostedTab(t *testing.T) (*tab, *tencenttest.Fake, *server) {
	t.Helper()
	needSuite(t)
	fake := tencenttest.New(t)
	// The server trusts the fake's certificate through SSL_CERT_FILE; the
	// browser is told to accept it below.
	caFile := filepath.Join(t.TempDir(), "fake-ca.pem")
	if err := os.WriteFile(caFile, fakeCertPEM(t, fake), 0o600); err != nil {
		t.Fatal(err)
	}
	srv, err := startServerWith(filepath.Join(t.TempDir(), "data"), func(addr string) []string {
		return []string{"--face-provider", "tencent", "--face-mode", "hosted", "--tencent-endpoint", fake.Endpoint(),
			"--tencent-rule-id", "1", "--public-url", "http://" + addr}
	}, []string{"TENCENTCLOUD_SECRET_ID=" + tencenttest.SecretID, "TENCENTCLOUD_SECRET_KEY=" + tencenttest.SecretKey, "SSL_CERT_FILE=" + caFile})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.stop)
	tb := newTab(t, sharedBrowser(t), srv, phone)
	tb.do("accept the fake vendor's certificate", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, security.SetIgnoreCertificateErrors, security.SetIgnoreCertificateErrorsParams{Ignore: true})
		return err
	}))
	return tb, fake, srv
}

// hostedSignUpAndApply signs a new person up, fills the application and
// agrees to the face check, up to the face screen.
func hostedSignUpAndApply(tb *tab, p person) {
	tb.t.Helper()
	tb.open("/")
	tb.waitScreen("login")
	tb.click("to-signup")
	tb.waitScreen("signup")
	tb.fill("signup-username", p.username)
	tb.fill("signup-password", p.password)
	tb.fill("signup-name", p.name)
	tb.fill("signup-id-number", p.idNumber)
	tb.click("signup-submit")
	tb.waitScreen("home")
	tb.click("entry-tempid")
	tb.waitScreen("apply")
	tb.waitFor("the city located from the position", fmt.Sprintf(`document.getElementById('apply-city')?.dataset.code === %q`, guangzhouCode))
	tb.click("apply-submit")
	tb.waitScreen("consent")
	tb.click("consent-check")
	tb.waitFor("the agree button enabled", `!document.getElementById('consent-agree').disabled`)
	tb.click("consent-agree")
}

// waitAcrossNavigation waits until cond is true in the tab, through page
// loads that would end a plain wait.
func waitAcrossNavigation(tb *tab, what, cond string) {
	tb.t.Helper()
	deadline := time.Now().Add(actionTimeout)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(tb.ctx, time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](cond))
		cancel()
		if err == nil && ok {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	tb.t.Fatalf("waiting for %s%s", what, tb.where())
}

// fakeCertPEM is the fake's certificate, for a process to trust.
func fakeCertPEM(t *testing.T, f *tencenttest.Fake) []byte {
	t.Helper()
	cert := f.Certificate()
	if cert == nil {
		t.Fatal("the fake has no certificate")
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
}
