package browsertest

import (
	"encoding/csv"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"tempid/internal/idnumber"
)

// adminAPI logs the demo admin in through the API.
func adminAPI(t *testing.T, srv *server) *apiClient {
	t.Helper()
	api := newAPIClient(t, srv)
	var session struct {
		CSRFToken string `json:"csrf_token"`
	}
	api.must("POST", "/api/v1/session", map[string]any{"username": "admin", "password": srv.passwords["admin"]}, &session)
	api.csrf = session.CSRFToken
	return api
}

// loginAPI logs a user in through the API; it returns the refusal, if any.
func loginAPI(t *testing.T, srv *server, user, password string) (*apiClient, error) {
	t.Helper()
	api := newAPIClient(t, srv)
	var session struct {
		CSRFToken string `json:"csrf_token"`
	}
	body := fmt.Sprintf(`{"username":%q,"password":%q}`, user, password)
	err := api.send("POST", "/api/v1/session", "application/json", []byte(body), &session)
	api.csrf = session.CSRFToken
	return api, err
}

// chooseOperation selects the staff console's operation.
func chooseOperation(tb *tab, op string) {
	tb.t.Helper()
	tb.click("op-" + op)
	tb.waitFor("the operation "+op, fmt.Sprintf(`document.getElementById('operation')?.dataset.value === %q`, op))
}

