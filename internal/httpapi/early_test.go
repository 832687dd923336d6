package httpapi_test

import (
	"strings"
	"testing"
	"time"

	"tempid/internal/face/facetest"
	"tempid/internal/httpapi/apiv1"
	"tempid/internal/policy"
	"tempid/internal/registry"
	"tempid/internal/store"
	"tempid/internal/store/storetest"
)

// startApply starts an account's apply face check for p and returns the
// answer, without capturing.
func (c *client) startApply(p person, consent bool) answer {
	c.a.t.Helper()
	return c.json("POST", "/api/v1/face-checks", map[string]any{"purpose": "apply",
		"subject": map[string]any{"name": p.name, "id_number": p.id.String()}, "device_key": c.jwk(), "consent": consent})
}

// TestEarlyRefusal: an account that starts an apply face check for its own
// identity, or for a person it applied for before, hears R5 (409 with
// renewable_at) and R2 (429 with resets_at) at once, after the refusals
// API.md puts first; for a stranger, and for a guest, the check starts and
// the refusal comes only with the application (SPEC "Early refusal").
func TestEarlyRefusal(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		// Mid-month, so that three days of certificates fall in one month.
		me, friend, stranger := newPerson("早拒"), newPerson("同行"), newPerson("陌生")
		var list strings.Builder
		for _, p := range []person{me, friend, stranger} {
			list.WriteString(p.name + "," + p.id.String() + "\n")
		}
		at := time.Date(2030, 5, 10, 9, 0, 0, 0, time.UTC)
		reg, err := registry.ParseFile(strings.NewReader(list.String()), at)
		if err != nil {
			t.Fatal(err)
		}
		a := newAppWith(t, s, at, reg, policy.Default())
		c := a.client()
		c.signUp(me)
		c.want(c.apply(me, c.passedCheck(me)), 201, "")

		// Own identity: the refusals before R5 keep their order.
		bad := string(me.id[:17]) + "0"
		if me.id[17] == '0' {
			bad = string(me.id[:17]) + "1"
		}
		c.want(c.json("POST", "/api/v1/face-checks", map[string]any{"purpose": "apply",
			"subject": map[string]any{"name": me.name, "id_number": bad}, "device_key": c.jwk(), "consent": false}), 400, "invalid_id_number")
		c.want(c.startApply(me, false), 403, "consent_required")
		c.want(c.startApply(person{name: "别人", id: me.id}, true), 422, "identity_mismatch")
		r := c.startApply(me, true)
		c.want(r, 409, "active_certificate_exists")
		renewable, _ := r.problem["renewable_at"].(string)
		if at, err := time.Parse(time.RFC3339, renewable); err != nil || !at.Equal(a.clock.Now().Add(21*time.Hour)) {
			t.Errorf("renewable_at %q, want 21 h from now", renewable)
		}

		// A companion this account applied for: the same at once.
		c.want(c.apply(friend, c.passedCheck(friend)), 201, "")
		c.want(c.startApply(friend, true), 409, "active_certificate_exists")

		// A stranger whose certificate another account applied for: the
		// check starts; R5 answers only at the application.
		other := a.client()
		other.signUp(stranger)
		other.want(other.apply(stranger, other.passedCheck(stranger)), 201, "")
		r = c.startApply(stranger, true)
		c.want(r, 201, "")
		fc := as[apiv1.FaceCheckResponse](r).FaceCheck
		c.want(c.do("POST", fc.CaptureURL, "image/jpeg", facetest.SampleJPEG()), 200, "")
		c.want(c.apply(stranger, fc.ID), 409, "active_certificate_exists")

		// A guest is never told early, even for this very person.
		g := a.guest()
		g.want(g.guestStart("apply", me), 201, "")

		// R2: three certificates this month for the companion, each after
		// the last expired; the fourth check is refused when it starts.
		for range 2 {
			a.clock.Advance(25 * time.Hour)
			c.relogin()
			c.want(c.apply(friend, c.passedCheck(friend)), 201, "")
		}
		a.clock.Advance(25 * time.Hour)
		c.relogin()
		r = c.startApply(friend, true)
		c.want(r, 429, "quota_exhausted")
		if resets, _ := r.problem["resets_at"].(string); resets == "" {
			t.Error("no resets_at member")
		}
		// Its own identity, with R5 spent by expiry, may start.
		c.want(c.startApply(me, true), 201, "")
		// The stranger's quota is not told early either: the other account
		// spends it, and this account's check still starts.
		for range 2 {
			other.relogin()
			other.want(other.apply(stranger, other.passedCheck(stranger)), 201, "")
			a.clock.Advance(25 * time.Hour)
		}
		c.relogin()
		other.relogin()
		other.want(other.startApply(stranger, true), 429, "quota_exhausted")
		c.want(c.startApply(stranger, true), 201, "")
	})
}
