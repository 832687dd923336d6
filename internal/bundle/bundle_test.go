package bundle_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"tempid/internal/bundle"
	"tempid/internal/credential"
	"tempid/internal/credential/credentialtest"
	"tempid/internal/verify"
)

var issuedAt = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

func issuerKey(priv ed25519.PrivateKey) verify.IssuerKey {
	pub := priv.Public().(ed25519.PublicKey)
	return verify.IssuerKey{
		KID:       credential.KeyID(pub),
		Public:    pub,
		NotBefore: issuedAt.Add(-30 * 24 * time.Hour),
		NotAfter:  issuedAt.Add(30 * 24 * time.Hour),
	}
}

func kidOf(priv ed25519.PrivateKey) [4]byte {
	return credential.KeyID(priv.Public().(ed25519.PublicKey))
}

func samplePayload() bundle.Payload {
	return bundle.Payload{
		IssuedAt:            issuedAt,
		NextUpdate:          issuedAt.Add(time.Hour),
		IssuerKeys:          []verify.IssuerKey{issuerKey(credentialtest.IssuerKey(1)), issuerKey(credentialtest.IssuerKey(2))},
		RevokedCertificates: [][16]byte{{0xab, 1}, {0xcd, 2}},
		RevokedDevices:      [][32]byte{{0xef, 3}},
		SealKeys:            []bundle.SealKey{{KID: 0x0a0b, Key: credentialtest.SealKey(1)}},
	}
}

