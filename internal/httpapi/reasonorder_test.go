package httpapi_test

import (
	"testing"
	"time"

	"tempid/internal/online"
	"tempid/internal/store"
	"tempid/internal/store/storetest"
)

// TestOnlineReasonOrder: online verification gives, of several failures,
// the first in CREDENTIAL.md's "Reason order", so a clerk is told the state
// a retry cannot change: a revoked certificate's old code is revoked, not
// code_expired (which would send the passenger to refresh the phone).
func TestOnlineReasonOrder(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		a := newCredApp(t, s, time.Now())
		gate := a.terminal("Gate 1", false)
		admin := a.staff(store.RoleAdmin)
		base := a.clock.Now()
		revoke := func(h *holder) {
			admin.want(admin.json("POST", "/api/v1/admin/certificates/"+h.certID+"/revoke", map[string]any{"reason": "reported lost"}), 200, "")
		}
		logout := func(h *holder) { h.c.want(h.c.json("DELETE", "/api/v1/session", nil), 204, "") }
		for _, tt := range []struct {
			name   string
			code   func() string
			at     time.Duration
			reason string
		}{
			{"a revoked certificate's code from ten minutes ago is revoked, not code_expired", func() string {
				h := a.holder("吴一")
				revoke(h)
				return h.code(base.Add(-10 * time.Minute))
			}, 0, "revoked"},
			{"a revoked certificate's code after its pass ended is revoked, not pass_expired", func() string {
				h := a.holder("吴二")
				revoke(h)
				return h.code(base.Add(40 * time.Minute))
			}, 40 * time.Minute, "revoked"},
			{"a revoked certificate of a logged-out device is revoked, not device_revoked", func() string {
				h := a.holder("吴三")
				logout(h)
				revoke(h)
				return h.code(base)
			}, 0, "revoked"},
			{"a logged-out device's code from ten minutes ago is device_revoked, not code_expired", func() string {
				h := a.holder("吴四")
				logout(h)
				return h.code(base.Add(-10 * time.Minute))
			}, 0, "device_revoked"},
			{"an expired certificate's old code is certificate_expired, not code_expired", func() string {
				h := a.holder("吴五")
				return h.code(base.Add(24*time.Hour - 10*time.Minute))
			}, 24*time.Hour + time.Minute, "certificate_expired"},
			{"garbage is malformed", func() string { return "HC1:6BFOXN%TS3DH0YOJ58S S-W5HDC *M0II5XHC9B5G2+$N" }, 0, "malformed"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				a.clock.Set(base)
				code := tt.code()
				a.clock.Set(base.Add(tt.at))
				defer a.clock.Set(base)
				wantVerdict(t, a.verify(gate, code, online.Entry), "invalid", tt.reason, false)
			})
		}
	})
}