// TestTheClerkSeesTheFullIdentityAtTheCounterAndTheIDCheckOnly: the clerk
// compares the full name and ID number with the booking for the counter
// operations and id_check; at entry and ticket check both stay masked.
func TestTheClerkSeesTheFullIdentityAtTheCounterAndTheIDCheckOnly(t *testing.T) {
	srv := sharedServer(t)
	cert := issueByAPI(t, srv)
	staff := staffTab(t)
	id, err := idnumber.Parse(cert.person.idNumber, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// One code, one operation after another: another operation is not a
	// replay. Starting at a minute's start keeps the code alive throughout.
	waitForMinuteStart(t)
	code := cert.code(t, time.Now())
	for _, tt := range []struct {
		op   string
		full bool
	}{
		{"ticket_purchase", true}, {"refund", true}, {"id_check", true}, {"entry", false}, {"ticket_check", false},
	} {
		chooseOperation(staff, tt.op)
		wedgeScan(staff, code)
		if got := staff.attr("result", "data-verdict"); got != "valid" {
			t.Fatalf("%s: verdict %q (%s), want valid", tt.op, got, resultText(staff, "result-reason"))
		}
		name, full := resultText(staff, "result-name"), resultText(staff, "result-id-full")
		masked := resultText(staff, "result-id-masked")
		if tt.full {
			if name != cert.person.name || full != cert.person.idNumber {
				t.Errorf("%s shows %q %q, want the full name %q and number %q", tt.op, name, full, cert.person.name, cert.person.idNumber)
			}
			if resultText(staff, "result-compare") == "" {
				t.Errorf("%s does not ask the clerk to compare with the booking", tt.op)
			}
		} else {
			if name == cert.person.name || full != "" || strings.Contains(evalJS[string](staff, `document.getElementById('result').textContent`), cert.person.idNumber) {
				t.Errorf("%s shows the full identity: name %q, number %q", tt.op, name, full)
			}
		}
		if masked != id.Masked() {
			t.Errorf("%s shows the masked number %q, want %q", tt.op, masked, id.Masked())
		}
		if tt.op == "id_check" {
			staff.screenshot("staff-full-identity-id-check")
		} else {
			staff.axe("the staff console after " + tt.op)
		}
	}
	// The shift's history in sessionStorage keeps masked data only.
	if stored := evalJS[string](staff, `sessionStorage.getItem('tempid.staff.history') || ''`); strings.Contains(stored, cert.person.idNumber) || strings.Contains(stored, cert.person.name) {
		t.Error("the scan history stores the full identity")
	}
}

// waitForMinuteStart waits until the first seconds of a minute, so a code
// made now stays within its step window for the rest of the test.
func waitForMinuteStart(t *testing.T) {
	t.Helper()
	if s := time.Now().Second(); s > 20 {
		time.Sleep(time.Duration(61-s) * time.Second)
	}
}

// TestTheStaffConsoleGivesTheReasonARetryCannotChange: a revoked
// certificate's old code says revoked (not expired), a logged-out phone's
// code says device_revoked with its instruction, and garbage is malformed.
func TestTheStaffConsoleGivesTheReasonARetryCannotChange(t *testing.T) {
	srv := sharedServer(t)
	admin := adminAPI(t, srv)
	revoked := issueByAPI(t, srv)
	admin.must("POST", "/api/v1/admin/certificates/"+revoked.id+"/revoke", map[string]any{"reason": "found_id_card"}, nil)
	loggedOut := issueByAPI(t, srv)
	loggedOut.api.must("DELETE", "/api/v1/session", nil, nil)

	staff := staffTab(t)
	chooseOperation(staff, "entry")
	for _, tt := range []struct {
		name, code, reason, text string
	}{
		{"a revoked certificate's code from ten minutes ago", revoked.code(t, time.Now().Add(-10*time.Minute)), "revoked", "撤销"},
		{"a logged-out phone's code from ten minutes ago", loggedOut.code(t, time.Now().Add(-10*time.Minute)), "device_revoked", "请旅客重新人脸核验后出示"},
		{"garbage", "TID1:NOT-A-CODE-AT-ALL", "malformed", "格式无效"},
		{"a QR code of something else", "https://example.invalid/ticket?id=42", "malformed", "格式无效"},
	} {
		wedgeScan(staff, tt.code)
		if got := staff.attr("result", "data-reason"); got != tt.reason {
			t.Errorf("%s: reason %q, want %s", tt.name, got, tt.reason)
		}
		if got := resultText(staff, "result-reason"); !strings.Contains(got, tt.text) {
			t.Errorf("%s: the card says %q, want it to say %q", tt.name, got, tt.text)
		}
		if tt.reason == "device_revoked" {
			staff.screenshot("staff-device-revoked")
		} else {
			staff.axe("the staff console: " + tt.name)
		}
	}
}

// TestAnAdminPicksAStationBeforeVerifyingAndStaffVerifyAtTheirOwn: an
// admin, bound to no station, names one in the staff console before the
// scanner appears, and the verification is recorded there; staff naming
// another station are refused with 403.
func TestAnAdminPicksAStationBeforeVerifyingAndStaffVerifyAtTheirOwn(t *testing.T) {
	srv := sharedServer(t)
	cert := issueByAPI(t, srv)
	tb := consoleTab(t, sharedBrowser(t), "/staff", "admin")
	tb.waitFor("the station form", `!!document.getElementById('station-code')`)
	if evalJS[bool](tb, `!!document.getElementById('scan-input')`) {
		t.Fatal("the scanner is offered before a station is chosen")
	}
	if got := evalJS[int](tb, `document.querySelectorAll('h1').length`); got != 1 {
		t.Errorf("the station form has %d h1, want 1", got)
	}
	tb.fill("station-code", "B1")
	tb.clickCSS(`[data-testid=station-go]`)
	tb.waitFor("the refusal of a code that is not three letters", `!!document.querySelector('[data-testid=station-code-error]')`)
	tb.axe("the station form refusing a code")
	evalJS[bool](tb, `(() => { const i = document.getElementById('station-code'); i.value = ''; i.dispatchEvent(new Event('input', { bubbles: true })); return true; })()`)
	tb.fill("station-code", "shh")
	tb.screenshot("staff-admin-station")
	tb.clickCSS(`[data-testid=station-go]`)
	tb.waitFor("the scanner", `!!document.getElementById('scan-input')`)
	if got := evalJS[string](tb, `document.querySelector('[data-testid=staff-station]')?.dataset.station ?? ''`); got != "SHH" {
		t.Errorf("the console verifies at %q, want SHH", got)
	}
	chooseOperation(tb, "entry")
	wedgeScan(tb, cert.code(t, time.Now()))
	if got := tb.attr("result", "data-verdict"); got != "valid" {
		t.Fatalf("the admin's verification: %q (%s)", got, resultText(tb, "result-reason"))
	}
	// The audit log records it at SHH, by the admin.
	var audit struct {
		Entries []struct {
			Detail struct {
				Station string `json:"station"`
			} `json:"detail"`
			ActorName string `json:"actor_name"`
		} `json:"entries"`
	}
	adminAPI(t, srv).must("GET", "/api/v1/admin/audit?action=verification&actor_name=admin&order=desc&limit=1", nil, &audit)
	if len(audit.Entries) != 1 || audit.Entries[0].Detail.Station != "SHH" {
		t.Errorf("the admin's verification recorded as %+v, want at SHH", audit.Entries)
	}
	// After a reload the station is remembered for the session; it can be changed.
	tb.open("/staff")
	tb.waitFor("the scanner again", `!!document.getElementById('scan-input')`)
	tb.clickCSS(`[data-testid=station-change]`)
	tb.waitFor("the station form again", `!!document.getElementById('station-code')`)

	// Staff are bound to their station: the console offers no choice, and
	// the API refuses another station.
	staff := staffTab(t)
	if evalJS[bool](staff, `!!document.querySelector('[data-testid=station-change]')`) {
		t.Error("staff are offered another station")
	}
	api, err := loginAPI(t, srv, "staff", srv.passwords["staff"])
	if err != nil {
		t.Fatal(err)
	}
	other := issueByAPI(t, srv)
	err = api.send("POST", "/api/v1/verifications", "application/json",
		[]byte(fmt.Sprintf(`{"code":%q,"operation":"entry","station_code":"SHH"}`, other.code(t, time.Now()))), nil)
	var refused *apiError
	if !errors.As(err, &refused) || refused.Status != 403 || refused.Code != "forbidden" {
		t.Errorf("staff naming another station: %v, want 403 forbidden", err)
	}
}

// TestTheAuditLogReadsInWordsFiltersAndExportsCSV: newest first, actors by
// name and role, actions and details in words, times labelled China
// Standard Time; filters by actor, action and dates; the CSV holds what
// the filters select; the chain check names the first bad entry's number.
func TestTheAuditLogReadsInWordsFiltersAndExportsCSV(t *testing.T) {
	srv := sharedServer(t)
	cert := issueByAPI(t, srv)
	staff := staffTab(t)
	chooseOperation(staff, "entry")
	wedgeScan(staff, cert.code(t, time.Now()))

	admin := consoleTab(t, sharedBrowser(t), "/admin", "admin")
	admin.waitFor("the dashboard", `!!document.getElementById('tab-audit')`)
	admin.click("tab-audit")
	admin.waitFor("the audit log", `document.querySelectorAll('[data-testid=audit-row]').length > 1`)
	if !evalJS[bool](admin, `[...document.querySelectorAll('[data-testid=audit-row]')].every((r, i, all) => i === 0 || Number(all[i-1].dataset.id) > Number(r.dataset.id))`) {
		t.Error("the audit log is not newest first")
	}
	if evalJS[bool](admin, `[...document.querySelectorAll('[data-testid=audit-actor-name]')].some((c) => /^(account|terminal):/.test(c.textContent.trim()))`) {
		t.Error("an actor is shown as its id, not its name")
	}
	if got := evalJS[string](admin, `document.querySelector('[data-testid=audit-zone]')?.textContent ?? ''`); !strings.Contains(got, "北京时间") {
		t.Errorf("the times' zone is labelled %q", got)
	}
	if got := evalJS[int](admin, `document.querySelectorAll('h1').length`); got != 1 {
		t.Errorf("the audit page has %d h1, want 1", got)
	}

	// Filter: the staff member's verifications today (China Standard Time).
	today := time.Now().In(time.FixedZone("CST", 8*3600)).Format("2006-01-02")
	admin.fill("audit-actor", "staff")
	selectOption(admin, "audit-action", "verification")
	setDate(admin, "audit-from", today)
	setDate(admin, "audit-to", today)
	admin.clickCSS(`[data-testid=audit-filter]`)
	rows := `[...document.querySelectorAll('[data-testid=audit-row]')]`
	admin.waitFor("the filtered log", rows+`.length > 0 && `+rows+`.every((r) => r.dataset.actorName === 'staff' && r.dataset.action === 'verification')`)
	first := rows + `[0]`
	if got := evalJS[string](admin, first+`.querySelector('[data-testid=audit-actor-role]').textContent.trim()`); got != "车站工作人员" {
		t.Errorf("the staff member's role reads %q", got)
	}
	if got := evalJS[string](admin, first+`.querySelector('[data-testid=audit-action-name]').textContent.trim()`); got != "核验" {
		t.Errorf("the action reads %q", got)
	}
	detail := evalJS[string](admin, first+`.querySelector('[data-testid=audit-detail]').textContent.trim()`)
	if !strings.HasPrefix(detail, "进站：有效") || !strings.Contains(detail, "车站 BJP") || strings.Contains(detail, "{") {
		t.Errorf("the detail reads %q, want a sentence", detail)
	}
	admin.screenshot("admin-5-audit")
	shown := evalJS[int](admin, rows+`.length`)

	// The CSV holds the filtered entries. The page's CSP keeps fetch away
	// from blob: URLs, so the test keeps the file the console makes.
	evalJS[bool](admin, `(() => {
		const make = URL.createObjectURL;
		URL.createObjectURL = (blob) => { window.__csv = blob; return make(blob); };
		return true;
	})()`)
	admin.clickCSS(`[data-testid=audit-export]`)
	admin.waitFor("the CSV", `!!document.querySelector('[data-testid=audit-csv-link]') && !!window.__csv`)
	text := evalJS[string](admin, `window.__csv.text()`)
	records, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(text, "\ufeff"))).ReadAll()
	if err != nil {
		t.Fatalf("the CSV does not parse: %v\n%s", err, text)
	}
	if len(records) != shown+1 {
		t.Errorf("the CSV has %d entries, the filtered log %d", len(records)-1, shown)
	}
	if len(records) > 0 && (records[0][0] != "编号" || records[0][2] != "操作人" || records[0][1] != "时间（北京时间）") {
		t.Errorf("the CSV's header is %v", records[0])
	}
	for _, r := range records[1:] {
		if len(r) < 8 || r[2] != "staff" || r[3] != "车站工作人员" || r[4] != "verification" || r[5] != "核验" || !strings.Contains(r[7], "车站 BJP") {
			t.Errorf("a CSV row does not match the filters: %v", r)
		}
		if strings.Contains(strings.Join(r, ","), cert.person.idNumber) {
			t.Error("the CSV holds a full ID number")
		}
	}

	// A date range with nothing in it.
	setDate(admin, "audit-from", time.Now().AddDate(0, 0, 2).Format("2006-01-02"))
	setDate(admin, "audit-to", time.Now().AddDate(0, 0, 3).Format("2006-01-02"))
	admin.clickCSS(`[data-testid=audit-filter]`)
	admin.waitFor("an empty log for the future", `!!document.querySelector('[data-testid=audit-empty]')`)
	admin.axe("the audit log filtered to nothing")
	admin.clickCSS(`[data-testid=audit-clear]`)
	admin.waitFor("the whole log again", rows+`.some((r) => r.dataset.actorName === 'admin')`)

	// The chain check: intact here; a broken chain (as the server answers
	// it) names the entry's number, not "[object Object]".
	admin.click("audit-verify")
	admin.waitFor("the chain check", `document.getElementById('audit-verify-result')?.dataset.ok === 'true'`)
	evalJS[bool](admin, `(() => {
		const real = window.fetch;
		window.fetch = (url, opts) => String(url).includes('/audit/verify')
			? Promise.resolve(new Response(JSON.stringify({ ok: false, entries: 41, pending: 0, first_bad: { seq: 42, entry_id: 4242, reason: 'the entry does not match its link' } }), { status: 200, headers: { 'Content-Type': 'application/json' } }))
			: real(url, opts);
		return true;
	})()`)
	admin.click("audit-verify")
	admin.waitFor("the broken chain", `document.getElementById('audit-verify-result')?.dataset.ok === 'false'`)
	admin.axe("the audit log with a broken chain")
	got := resultText(admin, "audit-verify-result")
	if !strings.Contains(got, "4242") || strings.Contains(got, "object") {
		t.Errorf("the broken chain reads %q, want the entry number 4242", got)
	}
}