func sign(t testing.TB, p bundle.Payload) []byte {
	t.Helper()
	priv := credentialtest.IssuerKey(1)
	raw, err := bundle.Sign(p, kidOf(priv), priv)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// envelope wraps payload JSON as the issuer would, so tests can sign
// payloads that bundle.Sign would refuse to produce.
func envelope(payload string, priv ed25519.PrivateKey) []byte {
	sig := ed25519.Sign(priv, []byte("tempid-bundle-v1"+payload))
	return fmt.Appendf(nil, `{"payload":%q,"kid":"%x","sig":%q}`,
		base64.RawURLEncoding.EncodeToString([]byte(payload)), kidOf(priv), base64.RawURLEncoding.EncodeToString(sig))
}

func TestSignThenOpenReturnsThePayload(t *testing.T) {
	want := samplePayload()
	raw := sign(t, want)
	for _, pinned := range []struct {
		name string
		keys []verify.IssuerKey
	}{
		{"with the issuer key pinned", []verify.IssuerKey{issuerKey(credentialtest.IssuerKey(1))}},
		{"with only integrity checked against the payload's own key", nil},
	} {
		t.Run(pinned.name, func(t *testing.T) {
			got, err := bundle.Open(raw, pinned.keys)
			if err != nil {
				t.Fatal(err)
			}
			if !got.IssuedAt.Equal(want.IssuedAt) || !got.NextUpdate.Equal(want.NextUpdate) {
				t.Errorf("times = %v, %v; want %v, %v", got.IssuedAt, got.NextUpdate, want.IssuedAt, want.NextUpdate)
			}
			if got, want := len(got.IssuerKeys), len(want.IssuerKeys); got != want {
				t.Fatalf("%d issuer keys, want %d", got, want)
			}
			for i, k := range got.IssuerKeys {
				w := want.IssuerKeys[i]
				if k.KID != w.KID || !k.Public.Equal(w.Public) || !k.NotBefore.Equal(w.NotBefore) || !k.NotAfter.Equal(w.NotAfter) {
					t.Errorf("issuer key %d = %+v, want %+v", i, k, w)
				}
			}
			if !slices.Equal(got.RevokedCertificates, want.RevokedCertificates) {
				t.Errorf("RevokedCertificates = %x, want %x", got.RevokedCertificates, want.RevokedCertificates)
			}
			if !slices.Equal(got.RevokedDevices, want.RevokedDevices) {
				t.Errorf("RevokedDevices = %x, want %x", got.RevokedDevices, want.RevokedDevices)
			}
			if got, want := fmt.Sprint(got.SealKeys), fmt.Sprint(want.SealKeys); got != want {
				t.Errorf("SealKeys = %s, want %s", got, want)
			}
		})
	}
}

func TestSignProducesTheWireFormOfCredentialMD(t *testing.T) {
	p := samplePayload()
	p.SealKeys = nil
	var env map[string]string
	if err := json.Unmarshal(sign(t, p), &env); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(slices.Sorted(maps.Keys(env)), ","), "kid,payload,sig"; got != want {
		t.Errorf("envelope members = %s, want %s", got, want)
	}
	if got, want := env["kid"], fmt.Sprintf("%x", kidOf(credentialtest.IssuerKey(1))); got != want {
		t.Errorf("kid = %q, want %q", got, want)
	}
	if strings.ContainsAny(env["payload"]+env["sig"], "=+/") {
		t.Errorf("payload or sig is not unpadded base64url")
	}
	payload, err := base64.RawURLEncoding.DecodeString(env["payload"])
	if err != nil {
		t.Fatal(err)
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(payload, &members); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(slices.Sorted(maps.Keys(members)), ","), "issued_at,issuer_keys,next_update,revoked_certificates,revoked_devices,seal_keys"; got != want {
		t.Errorf("payload members = %s, want %s", got, want)
	}
	tests := []struct {
		member string
		want   string
	}{
		{"issued_at", `"2026-03-01T08:00:00Z"`},
		{"seal_keys", `[]`},
		{"revoked_certificates", `["ab010000000000000000000000000000","cd020000000000000000000000000000"]`},
		{"revoked_devices", `["ef03000000000000000000000000000000000000000000000000000000000000"]`},
	}
	for _, tt := range tests {
		if got := string(members[tt.member]); got != tt.want {
			t.Errorf("%s = %s, want %s", tt.member, got, tt.want)
		}
	}
	var keys []map[string]string
	if err := json.Unmarshal(members["issuer_keys"], &keys); err != nil {
		t.Fatal(err)
	}
	k := keys[0]
	if got, want := strings.Join(slices.Sorted(maps.Keys(k)), ","), "alg,kid,not_after,not_before,public_key"; got != want {
		t.Errorf("issuer key members = %s, want %s", got, want)
	}
	pub := credentialtest.IssuerKey(1).Public().(ed25519.PublicKey)
	if got, want := k["public_key"], base64.RawURLEncoding.EncodeToString(pub); got != want {
		t.Errorf("public_key = %q, want %q", got, want)
	}
	if got, want := k["alg"], "Ed25519"; got != want {
		t.Errorf("alg = %q, want %q", got, want)
	}
}

func TestOpenRefusesBadBundles(t *testing.T) {
	priv := credentialtest.IssuerKey(1)
	pinned := []verify.IssuerKey{issuerKey(priv)}
	good := sign(t, samplePayload())
	var env map[string]string
	_ = json.Unmarshal(good, &env)
	reenvelope := func(change func(map[string]string)) []byte {
		e := map[string]string{}
		for k, v := range env {
			e[k] = v
		}
		change(e)
		out, _ := json.Marshal(e)
		return out
	}
	goodPayload, _ := base64.RawURLEncoding.DecodeString(env["payload"])
	pub := base64.RawURLEncoding.EncodeToString(priv.Public().(ed25519.PublicKey))
	key := func(kid, alg string) string {
		return fmt.Sprintf(`{"kid":%q,"alg":%q,"public_key":%q,"not_before":"2026-01-01T00:00:00Z","not_after":"2027-01-01T00:00:00Z"}`, kid, alg, pub)
	}
	kid := fmt.Sprintf("%x", kidOf(priv))
	payload := func(keys, certs, devices, seals string) string {
		return `{"issued_at":"2026-03-01T08:00:00Z","next_update":"2026-03-01T09:00:00Z","issuer_keys":[` + keys +
			`],"revoked_certificates":[` + certs + `],"revoked_devices":[` + devices + `],"seal_keys":[` + seals + `]}`
	}
	tests := []struct {
		name   string
		raw    []byte
		pinned []verify.IssuerKey
	}{
		{"a tampered payload", reenvelope(func(e map[string]string) {
			e["payload"] = base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(goodPayload), "2026-03-01T08", "2026-03-02T08", 1)))
		}), pinned},
		{"a wrong kid", reenvelope(func(e map[string]string) { e["kid"] = fmt.Sprintf("%x", kidOf(credentialtest.IssuerKey(2))) }),
			[]verify.IssuerKey{issuerKey(priv), issuerKey(credentialtest.IssuerKey(2))}},
		{"a signature by an unpinned key", sign(t, samplePayload()), []verify.IssuerKey{issuerKey(credentialtest.IssuerKey(2))}},
		{"an empty, non-nil pinned list", good, []verify.IssuerKey{}},
		{"an uppercase kid", reenvelope(func(e map[string]string) { e["kid"] = strings.ToUpper(e["kid"]) }), pinned},
		{"a truncated signature", reenvelope(func(e map[string]string) { e["sig"] = e["sig"][:40] }), pinned},
		{"a padded payload", reenvelope(func(e map[string]string) { e["payload"] += "=" }), pinned},
		{"an unknown envelope member", reenvelope(func(e map[string]string) { e["alg"] = "Ed25519" }), pinned},
		{"a missing envelope member", reenvelope(func(e map[string]string) { delete(e, "kid") }), pinned},
		{"an envelope member in another case", []byte(strings.Replace(string(good), `"payload"`, `"Payload"`, 1)), pinned},
		{"a duplicated envelope member", []byte(strings.Replace(string(good), `{`, `{"kid":"00000000",`, 1)), pinned},
		{"data after the envelope", append(append([]byte(nil), good...), "{}"...), pinned},
		{"an oversized envelope", make([]byte, bundle.MaxSize+1), pinned},
		{"an unknown payload member", envelope(strings.Replace(payload(key(kid, "Ed25519"), "", "", ""), `{`, `{"comment":"x",`, 1), priv), pinned},
		{"a missing seal_keys member", envelope(strings.Replace(payload(key(kid, "Ed25519"), "", "", ""), `,"seal_keys":[]`, ``, 1), priv), pinned},
		{"a null seal_keys member", envelope(strings.Replace(payload(key(kid, "Ed25519"), "", "", ""), `"seal_keys":[]`, `"seal_keys":null`, 1), priv), pinned},
		{"an issuer key with alg EdDSA", envelope(payload(key(kid, "EdDSA"), "", "", ""), priv), pinned},
		{"an issuer key whose kid is not its key's", envelope(payload(key("00000000", "Ed25519"), "", "", ""), priv), pinned},
		{"an uppercase revoked certificate", envelope(payload(key(kid, "Ed25519"), `"AB010000000000000000000000000000"`, "", ""), priv), pinned},
		{"a short revoked device", envelope(payload(key(kid, "Ed25519"), "", `"ef03"`, ""), priv), pinned},
		{"a seal key of 16 bytes", envelope(payload(key(kid, "Ed25519"), "", "", `{"kid":"0001","key":"AAAAAAAAAAAAAAAAAAAAAA"}`), priv), pinned},
		{"a seal key id of 3 hex digits", envelope(payload(key(kid, "Ed25519"), "", "", `{"kid":"001","key":"`+base64.RawURLEncoding.EncodeToString(credentialtest.SealKey(1))+`"}`), priv), pinned},
		{"a time that is not RFC 3339", envelope(strings.Replace(payload(key(kid, "Ed25519"), "", "", ""), "2026-03-01T08:00:00Z", "2026-03-01 08:00:00", 1), priv), pinned},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := bundle.Open(tt.raw, tt.pinned)
			if err == nil {
				t.Fatalf("Open() = %+v, want an error", p)
			}
			if !errors.Is(err, bundle.ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
		})
	}
	// The hand-made envelope itself is accepted, so the cases above fail for
	// the reason their names give.
	if _, err := bundle.Open(envelope(payload(key(kid, "Ed25519"), "", "", ""), priv), pinned); err != nil {
		t.Errorf("Open(hand-made good envelope): %v", err)
	}
}

