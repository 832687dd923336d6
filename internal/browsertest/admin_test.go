package browsertest

import (
	"fmt"
	"testing"
	"time"
)

func TestAnAdminRevokesACertificateAndStaffThenSeeItRevoked(t *testing.T) {
	srv := sharedServer(t)
	cert := issueByAPI(t, srv)
	c := sharedBrowser(t)

	if v := verifyOnline(t, srv, cert.code(t, time.Now()), "entry"); v.Verdict != "valid" {
		t.Fatalf("before the revocation: verdict %q reason %q, want valid", v.Verdict, v.Reason)
	}

	admin := consoleTab(t, c, "/admin", "admin")
	admin.waitFor("the dashboard", `!!document.getElementById('tab-certificates')`)
	admin.click("tab-certificates")
	admin.fill("search-id-number", cert.person.idNumber)
	admin.click("search-submit")
	row := fmt.Sprintf(`[data-testid=cert-row][data-id=%q]`, cert.id)
	admin.waitFor("the certificate found", fmt.Sprintf(`document.querySelector(%q)?.dataset.status === 'active'`, row))
	admin.clickCSS(fmt.Sprintf(`[data-testid=cert-revoke][data-id=%q]`, cert.id))
	admin.fill("revoke-reason", "旅客报告手机丢失")
	admin.click("revoke-confirm")
	admin.waitFor("the certificate revoked", fmt.Sprintf(`document.querySelector(%q)?.dataset.status === 'revoked'`, row))
	admin.waitFor("the revocation's reason in the row", fmt.Sprintf(`document.querySelector(%q + ' [data-testid=cert-revoke-reason]')?.textContent === '旅客报告手机丢失'`, row))
	admin.screenshot("admin-2-certificates")

	staff := staffTab(t)
	wedgeScan(staff, cert.code(t, time.Now()))
	if got, want := staff.attr("result", "data-verdict"), "invalid"; got != want {
		t.Fatalf("verdict of a revoked certificate's code = %q, want %q", got, want)
	}
	if got, want := staff.attr("result", "data-reason"), "revoked"; got != want {
		t.Errorf("reason = %q, want %q", got, want)
	}
	if resultText(staff, "result-reason") == "" {
		t.Error("the result card gives no reason for the revoked certificate")
	}

	// The dashboard counts what just happened: an issuance in Guangzhou, a
	// valid verification and a failed one.
	admin.click("tab-dashboard")
	admin.waitFor("the dashboard's charts", `!!document.querySelector('[data-testid=chart-issuance]') && !!document.querySelector('[data-testid=chart-cities]') && !!document.querySelector('[data-testid=chart-failures]')`)
	admin.screenshot("admin-1-dashboard")
}
