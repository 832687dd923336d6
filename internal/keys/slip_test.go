package keys_test

import (
	"context"
	"testing"
	"time"

	"tempid/internal/bundle"
	"tempid/internal/clock"
	"tempid/internal/credential"
	"tempid/internal/idnumber"
	"tempid/internal/issuance"
	"tempid/internal/keys"
	"tempid/internal/store"
	"tempid/internal/store/storetest"
	"tempid/internal/verify"
)

func TestASlipSignedJustBeforeARotationVerifies23HoursLaterOnlineAndOffline(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		c := clock.NewManual(start)
		ks := newService(t, s, keyring(t), c)
		next, _, err := ks.Rotate(ctx, store.CLI)
		if err != nil {
			t.Fatal(err)
		}
		// A minute before the new key takes over, the old key signs a slip.
		issued := next.NotBefore.Add(-time.Minute)
		c.Set(issued)
		id := idnumber.Generate("11", time.Date(1990, 5, 17, 0, 0, 0, 0, time.UTC), 7)
		text, err := ks.MakeSlip(ctx, issuance.SlipInput{
			CertificateID: store.NewID(), IssuedAt: issued, CertExpiry: issued.Add(24 * time.Hour),
			Channel: credential.ChannelWindow, Station: "BJP", NameMasked: idnumber.MaskName("张三"), IDMasked: id.Masked(), IDNumber: id,
		})
		if err != nil {
			t.Fatal(err)
		}
		sl, err := credential.ParseSlip(text)
		if err != nil {
			t.Fatal(err)
		}
		if kid := next.KID; credentialKID(sl.IssuerKID) == kid {
			t.Fatalf("the slip is signed by the new key %s, want the old one", kid)
		}
		later := issued.Add(23 * time.Hour)
		c.Set(later)
		if v := (verify.Verifier{}).Verify(text, later, ks.Trust(later)); !v.Valid {
			t.Errorf("online 23 h later: %s", v.Reason)
		}
		raw, err := ks.Bundle(later, keys.BundleInput{WithSealKeys: true, NextUpdate: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		p, err := bundle.Open(raw, ks.Published(later))
		if err != nil {
			t.Fatal(err)
		}
		v := bundle.Verify(text, later, p, 0, verify.Verifier{})
		if !v.Valid {
			t.Errorf("offline 23 h later: %s", v.Reason)
		}
		if v.IDNumber != id.String() {
			t.Errorf("offline the sealed number opens to %q, want the holder's (the seal key is still in the bundle)", v.IDNumber)
		}
	})
}

func credentialKID(k [4]byte) string {
	const hexdigits = "0123456789abcdef"
	out := make([]byte, 0, 8)
	for _, b := range k {
		out = append(out, hexdigits[b>>4], hexdigits[b&15])
	}
	return string(out)
}