func TestSignRefusesAKidThatDoesNotNameTheKey(t *testing.T) {
	if _, err := bundle.Sign(samplePayload(), kidOf(credentialtest.IssuerKey(2)), credentialtest.IssuerKey(1)); err == nil {
		t.Errorf("Sign() with a mismatched kid succeeded")
	}
}

func TestSignRefusesAPayloadOpenWouldRefuse(t *testing.T) {
	tests := []struct {
		name   string
		change func(p *bundle.Payload)
	}{
		{"a short seal key", func(p *bundle.Payload) { p.SealKeys[0].Key = p.SealKeys[0].Key[:16] }},
		{"a duplicated seal key id", func(p *bundle.Payload) { p.SealKeys = append(p.SealKeys, p.SealKeys[0]) }},
		{"an issuer key under another kid", func(p *bundle.Payload) { p.IssuerKeys[0].KID = [4]byte{} }},
		{"a reversed issuer key window", func(p *bundle.Payload) { p.IssuerKeys[0].NotAfter = p.IssuerKeys[0].NotBefore.Add(-time.Second) }},
		{"a next update before issuance", func(p *bundle.Payload) { p.NextUpdate = p.IssuedAt.Add(-time.Second) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := samplePayload()
			tt.change(&p)
			priv := credentialtest.IssuerKey(1)
			if _, err := bundle.Sign(p, kidOf(priv), priv); err == nil {
				t.Errorf("Sign() succeeded, want an error")
			}
		})
	}
}

