package keys_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"sync"
	"testing"
	"time"

	"tempid/internal/bundle"
	"tempid/internal/clock"
	"tempid/internal/credential"
	"tempid/internal/idnumber"
	"tempid/internal/issuance"
	"tempid/internal/keys"
	"tempid/internal/pii"
	"tempid/internal/policy"
	"tempid/internal/qr"
	"tempid/internal/store"
	"tempid/internal/store/storetest"
	"tempid/internal/verify"
)

var start = time.Date(2026, 3, 10, 8, 0, 0, 0, time.UTC)

func newService(t testing.TB, s *store.Store, kr *pii.Keyring, c clock.Clock) *keys.Service {
	t.Helper()
	ks := &keys.Service{Store: s, PII: kr, Policy: policy.Default(), Clock: c}
	if err := ks.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	return ks
}

func keyring(t testing.TB) *pii.Keyring {
	t.Helper()
	kr, err := pii.ParseKeyring(pii.NewKeyFile())
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// passInput is a certificate issued at issued and a face check at check.
func passInput(t testing.TB, device *ecdsa.PrivateKey, issued, check time.Time, name string) issuance.PassInput {
	t.Helper()
	dk, err := credential.CompressDeviceKey(&device.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	id := idnumber.Generate("11", time.Date(1990, 5, 17, 0, 0, 0, 0, time.UTC), 7)
	return issuance.PassInput{
		CertificateID: store.NewID(), CertExpiry: issued.Add(24 * time.Hour), FaceCheckAt: check,
		NameMasked: idnumber.MaskName(name), IDMasked: id.Masked(), IDNumber: id, DeviceKey: dk[:],
	}
}

func device(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// verifyAt makes the code of pass at now and verifies it with what the
// service publishes at now.
func verifyAt(t *testing.T, ks *keys.Service, pass []byte, dev *ecdsa.PrivateKey, now time.Time) verify.Verdict {
	t.Helper()
	code, err := credential.MakeCode(pass, credential.StepAt(now), dev, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return verify.Verifier{}.Verify(code, now, ks.Trust(now))
}

func TestTheFirstStartCreatesOneKeyThatSignsAtOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		c := clock.NewManual(start)
		kr := keyring(t)
		// Two nodes starting on an empty database agree on one key.
		var wg sync.WaitGroup
		services := make([]*keys.Service, 4)
		for i := range services {
			wg.Add(1)
			go func() {
				defer wg.Done()
				services[i] = &keys.Service{Store: s, PII: kr, Policy: policy.Default(), Clock: c}
				if err := services[i].Load(context.Background()); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		issuers, seals, err := s.Keys(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(issuers) != 1 || len(seals) != 1 {
			t.Fatalf("%d issuer and %d seal keys after parallel first starts, want 1 and 1", len(issuers), len(seals))
		}
		ks := services[0]
		if err := ks.Ready(); err != nil {
			t.Fatal(err)
		}
		if _, err := ks.Signer(start); err != nil {
			t.Errorf("no signer at the first start: %v", err)
		}
		// A pass from a face check that passed just before the start is
		// still signable.
		if _, err := ks.Signer(start.Add(-4 * time.Minute)); err != nil {
			t.Errorf("no signer for a face check 4 minutes before the start: %v", err)
		}
		// The private key is wrapped, not stored in the clear.
		signer, _ := ks.Signer(start)
		if strings.Contains(string(issuers[0].PrivateCT), string(signer.Key.Seed())) {
			t.Error("the private key is stored in the clear")
		}
		// Another master key cannot load the keys.
		other := &keys.Service{Store: s, PII: keyring(t), Policy: policy.Default(), Clock: c}
		if err := other.Load(context.Background()); err == nil {
			t.Error("keys loaded under another master key")
		}
	})
}

func TestRotationPublishesTheNewKeyADayBeforeItSigns(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		c := clock.NewManual(start)
		ks := newService(t, s, keyring(t), c)
		old, _ := ks.Signer(start)
		dev := device(t)

		c.Advance(time.Hour)
		rotatedAt := c.Now()
		next, created, err := ks.Rotate(ctx, store.CLI)
		if err != nil || !created {
			t.Fatalf("rotate: %v, created %v", err, created)
		}
		if got, want := next.NotBefore, rotatedAt.Add(24*time.Hour); got.Before(want) {
			t.Errorf("the new key signs from %v, less than a freshness period after %v", got, rotatedAt)
		}
		again, created, err := ks.Rotate(ctx, store.CLI)
		if err != nil || created || again.KID != next.KID {
			t.Errorf("a second rotation while one is pending gave %v (created %v, %v), want the pending %s", again.KID, created, err, next.KID)
		}
		// Published at once, in bundles and /.well-known alike.
		published := func(now time.Time) map[string]bool {
			m := map[string]bool{}
			for _, k := range ks.Published(now) {
				m[hex.EncodeToString(k.KID[:])] = true
			}
			return m
		}
		if !published(rotatedAt)[next.KID] {
			t.Error("the new key is not published when it is scheduled")
		}
		raw, err := ks.Bundle(rotatedAt, keys.BundleInput{NextUpdate: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		p, err := bundle.Open(raw, ks.Published(rotatedAt))
		if err != nil {
			t.Fatal(err)
		}
		inBundle := false
		for _, k := range p.IssuerKeys {
			inBundle = inBundle || hex.EncodeToString(k.KID[:]) == next.KID
		}
		if !inBundle {
			t.Error("the new key is not in the bundle issued when it is scheduled")
		}

		// Until its window opens the old key signs, and its passes verify
		// for their whole life even after the new key has taken over.
		before := next.NotBefore.Add(-time.Minute)
		c.Set(before)
		out, err := ks.MakePass(ctx, passInput(t, dev, before.Add(-time.Hour), before, "张三"))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := out.IssuerKID, hex.EncodeToString(old.KID[:]); got != want {
			t.Errorf("a pass just before the switch is signed by %s, want the old key %s", got, want)
		}
		if v := verifyAt(t, ks, out.Bytes, dev, next.NotBefore.Add(20*time.Minute)); !v.Valid {
			t.Errorf("the old key's pass after the switch: %s", v.Reason)
		}
		c.Set(next.NotBefore)
		out, err = ks.MakePass(ctx, passInput(t, dev, next.NotBefore.Add(-time.Hour), next.NotBefore, "张三"))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := out.IssuerKID, next.KID; got != want {
			t.Errorf("a pass at the switch is signed by %s, want the new key %s", got, want)
		}
		if v := verifyAt(t, ks, out.Bytes, dev, next.NotBefore.Add(time.Minute)); !v.Valid {
			t.Errorf("the new key's pass: %s", v.Reason)
		}
		// The old key stays published until its last pass has expired.
		if !published(next.NotBefore.Add(30 * time.Minute))[hex.EncodeToString(old.KID[:])] {
			t.Error("the old key was withdrawn while its passes live")
		}
		if published(next.NotBefore.Add(32 * time.Minute))[hex.EncodeToString(old.KID[:])] {
			t.Error("the old key is still published after its last pass expired")
		}
		// Another node reading the database agrees on the schedule.
		other := newService(t, s, ks.PII, c)
		if sg, err := other.Signer(next.NotBefore.Add(time.Second)); err != nil || hex.EncodeToString(sg.KID[:]) != next.KID {
			t.Errorf("another node signs with %x (%v), want %s", sg.KID, err, next.KID)
		}
	})
}

func TestRotateIfDueSchedulesTheSuccessorInTime(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		c := clock.NewManual(start)
		ks := newService(t, s, keyring(t), c)
		cur, _ := ks.Signer(start)
		if rotated, err := ks.RotateIfDue(ctx); err != nil || rotated {
			t.Fatalf("rotated a fresh key: %v %v", rotated, err)
		}
		c.Set(cur.NotAfter.Add(-47 * time.Hour))
		if rotated, err := ks.RotateIfDue(ctx); err != nil || !rotated {
			t.Fatalf("not rotated two days before the end: %v %v", rotated, err)
		}
		next, err := ks.Signer(cur.NotAfter.Add(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if next.KID == cur.KID || !next.NotBefore.Equal(cur.NotAfter) {
			t.Errorf("successor %x from %v, want a new key from %v", next.KID, next.NotBefore, cur.NotAfter)
		}
		if rotated, _ := ks.RotateIfDue(ctx); rotated {
			t.Error("rotated again while a successor is pending")
		}
	})
}

func TestAPassNeverOutlivesItsCertificateOr30Minutes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		c := clock.NewManual(start)
		ks := newService(t, s, keyring(t), c)
		dev := device(t)
		for _, tt := range []struct {
			name   string
			issued time.Time
			check  time.Time
			want   time.Duration // pass length
		}{
			{"a pass early in the certificate lasts 30 minutes", start.Add(-time.Hour), start, 30 * time.Minute},
			{"a pass from a check 4 minutes ago ends 30 minutes after the check", start.Add(-time.Hour), start.Add(-4 * time.Minute), 30 * time.Minute},
			{"a pass 10 minutes before the certificate expires ends with it", start.Add(-24*time.Hour + 10*time.Minute), start, 10 * time.Minute},
			{"a check with a fraction of a second starts at the whole second", start.Add(-time.Hour), start.Add(-1500 * time.Millisecond), 30 * time.Minute},
		} {
			t.Run(tt.name, func(t *testing.T) {
				c.Set(tt.check.Add(time.Second))
				in := passInput(t, dev, tt.issued, tt.check, "王小二")
				out, err := ks.MakePass(context.Background(), in)
				if err != nil {
					t.Fatal(err)
				}
				if got := out.NotAfter.Sub(out.NotBefore); got != tt.want {
					t.Errorf("pass lasts %v, want %v", got, tt.want)
				}
				if out.NotAfter.After(in.CertExpiry) || out.NotAfter.Sub(out.NotBefore) > 30*time.Minute {
					t.Errorf("pass [%v, %v] outlives the certificate (%v) or 30 minutes", out.NotBefore, out.NotAfter, in.CertExpiry)
				}
				p, err := credential.ParsePass(out.Bytes)
				if err != nil {
					t.Fatal(err)
				}
				if !p.NotBefore.Equal(out.NotBefore) || !p.NotAfter.Equal(out.NotAfter) || p.NotBefore.After(tt.check) {
					t.Errorf("the pass says [%v, %v], the output [%v, %v], the check was at %v", p.NotBefore, p.NotAfter, out.NotBefore, out.NotAfter, tt.check)
				}
			})
		}
		t.Run("a pass for an expired certificate is refused", func(t *testing.T) {
			in := passInput(t, dev, start.Add(-25*time.Hour), start, "王小二")
			if _, err := ks.MakePass(context.Background(), in); err == nil {
				t.Error("made a pass for an expired certificate")
			}
		})
	})
}

func TestPassesStayWithinTheQRBound(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		c := clock.NewManual(start)
		ks := newService(t, s, keyring(t), c)
		dev := device(t)
		for _, tt := range []struct {
			name     string
			fullName string
			masked   string
		}{
			{"a two-character Chinese name is kept", "张三", "张*"},
			{"the longest Chinese name (21 characters) is kept", strings.Repeat("阿", 21), "阿" + strings.Repeat("*", 20)},
			{"the longest Latin name (64 bytes) is cut to 50 bytes", "A" + strings.Repeat("b", 63), "A" + strings.Repeat("*", 49)},
			{"a long name with a multi-byte first character is cut to 50 bytes", "买" + strings.Repeat("a", 61), "买" + strings.Repeat("*", 47)},
		} {
			t.Run(tt.name, func(t *testing.T) {
				out, err := ks.MakePass(context.Background(), passInput(t, dev, start.Add(-time.Hour), start, tt.fullName))
				if err != nil {
					t.Fatal(err)
				}
				p, err := credential.ParsePass(out.Bytes)
				if err != nil {
					t.Fatal(err)
				}
				if got, want := p.NameMasked, tt.masked; got != want {
					t.Errorf("masked name %q, want %q", got, want)
				}
				if p.Sealed == nil {
					t.Fatal("no sealed ID")
				}
				code, err := credential.MakeCode(out.Bytes, credential.StepAt(start), dev, rand.Reader)
				if err != nil {
					t.Fatal(err)
				}
				v, err := qr.Version(code)
				if err != nil {
					t.Fatal(err)
				}
				if v > 13 {
					t.Errorf("the code needs QR version %d, more than 13", v)
				}
			})
		}
	})
}

func TestTheSealedIDOpensWithThePublishedSealKey(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		c := clock.NewManual(start)
		ks := newService(t, s, keyring(t), c)
		dev := device(t)
		in := passInput(t, dev, start.Add(-time.Hour), start, "李四")
		out, err := ks.MakePass(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		v := verifyAt(t, ks, out.Bytes, dev, start.Add(time.Minute))
		if !v.Valid || v.IDNumber != in.IDNumber.String() {
			t.Errorf("verdict %s, ID unsealed %v; want valid with the sealed number", v.Reason, v.IDNumber != "")
		}
	})
}

func BenchmarkMakePass(b *testing.B) {
	s := storetest.Open(b, "sqlite")
	c := clock.NewManual(start)
	ks := newService(b, s, keyring(b), c)
	in := passInput(b, device(b), start.Add(-time.Hour), start, "张三")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ks.MakePass(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
}