// setDate sets a date input's value as the date picker does.
func setDate(tb *tab, id, value string) {
	tb.t.Helper()
	evalJS[bool](tb, fmt.Sprintf(`(() => { const i = document.getElementById(%q); i.value = %q; i.dispatchEvent(new Event('input', { bubbles: true })); return true; })()`, id, value))
	tb.waitFor("the date "+value, fmt.Sprintf(`document.getElementById(%q)?.value === %q`, id, value))
}

// TestTheDashboardChartsAreReadableAndSplitTheFailures: the charts' text is
// at least 12 px, and failures are split into real rejections, replays
// and malformed scans.
func TestTheDashboardChartsAreReadableAndSplitTheFailures(t *testing.T) {
	srv := sharedServer(t)
	cert := issueByAPI(t, srv)
	code := cert.code(t, time.Now())
	verifyOnline(t, srv, code, "entry")
	if v := verifyOnline(t, srv, code, "entry"); v.Reason != "replayed" {
		t.Fatalf("the second scan: %q, want replayed", v.Reason)
	}
	if v := verifyOnline(t, srv, "TID1:GARBAGE", "entry"); v.Reason != "malformed" {
		t.Fatalf("garbage: %q, want malformed", v.Reason)
	}

	admin := consoleTab(t, sharedBrowser(t), "/admin", "admin")
	admin.waitFor("the charts", `document.querySelectorAll('.uchart canvas').length >= 2 && !!document.querySelector('[data-testid=failure-split]')`)
	for _, which := range []string{"replayed", "malformed"} {
		admin.waitFor("the "+which+" scans counted", fmt.Sprintf(`Number(document.querySelector('[data-testid=split-%s]')?.dataset.count) >= 1`, which))
	}
	// Text the page draws (legends, axis titles, bar labels) measured as
	// rendered; the axis ticks on the canvas use the size the chart says.
	sizes := evalJS[[]float64](admin, `[...document.querySelectorAll('.uchart .u-legend th, .uchart .u-legend td, .uchart .u-label, .hbar-label, .hbar-value, .split span')]
		.filter((e) => e.textContent.trim() !== '').map((e) => parseFloat(getComputedStyle(e).fontSize))`)
	if len(sizes) < 4 {
		t.Fatalf("measured %d chart texts, want the legends, labels and bars", len(sizes))
	}
	for _, s := range sizes {
		if s < 12 {
			t.Errorf("a chart text is %.1f px, want at least 12 (all: %v)", s, sizes)
			break
		}
	}
	axis := evalJS[[]float64](admin, `[...document.querySelectorAll('.uchart')].map((e) => Number(e.dataset.axisFontPx))`)
	if len(axis) < 2 {
		t.Errorf("%d charts say their axis text size, want 2", len(axis))
	}
	for _, s := range axis {
		if s < 12 {
			t.Errorf("a chart's axis text is %.1f px, want at least 12", s)
		}
	}
	if evalJS[bool](admin, `!!document.querySelector('main svg.chart')`) {
		t.Error("a hand-drawn SVG chart is still on the dashboard")
	}
	admin.screenshot("admin-4-charts")
}