func TestVerifyAnswersStaleBundleOnceTheBundleIsTooOld(t *testing.T) {
	issuer := credentialtest.IssuerKey(1)
	device := credentialtest.DeviceKey(t)
	p, err := bundle.Open(sign(t, samplePayload()), []verify.IssuerKey{issuerKey(issuer)})
	if err != nil {
		t.Fatal(err)
	}
	code := func(now time.Time) string {
		b := credentialtest.Body(t, issuer, device, now.Add(-time.Minute))
		return credentialtest.Code(t, credentialtest.Pass(t, b, issuer), credential.StepAt(now), device)
	}
	fresh := bundle.DefaultFreshness
	tests := []struct {
		name      string
		now       time.Time
		freshness time.Duration
		payload   *bundle.Payload
		want      verify.Reason
	}{
		{"a bundle exactly the freshness limit old is fresh", issuedAt.Add(fresh), fresh, p, verify.ReasonValid},
		{"a bundle one second past the freshness limit is stale", issuedAt.Add(fresh + time.Second), fresh, p, verify.ReasonStaleBundle},
		{"a zero freshness means the 24 h default", issuedAt.Add(fresh), 0, p, verify.ReasonValid},
		{"a zero freshness is stale past the 24 h default", issuedAt.Add(fresh + time.Second), 0, p, verify.ReasonStaleBundle},
		{"a one-hour freshness is stale after an hour and a second", issuedAt.Add(time.Hour + time.Second), time.Hour, p, verify.ReasonStaleBundle},
		{"a nil bundle is stale", issuedAt, fresh, nil, verify.ReasonStaleBundle},
		{"a bundle issued the skew ahead of now is fresh", issuedAt.Add(-verify.DefaultSkew), fresh, p, verify.ReasonValid},
		{"a bundle issued more than the skew ahead of now is stale", issuedAt.Add(-verify.DefaultSkew - time.Second), fresh, p, verify.ReasonStaleBundle},
		{"a bundle issued a day ahead of now is stale", issuedAt.Add(-24 * time.Hour), fresh, p, verify.ReasonStaleBundle},
		{"a payload built in code, not opened, still verifies", issuedAt.Add(time.Minute), fresh, ptr(samplePayload()), verify.ReasonValid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := bundle.Verify(code(tt.now), tt.now, tt.payload, tt.freshness, verify.Verifier{})
			if got, want := v.Reason, tt.want; got != want {
				t.Errorf("Reason = %q, want %q", got, want)
			}
			if got, want := v.Valid, tt.want == verify.ReasonValid; got != want {
				t.Errorf("Valid = %v, want %v", got, want)
			}
		})
	}
}

func TestVerifyUsesTheBundleRevocationsAndSealKeys(t *testing.T) {
	issuer := credentialtest.IssuerKey(1)
	device := credentialtest.DeviceKey(t)
	now := issuedAt.Add(time.Minute)
	b := credentialtest.Body(t, issuer, device, now.Add(-time.Minute))
	credentialtest.Seal(t, &b, credentialtest.SealKey(1), 0x0a0b)
	code := credentialtest.Code(t, credentialtest.Pass(t, b, issuer), credential.StepAt(now), device)

	p := samplePayload()
	opened, err := bundle.Open(sign(t, p), []verify.IssuerKey{issuerKey(issuer)})
	if err != nil {
		t.Fatal(err)
	}
	v := bundle.Verify(code, now, opened, 0, verify.Verifier{})
	if got, want := v.IDNumber, credentialtest.IDNumber; !v.Valid || got != want {
		t.Errorf("Verify() = %q with IDNumber %q, want valid with %q", v.Reason, got, want)
	}

	p.RevokedDevices = append(p.RevokedDevices, credential.DeviceKeyHash(b.DeviceKey))
	revoked, err := bundle.Open(sign(t, p), []verify.IssuerKey{issuerKey(issuer)})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := bundle.Verify(code, now, revoked, 0, verify.Verifier{}).Reason, verify.ReasonDeviceRevoked; got != want {
		t.Errorf("Reason with the device revoked = %q, want %q", got, want)
	}
}

