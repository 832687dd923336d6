package browsertest

import (
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

	"tempid/internal/tencent/tencenttest"
)

// TestAHostedFaceCheckGoesToTheVendorsPageAndComesBack runs a server whose
// face provider is Tencent Cloud FaceID in hosted mode, pointed at the
// local fake (which checks every request's signature): the passenger
// applies, is told who the vendor is, goes to the vendor's (fake) page,
// passes there, and comes back to /face-return, where the app completes
// the check and gets the certificate.
func TestAHostedFaceCheckGoesToTheVendorsPageAndComesBack(t *testing.T) {
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

	p := newPerson()
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

	tb.waitScreen("face")
	tb.waitFor("the hosted check ready", `document.getElementById('face-screen')?.dataset.phase === 'hosted' && !!document.getElementById('face-hosted')`)
	if vendor := evalJS[string](tb, `document.getElementById('face-vendor')?.textContent ?? ''`); !strings.Contains(vendor, "腾讯云") {
		t.Errorf("the face screen names the vendor as %q, want Tencent Cloud", vendor)
	}
	tb.click("face-hosted")
	tb.waitFor("the vendor's page", fmt.Sprintf(`location.origin === %q && !!document.getElementById('fake-pass')`, fake.URL()))
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