// TestAnAdminRevokesWithAReasonFromTheListAndDisablesStaffAndTerminals.
func TestAnAdminRevokesWithAReasonFromTheListAndDisablesStaffAndTerminals(t *testing.T) {
	srv := sharedServer(t)
	cert := issueByAPI(t, srv)
	admin := consoleTab(t, sharedBrowser(t), "/admin", "admin")
	admin.waitFor("the dashboard", `!!document.getElementById('tab-certificates')`)
	admin.click("tab-certificates")
	admin.fill("search-id-number", cert.person.idNumber)
	admin.click("search-submit")
	row := fmt.Sprintf(`[data-testid=cert-row][data-id=%q]`, cert.id)
	admin.waitFor("the certificate", fmt.Sprintf(`document.querySelector(%q)?.dataset.status === 'active'`, row))
	admin.clickCSS(fmt.Sprintf(`[data-testid=cert-revoke][data-id=%q]`, cert.id))
	admin.waitFor("the reasons", `document.getElementById('revoke-reason')?.options.length === 5`)
	if got := evalJS[string](admin, `[...document.getElementById('revoke-reason').options].slice(1).map((o) => o.textContent.trim()).join('/')`); got != "旅客已找回身份证/信息有误/疑似冒用/其他" {
		t.Errorf("the reasons offered are %q", got)
	}
	// Other needs a note.
	selectOption(admin, "revoke-reason", "other")
	admin.click("revoke-confirm")
	admin.waitFor("the note asked for", `!!document.querySelector('[data-testid=revoke-note-required]') || document.getElementById('revoke-note').matches(':invalid')`)
	admin.axe("the revoke form asking for a note")
	selectOption(admin, "revoke-reason", "found_id_card")
	sees := evalJS[string](admin, `document.querySelector('[data-testid=revoke-passenger-sees]')?.textContent ?? ''`)
	if !strings.Contains(sees, "旅客") || !strings.Contains(sees, "旅客已找回身份证") {
		t.Errorf("the console says the passenger sees %q", sees)
	}
	admin.fill("revoke-note", "本人来电")
	admin.screenshot("admin-revoke-reason")
	admin.click("revoke-confirm")
	admin.waitFor("the revocation", fmt.Sprintf(`document.querySelector(%q + ' [data-testid=cert-revoke-reason]')?.dataset.reason === 'found_id_card'`, row))
	if got := evalJS[string](admin, fmt.Sprintf(`document.querySelector(%q + ' [data-testid=cert-revoke-reason]').textContent.trim()`, row)); got != "旅客已找回身份证" {
		t.Errorf("the row's reason reads %q", got)
	}

	// A staff member disabled cannot log in; enabled, they can.
	suffix := fmt.Sprintf("%d", time.Now().UnixNano()%1_000_000_000)
	user, password := "clerk-"+suffix, "clerk-pass-"+suffix
	adminAPI(t, srv).must("POST", "/api/v1/admin/staff", map[string]any{"username": user, "password": password, "role": "staff", "station_code": "BJP"}, nil)
	clerk, err := loginAPI(t, srv, user, password)
	if err != nil {
		t.Fatal(err)
	}
	admin.click("tab-staff")
	staffRow := fmt.Sprintf(`document.querySelector('[data-testid=staff-row][data-username=%q]')`, user)
	admin.waitFor("the clerk in the list", staffRow+`?.dataset.disabled === 'false'`)
	evalJS[bool](admin, staffRow+`.querySelector('[data-testid=staff-disable]').click() || true`)
	admin.waitFor("the clerk disabled", staffRow+`?.dataset.disabled === 'true'`)
	if _, err := loginAPI(t, srv, user, password); err == nil {
		t.Error("a disabled staff member logs in")
	}
	if err := clerk.send("GET", "/api/v1/verifier", "", nil, nil); err == nil {
		t.Error("a disabled staff member's session still works")
	}
	admin.screenshot("admin-staff-disabled")
	evalJS[bool](admin, staffRow+`.querySelector('[data-testid=staff-edit]').click() || true`)
	admin.waitFor("the station input", `!!document.querySelector('[data-testid=staff-edit-station]')`)
	admin.axe("a staff member's station being edited")
	evalJS[bool](admin, `(() => { const i = document.querySelector('[data-testid=staff-edit-station]'); i.value = 'SHH'; i.dispatchEvent(new Event('input', { bubbles: true })); return true; })()`)
	admin.clickCSS(`[data-testid=staff-save]`)
	admin.waitFor("the clerk moved", staffRow+`?.dataset.station === 'SHH'`)
	evalJS[bool](admin, staffRow+`.querySelector('[data-testid=staff-enable]').click() || true`)
	admin.waitFor("the clerk enabled", staffRow+`?.dataset.disabled === 'false'`)
	if _, err := loginAPI(t, srv, user, password); err != nil {
		t.Errorf("an enabled staff member cannot log in: %v", err)
	}

	// A terminal renamed and disabled: its key is refused until enabled.
	var nt struct {
		Terminal struct {
			ID string `json:"id"`
		} `json:"terminal"`
		APIKey string `json:"api_key"`
	}
	adminAPI(t, srv).must("POST", "/api/v1/admin/terminals", map[string]any{"name": "手持机-" + suffix, "station_code": "BJP"}, &nt)
	gate := newAPIClient(t, srv)
	gate.bearer = nt.APIKey
	admin.click("tab-terminals")
	termRow := fmt.Sprintf(`document.querySelector('[data-testid=terminal-row][data-id=%q]')`, nt.Terminal.ID)
	admin.waitFor("the terminal in the list", termRow+`?.dataset.disabled === 'false'`)
	evalJS[bool](admin, termRow+`.querySelector('[data-testid=terminal-edit]').click() || true`)
	admin.waitFor("the name input", `!!document.querySelector('[data-testid=terminal-edit-name]')`)
	admin.axe("a terminal being edited")
	evalJS[bool](admin, fmt.Sprintf(`(() => { const i = document.querySelector('[data-testid=terminal-edit-name]'); i.value = %q; i.dispatchEvent(new Event('input', { bubbles: true })); return true; })()`, "二号手持机-"+suffix))
	admin.clickCSS(`[data-testid=terminal-save]`)
	admin.waitFor("the terminal renamed", fmt.Sprintf(`%s?.dataset.name === %q`, termRow, "二号手持机-"+suffix))
	evalJS[bool](admin, termRow+`.querySelector('[data-testid=terminal-disable]').click() || true`)
	admin.waitFor("the terminal disabled", termRow+`?.dataset.disabled === 'true'`)
	var refused *apiError
	if err := gate.send("GET", "/api/v1/verifier", "", nil, nil); !errors.As(err, &refused) || refused.Status != 401 {
		t.Errorf("a disabled terminal's key: %v, want 401", err)
	}
	evalJS[bool](admin, termRow+`.querySelector('[data-testid=terminal-enable]').click() || true`)
	admin.waitFor("the terminal enabled", termRow+`?.dataset.disabled === 'false'`)
	if err := gate.send("GET", "/api/v1/verifier", "", nil, nil); err != nil {
		t.Errorf("an enabled terminal's key: %v", err)
	}
	admin.screenshot("admin-terminals-edit")
}
