package pii

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"testing"
)

func testKeyring(t *testing.T, file []byte) *Keyring {
	t.Helper()
	k, err := ParseKeyring(file)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSealedValuesOpenOnlyForTheirOwnRow(t *testing.T) {
	k := testKeyring(t, NewKeyFile())
	sealed := k.SealString("110105194912310025", "certificate:aaaa")
	if bytes.Contains(sealed, []byte("110105194912310025")) {
		t.Fatal("ciphertext holds the plaintext")
	}
	got, err := k.OpenString(sealed, "certificate:aaaa")
	if err != nil || got != "110105194912310025" {
		t.Fatalf("OpenString = %q, %v", got, err)
	}
	if _, err := k.Open(sealed, "certificate:bbbb"); !errors.Is(err, ErrOpen) {
		t.Errorf("opened under another row's identity: %v", err)
	}
	for i := range sealed {
		tampered := bytes.Clone(sealed)
		tampered[i] ^= 0x01
		if _, err := k.Open(tampered, "certificate:aaaa"); err == nil {
			t.Errorf("byte %d flipped and it still opens", i)
		}
	}
	if _, err := k.Open(sealed[:10], "certificate:aaaa"); err == nil {
		t.Error("truncated ciphertext opens")
	}
}

func TestRotationKeepsOldDataReadable(t *testing.T) {
	oldFile := NewKeyFile()
	old := testKeyring(t, oldFile)
	sealed := old.SealString("secret", "row")
	rotated := testKeyring(t, append(bytes.Clone(oldFile), []byte("k2 "+b64(32)+"\n")...))
	if got, want := rotated.CurrentKeyID(), "k2"; got != want {
		t.Fatalf("current key %s, want %s", got, want)
	}
	if got, err := rotated.OpenString(sealed, "row"); err != nil || got != "secret" {
		t.Fatalf("old value after rotation: %q, %v", got, err)
	}
	if got, want := KeyIDOf(rotated.SealString("x", "row")), "k2"; got != want {
		t.Errorf("new data sealed under %s, want %s", got, want)
	}
	if !bytes.Equal(old.BlindIndex("id", "x"), rotated.BlindIndex("id", "x")) {
		t.Error("blind index changed with rotation: lookups of old rows would fail")
	}
	if _, err := testKeyring(t, NewKeyFile()).Open(sealed, "row"); err == nil {
		t.Error("another master key opened the value")
	}
}

func TestWrapIsSeparateFromPersonalData(t *testing.T) {
	k := testKeyring(t, NewKeyFile())
	w := k.Wrap([]byte("issuer key"), "issuer:1")
	if _, err := k.Open(w, "issuer:1"); err == nil {
		t.Error("a wrapped key opens as personal data")
	}
	if got, err := k.Unwrap(w, "issuer:1"); err != nil || string(got) != "issuer key" {
		t.Errorf("Unwrap = %q, %v", got, err)
	}
}

func TestBlindIndexSeparatesKinds(t *testing.T) {
	k := testKeyring(t, NewKeyFile())
	if bytes.Equal(k.BlindIndex("id", "a"), k.BlindIndex("name", "a")) {
		t.Error("same index for different kinds")
	}
	if !bytes.Equal(k.BlindIndex("id", "a"), k.BlindIndex("id", "a")) {
		t.Error("index not deterministic")
	}
}

func TestParseKeyringRefusesBadFiles(t *testing.T) {
	for _, c := range []struct{ name, file string }{
		{"empty", ""},
		{"comments only", "# nothing\n"},
		{"short key", "k1 " + b64(16) + "\n"},
		{"not base64", "k1 !!!!\n"},
		{"missing id", b64(32) + "\n"},
		{"repeated id", "k1 " + b64(32) + "\nk1 " + b64(32) + "\n"},
		{"bad id", "k/1 " + b64(32) + "\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := ParseKeyring([]byte(c.file)); err == nil {
				t.Error("accepted")
			}
		})
	}
}

// b64 returns n random bytes in base64, as a master key file holds them.
func b64(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}
