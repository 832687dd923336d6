package httpapi_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"tempid/internal/bundle"
	"tempid/internal/credential"
	"tempid/internal/online"
	"tempid/internal/store"
	"tempid/internal/store/storetest"
	"tempid/internal/verify"
	"tempid/internal/verify/jsverify"
)

// jsTrust is a bundle's trust in the browser verifier's terms.
func jsTrust(p *bundle.Payload) jsverify.Trust {
	b64 := base64.RawURLEncoding.EncodeToString
	t := jsverify.Trust{RevokedCertificates: []string{}, RevokedDevices: []string{}, SealKeys: []jsverify.SealKey{}}
	for _, k := range p.IssuerKeys {
		t.IssuerKeys = append(t.IssuerKeys, jsverify.IssuerKey{KID: hex.EncodeToString(k.KID[:]), PublicKey: b64(k.Public), NotBefore: k.NotBefore, NotAfter: k.NotAfter})
	}
	for _, id := range p.RevokedCertificates {
		t.RevokedCertificates = append(t.RevokedCertificates, hex.EncodeToString(id[:]))
	}
	for _, h := range p.RevokedDevices {
		t.RevokedDevices = append(t.RevokedDevices, hex.EncodeToString(h[:]))
	}
	for _, s := range p.SealKeys {
		t.SealKeys = append(t.SealKeys, jsverify.SealKey{KID: fmt.Sprintf("%04x", s.KID), Key: b64(s.Key)})
	}
	return t
}

// TestOneCorpusThroughTheServerGoAndTheBrowser runs codes of passes this
// server issued through the server (online), the Go verifier with the
// server's trust bundle (a gate) and the browser verifier with the same
// bundle (the /terminal app), and wants one reason from all three: a
// valid code and every failure the three can all give.
func TestOneCorpusThroughTheServerGoAndTheBrowser(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		a := newCredApp(t, s, time.Now())
		onlineGate, offline := a.terminal("Gate online", false), a.terminal("Gate offline", true)
		admin := a.staff(store.RoleAdmin)
		base := a.clock.Now()

		type entry struct {
			name string
			at   time.Duration // the clock when scanned, from base
			code func() string // made with the clock at base
			want verify.Reason
		}
		entries := []entry{
			{"a fresh code", 0, func() string { h := a.holder("蒋一"); return h.code(base) }, verify.ReasonValid},
			{"garbage", 0, func() string { return "TID1:GARBAGE" }, verify.ReasonMalformed},
			{"a DCC", 0, func() string { return "HC1:NCFOXN%TS3DH3ZSUZK+.V0ETD%65NL-AH" }, verify.ReasonMalformed},
			{"a pass from another issuer", 0, func() string {
				h := a.holder("蒋二")
				p, _ := credential.ParsePass(h.pass)
				_, foreign, _ := ed25519.GenerateKey(rand.Reader)
				p.Body.IssuerKID = credential.KeyID(foreign.Public().(ed25519.PublicKey))
				raw, err := credential.SignPass(p.Body, foreign)
				if err != nil {
					t.Fatal(err)
				}
				h.pass = raw
				return h.code(base)
			}, verify.ReasonUnknownKey},
			{"a pass with a damaged signature", 0, func() string { h := a.holder("蒋三"); h.pass[len(h.pass)-1] ^= 1; return h.code(base) }, verify.ReasonBadSignature},
			{"a revoked certificate", 0, func() string {
				h := a.holder("蒋四")
				admin.want(admin.json("POST", "/api/v1/admin/certificates/"+h.certID+"/revoke", map[string]any{"reason": "lost"}), 200, "")
				return h.code(base)
			}, verify.ReasonRevoked},
			{"a revoked certificate's old code", 0, func() string {
				h := a.holder("蒋五")
				admin.want(admin.json("POST", "/api/v1/admin/certificates/"+h.certID+"/revoke", map[string]any{"reason": "lost"}), 200, "")
				return h.code(base.Add(-10 * time.Minute))
			}, verify.ReasonRevoked},
			{"a logged-out device", 0, func() string {
				h := a.holder("蒋六")
				h.c.want(h.c.json("DELETE", "/api/v1/session", nil), 204, "")
				return h.code(base)
			}, verify.ReasonDeviceRevoked},
			{"a code made 30 s ago", 0, func() string { return a.holder("蒋七").code(base.Add(-30 * time.Second)) }, verify.ReasonValid},
			{"a code made 3 minutes ago", 0, func() string { return a.holder("蒋八").code(base.Add(-3 * time.Minute)) }, verify.ReasonCodeExpired},
			{"a pass 31 minutes old", 31 * time.Minute, func() string { return a.holder("蒋九").code(base.Add(31 * time.Minute)) }, verify.ReasonPassExpired},
			{"a certificate past its 24 hours", 24*time.Hour + time.Minute, func() string {
				return a.holder("蒋十").code(base.Add(24*time.Hour + time.Minute))
			}, verify.ReasonCertificateExpired},
		}
		type scanned struct {
			code  string
			at    time.Time
			trust string
		}
		var list []scanned
		trusts := map[string]jsverify.Trust{}
		goReasons := map[string]verify.Reason{}
		serverReasons := map[string]verify.Reason{}
		for _, e := range entries {
			a.clock.Set(base)
			code := e.code()
			at := base.Add(e.at)
			a.clock.Set(at)
			r := a.bearer("GET", "/api/v1/trust-bundle", offline, nil)
			p, err := bundle.Open(r.raw, a.keys.Published(at))
			if err != nil {
				t.Fatalf("%s: bundle: %v", e.name, err)
			}
			trusts[e.name] = jsTrust(p)
			goReasons[e.name] = bundle.Verify(code, at, p, 0, verify.Verifier{}).Reason
			v := a.verify(onlineGate, code, online.Entry)
			if v.status != 200 {
				t.Fatalf("%s: online: %d %s", e.name, v.status, v.raw)
			}
			reason, _ := v.fields()["reason"].(string)
			if reason == "" {
				reason = string(verify.ReasonValid)
			}
			serverReasons[e.name] = verify.Reason(reason)
			list = append(list, scanned{code: code, at: at, trust: e.name})
		}
		a.clock.Set(base)
		var cases []jsverify.Case
		for i, e := range entries {
			cases = append(cases, jsverify.Case{Name: e.name, Code: list[i].code, NowMS: list[i].at.UnixMilli(), Trust: e.name})
		}
		browser := jsverify.Run(t, trusts, cases)
		for _, e := range entries {
			t.Run(e.name, func(t *testing.T) {
				if got := serverReasons[e.name]; got != e.want {
					t.Errorf("server: %q, want %q", got, e.want)
				}
				if got := goReasons[e.name]; got != e.want {
					t.Errorf("Go with the bundle: %q, want %q", got, e.want)
				}
				if got := browser[e.name].Reason; got != e.want {
					t.Errorf("browser with the bundle: %q, want %q", got, e.want)
				}
			})
		}
	})
}
