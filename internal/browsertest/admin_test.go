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
	selectOption(admin, "revoke-reason", "suspected_misuse")
	admin.fill("revoke-note", "旅客报告手机丢失")
	admin.screenshot("admin-2-certificates")
	admin.click("revoke-confirm")
	admin.waitFor("the certificate revoked", fmt.Sprintf(`document.querySelector(%q)?.dataset.status === 'revoked'`, row))
	admin.waitFor("the revocation's reason in the row", fmt.Sprintf(`document.querySelector(%q + ' [data-testid=cert-revoke-reason]')?.textContent === '疑似冒用'`, row))

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

// selectOption picks value in the select with this id and fires its change
// event, as choosing it with the mouse does.
func selectOption(tb *tab, id, value string) {
	tb.t.Helper()
	evalJS[bool](tb, fmt.Sprintf(`(() => { const s = document.getElementById(%q); s.value = %q; s.dispatchEvent(new Event('change', { bubbles: true })); return s.value === %q; })()`, id, value, value))
	tb.waitFor("the "+id+" select on "+value, fmt.Sprintf(`document.getElementById(%q)?.value === %q`, id, value))
}

// TestAnAdminCreatesAKioskAndAnOfficerAndSeesTheWindowsSlipsInTheSearchAndTheDashboard:
// a kiosk terminal and an officer made through the console; a slip the
// officer issues (through the API) shows its channel in the certificate
// search, and the officer shows in the dashboard's slips-per-officer table.
func TestAnAdminCreatesAKioskAndAnOfficerAndSeesTheWindowsSlipsInTheSearchAndTheDashboard(t *testing.T) {
	srv := sharedServer(t)
	c := sharedBrowser(t)
	suffix := fmt.Sprintf("%d", time.Now().UnixNano()%1_000_000_000)

	admin := consoleTab(t, c, "/admin", "admin")
	admin.waitFor("the dashboard", `!!document.getElementById('tab-terminals')`)

	// A kiosk terminal: the kind select starts at handheld.
	admin.click("tab-terminals")
	admin.waitFor("the terminal form", `!!document.getElementById('terminal-kind')`)
	if got := evalJS[string](admin, `document.getElementById('terminal-kind').value`); got != "handheld" {
		t.Errorf("the kind select starts at %q, want handheld", got)
	}
	kiosk := "自助机-" + suffix
	admin.fill("terminal-name", kiosk)
	admin.fill("terminal-station", "BJP")
	selectOption(admin, "terminal-kind", "kiosk")
	admin.click("terminal-create")
	admin.waitFor("the new key", `!!document.getElementById('terminal-api-key')?.textContent`)
	row := fmt.Sprintf(`[...document.querySelectorAll('[data-testid=terminal-row]')].find((r) => r.textContent.includes(%q))`, kiosk)
	admin.waitFor("the kiosk in the list", row+`?.dataset.kind === 'kiosk'`)
	if got := evalJS[string](admin, row+`.querySelector('[data-testid=terminal-row-kind]').textContent.trim()`); got != "自助制证机" {
		t.Errorf("the list shows the kind as %q, want 自助制证机", got)
	}
	admin.screenshot("admin-terminals-kiosk")

	// An officer at a station.
	officer, password := "officer-"+suffix, "window-pass-"+suffix
	admin.click("tab-staff")
	admin.waitFor("the staff form", `!!document.getElementById('staff-role')`)
	if evalJS[bool](admin, `![...document.getElementById('staff-role').options].some((o) => o.value === 'officer' && o.textContent.trim() === '窗口民警')`) {
		t.Fatal("the role select offers no 窗口民警 (officer)")
	}
	admin.fill("staff-username", officer)
	admin.fill("staff-password", password)
	selectOption(admin, "staff-role", "officer")
	if !evalJS[bool](admin, `document.getElementById('staff-station').required`) {
		t.Error("an officer's station is not required")
	}
	admin.fill("staff-station", "BJP")
	admin.click("staff-create")
	admin.waitFor("the officer created", `!!document.querySelector('[data-testid=staff-created]')`)
	admin.waitFor("the officer in the list", fmt.Sprintf(`[...document.querySelectorAll('[data-testid=staff-row]')].some((r) => r.textContent.includes(%q) && r.textContent.includes('窗口民警'))`, officer))

	// The officer issues a slip at the window, twice for two people.
	api := newAPIClient(t, srv)
	var session struct {
		CSRFToken string `json:"csrf_token"`
	}
	api.must("POST", "/api/v1/session", map[string]any{"username": officer, "password": password}, &session)
	api.csrf = session.CSRFToken
	var slip struct {
		Certificate struct {
			ID      string `json:"id"`
			Channel string `json:"channel"`
		} `json:"certificate"`
	}
	p := newPerson()
	api.must("POST", "/api/v1/slips", map[string]any{"name": p.name, "id_number": p.idNumber, "method": "questions"}, &slip)
	api.must("POST", "/api/v1/slips", map[string]any{"name": newPerson().name, "id_number": newPerson().idNumber, "method": "questions"}, nil)
	if slip.Certificate.Channel != "window" {
		t.Fatalf("the slip's certificate has channel %q, want window", slip.Certificate.Channel)
	}

	// The search shows the slip's channel.
	admin.click("tab-certificates")
	admin.fill("search-id-number", p.idNumber)
	admin.click("search-submit")
	cert := fmt.Sprintf(`document.querySelector('[data-testid=cert-row][data-id=%q]')`, slip.Certificate.ID)
	admin.waitFor("the slip's certificate found", cert+`?.dataset.channel === 'window'`)
	if got := evalJS[string](admin, cert+`.querySelector('[data-testid=cert-channel]').textContent.trim()`); got != "人工窗口" {
		t.Errorf("the search shows the channel as %q, want 人工窗口", got)
	}

	// The dashboard counts the officer's slips and the window channel.
	admin.click("tab-dashboard")
	officerRow := fmt.Sprintf(`document.querySelector('[data-testid=officer-row][data-username=%q]')`, officer)
	admin.waitFor("the officer in the dashboard's table", officerRow+`?.dataset.slips === '2'`)
	admin.waitFor("the certificates by channel", `!!document.querySelector('[data-testid=chart-channels]')`)
	if !evalJS[bool](admin, `[...document.querySelectorAll('[data-testid=officer-row]')].every((r, i, all) => i === 0 || Number(all[i-1].dataset.slips) >= Number(r.dataset.slips))`) {
		t.Error("the officers' table is not ordered most slips first")
	}
	// Slips without a city are counted under a name, not a blank label.
	admin.waitFor("the certificates by city", `!!document.querySelector('[data-testid=chart-cities]')`)
	if !evalJS[bool](admin, `[...document.querySelectorAll('[data-testid=chart-cities] .hbar-label')].every((l) => l.textContent.trim() !== '')`) {
		t.Error("the certificates by city have a blank label")
	}
	admin.screenshot("admin-dashboard-channels")
}
