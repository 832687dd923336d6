package httpapi_test

import (
	"strings"
	"testing"
	"time"

	"tempid/internal/httpapi/apiv1"
	"tempid/internal/store"
	"tempid/internal/store/storetest"
)

// TestOwnerSeesWhyACertificateEnded: the account that applied for a
// certificate reads which one superseded it and why it was revoked, in
// the history and on its own; the bytes of a superseded one are pinned.
func TestOwnerSeesWhyACertificateEnded(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		a := newAppAt(t, s, time.Date(2030, 5, 10, 9, 0, 0, 0, time.UTC))
		c := a.client()
		me := newPerson("历史")
		c.signUp(me)
		r := c.apply(me, c.passedCheck(me))
		c.want(r, 201, "")
		first := as[apiv1.Applied](r).Certificate.ID
		// Within R5's last 3 hours a new one supersedes it.
		a.clock.Advance(22 * time.Hour)
		c.relogin()
		r = c.apply(me, c.passedCheck(me))
		c.want(r, 201, "")
		second := as[apiv1.Applied](r).Certificate.ID

		r = c.json("GET", "/api/v1/certificates/"+first, nil)
		c.want(r, 200, "")
		if got := as[apiv1.CertificateResponse](r).Certificate.SupersededBy; got != second {
			t.Errorf("superseded_by %q, want %q", got, second)
		}
		want := `{"certificate":{"channel":"app","city":{"code":"440100","name":"广州市"},"expires_at":"<time>","holder":{"id_number_masked":"` + me.id.Masked() +
			`","name_masked":"历*"},"id":"<id>","issued_at":"<time>","renewable_at":"<time>","status":"superseded","superseded_by":"<second>"}}` + "\n"
		if got := strings.Replace(pin(r.raw), second, "<second>", 1); got != want {
			t.Errorf("superseded certificate:\n got %s\nwant %s", got, want)
		}

		admin := a.admin()
		admin.want(admin.json("POST", "/api/v1/admin/certificates/"+second+"/revoke", map[string]any{"reason": "found_id_card"}), 200, "")
		r = c.json("GET", "/api/v1/certificates/"+second, nil)
		c.want(r, 200, "")
		if got := as[apiv1.CertificateResponse](r).Certificate; got.Status != "revoked" || got.RevokeReason != "found_id_card" || got.SupersededBy != "" {
			t.Errorf("revoked certificate: %+v", got)
		}
		r = c.json("GET", "/api/v1/certificates?month=2030-05", nil)
		c.want(r, 200, "")
		seen := map[string]apiv1.Certificate{}
		for _, x := range as[apiv1.Certificates](r).Certificates {
			seen[x.ID] = x
		}
		if seen[first].SupersededBy != second || seen[second].RevokeReason != "found_id_card" {
			t.Errorf("history: %s", r.raw)
		}
		// Another account sees neither.
		other := a.client()
		other.signUp(newPerson("旁人"))
		other.want(other.json("GET", "/api/v1/certificates/"+first, nil), 404, "not_found")
	})
}
