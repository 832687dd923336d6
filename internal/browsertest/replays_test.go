package browsertest

import (
	"fmt"
	"testing"
	"time"
)

// TestAnAdminSeesAnAfterTheFactReplayAndRevokes: a gate verified one code
// twice offline for the same operation; when it uploads its scans the
// second is flagged, the admin console lists it (time, station, terminal,
// certificate) and the admin revokes the certificate from the row.
func TestAnAdminSeesAnAfterTheFactReplayAndRevokes(t *testing.T) {
	srv := sharedServer(t)
	cert := issueByAPI(t, srv)
	now := time.Now()
	code := cert.code(t, now)
	scan := func(id string) map[string]any {
		return map[string]any{"client_id": id, "code": code, "operation": "entry", "verdict": "valid", "scanned_at": now.Format(time.RFC3339Nano)}
	}
	var out struct {
		Results []struct {
			ClientID     string `json:"client_id"`
			Status       string `json:"status"`
			AfterTheFact string `json:"after_the_fact"`
		} `json:"results"`
	}
	first, second := "browser-replay-1-"+cert.id[:8], "browser-replay-2-"+cert.id[:8]
	terminal(t, srv).must("POST", "/api/v1/terminal/scans", map[string]any{"scans": []any{scan(first), scan(second)}}, &out)
	if len(out.Results) != 2 || out.Results[0].AfterTheFact != "" || out.Results[1].AfterTheFact != "replayed" {
		t.Fatalf("upload results %+v, want the second flagged replayed", out.Results)
	}

	c := sharedBrowser(t)
	admin := consoleTab(t, c, "/admin", "admin")
	admin.waitFor("the dashboard", `!!document.getElementById('tab-replays')`)
	admin.click("tab-replays")
	row := fmt.Sprintf(`[data-testid=replay-row][data-certificate=%q]`, cert.id)
	admin.waitFor("the replay listed", fmt.Sprintf(`!!document.querySelector(%q)`, row))
	admin.waitFor("station and terminal in the row", fmt.Sprintf(`document.querySelector(%q).textContent.includes('BJP')`, row))
	admin.clickCSS(row + ` [data-testid=replay-revoke]`)
	admin.clickCSS(row + ` [data-testid=replay-revoke-confirm]`)
	admin.waitFor("the certificate revoked", fmt.Sprintf(`!document.querySelector(%q + ' [data-testid=replay-revoke]') && document.querySelector(%q).textContent.includes('已撤销')`, row, row))
	admin.screenshot("admin-3-replays")

	if v := verifyOnline(t, srv, cert.code(t, time.Now()), "ticket_check"); v.Reason != "revoked" {
		t.Errorf("after revoking from the replay list: verdict %q reason %q, want revoked", v.Verdict, v.Reason)
	}
}