func ptr[T any](v T) *T { return &v }

func FuzzOpen(f *testing.F) {
	priv := credentialtest.IssuerKey(1)
	f.Add(sign(f, samplePayload()))
	empty := samplePayload()
	empty.RevokedCertificates, empty.RevokedDevices, empty.SealKeys = nil, nil, nil
	f.Add(sign(f, empty))
	f.Add([]byte(`{"payload":"","kid":"00000000","sig":""}`))
	f.Add([]byte(`{}`))
	pinned := []verify.IssuerKey{issuerKey(priv)}
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, keys := range [][]verify.IssuerKey{nil, pinned} {
			p, err := bundle.Open(raw, keys)
			if err != nil {
				if !errors.Is(err, bundle.ErrInvalid) {
					t.Errorf("error %v does not wrap ErrInvalid", err)
				}
				continue
			}
			if _, err := p.MarshalJSON(); err != nil {
				t.Errorf("an opened payload does not marshal: %v", err)
			}
		}
	})
}

func FuzzPayloadJSON(f *testing.F) {
	p := samplePayload()
	good, err := p.MarshalJSON()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"issued_at":"2026-03-01T08:00:00Z","next_update":"2026-03-01T09:00:00Z","issuer_keys":[],"revoked_certificates":[],"revoked_devices":[],"seal_keys":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var p bundle.Payload
		if err := p.UnmarshalJSON(data); err != nil {
			return
		}
		again, err := p.MarshalJSON()
		if err != nil {
			t.Fatalf("an accepted payload does not marshal: %v", err)
		}
		var q bundle.Payload
		if err := q.UnmarshalJSON(again); err != nil {
			t.Fatalf("a re-marshalled payload is refused: %v", err)
		}
		if _, err := q.Trust(); err != nil {
			t.Errorf("an accepted payload has no trust: %v", err)
		}
	})
}

func TestParseKeysReadsThePublishedKeysStrictly(t *testing.T) {
	pub := credentialtest.IssuerKey(1).Public().(ed25519.PublicKey)
	key := func(kid string) string {
		return fmt.Sprintf(`{"kid":%q,"alg":"Ed25519","public_key":%q,"not_before":"2026-01-01T00:00:00Z","not_after":"2027-01-01T00:00:00Z"}`,
			kid, base64.RawURLEncoding.EncodeToString(pub))
	}
	kid := credential.KeyID(pub)
	good := fmt.Sprintf(`{"keys":[%s]}`, key(fmt.Sprintf("%x", kid)))
	keys, err := bundle.ParseKeys([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0].KID != kid || !keys[0].Public.Equal(pub) || keys[0].NotAfter.Year() != 2027 {
		t.Errorf("parsed %+v", keys)
	}
	for name, doc := range map[string]string{
		"no keys":                 `{"keys":[]}`,
		"no keys member":          `{}`,
		"an unknown member":       fmt.Sprintf(`{"keys":[%s],"extra":1}`, key(fmt.Sprintf("%x", kid))),
		"a kid not the key's":     fmt.Sprintf(`{"keys":[%s]}`, key("00000000")),
		"another algorithm":       strings.Replace(good, "Ed25519", "ES256", 1),
		"a bundle, not keys":      `{"payload":"e30","kid":"00000000","sig":"AA"}`,
		"not JSON":                `keys`,
		"a key of the wrong size": strings.Replace(good, base64.RawURLEncoding.EncodeToString(pub), "AAAA", 1),
	} {
		if _, err := bundle.ParseKeys([]byte(doc)); !errors.Is(err, bundle.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}
