// Package pii protects personal data at rest: ID numbers and names are
// sealed with AES-256-GCM under keys derived from a master key that never
// enters the database, with the owning row's identity as associated data so
// that a ciphertext copied to another row does not open; and ID numbers are
// found through an HMAC blind index.
//
// A master key file holds one key per line, "<key id> <base64 of 32 bytes>";
// blank lines and lines starting with # are ignored. The last key seals new
// data; every listed key opens data sealed under it, so a key is rotated by
// appending a new line and retired once nothing sealed under it remains.
// The blind index is derived from the first key, because re-indexing means
// recomputing every index; keep the first line until a re-index is done.
package pii

import (
	"bufio"
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Keyring holds the derived keys of every master key.
type Keyring struct {
	current string
	aeads   map[string]cipher.AEAD
	index   []byte
	wrap    map[string]cipher.AEAD
}

var keyIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// ErrOpen is returned when a ciphertext does not open: wrong key, wrong
// row, or tampered bytes.
var ErrOpen = errors.New("pii: ciphertext does not open")

// ParseKeyring reads a master key file.
func ParseKeyring(data []byte) (*Keyring, error) {
	k := &Keyring{aeads: map[string]cipher.AEAD{}, wrap: map[string]cipher.AEAD{}}
	sc := bufio.NewScanner(bytes.NewReader(data))
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		fields := strings.Fields(text)
		if len(fields) != 2 || !keyIDPattern.MatchString(fields[0]) {
			return nil, fmt.Errorf("master key line %d: want \"<id> <base64 key>\"", line)
		}
		master, err := base64.StdEncoding.DecodeString(fields[1])
		if err != nil || len(master) != 32 {
			return nil, fmt.Errorf("master key line %d: want 32 bytes in base64", line)
		}
		id := fields[0]
		if _, dup := k.aeads[id]; dup {
			return nil, fmt.Errorf("master key line %d: key id %q repeated", line, id)
		}
		if k.aeads[id], err = newAEAD(master, "tempid/pii/aes-256-gcm/v1"); err != nil {
			return nil, err
		}
		if k.wrap[id], err = newAEAD(master, "tempid/key-wrap/aes-256-gcm/v1"); err != nil {
			return nil, err
		}
		if k.index == nil {
			if k.index, err = hkdf.Key(sha256.New, master, nil, "tempid/blind-index/hmac-sha256/v1", 32); err != nil {
				return nil, err
			}
		}
		k.current = id
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if k.current == "" {
		return nil, errors.New("master key file holds no key")
	}
	return k, nil
}

// NewKeyFile returns the contents of a new master key file with one random key.
func NewKeyFile() []byte {
	key := make([]byte, 32)
	rand.Read(key)
	return fmt.Appendf(nil, "# tempid master keys: \"<id> <base64 of 32 bytes>\", the last one seals new data.\nk1 %s\n",
		base64.StdEncoding.EncodeToString(key))
}

func newAEAD(master []byte, info string) (cipher.AEAD, error) {
	key, err := hkdf.Key(sha256.New, master, nil, info, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// CurrentKeyID names the key that seals new data.
func (k *Keyring) CurrentKeyID() string { return k.current }

// Seal encrypts plaintext for the row named by aad. The result carries the
// key id: 1 byte of its length, the id, the 12-byte nonce, then the
// ciphertext and tag.
func (k *Keyring) Seal(plaintext []byte, aad string) []byte {
	return seal(k.aeads[k.current], k.current, plaintext, aad)
}

// Open decrypts what Seal made for the same aad.
func (k *Keyring) Open(sealed []byte, aad string) ([]byte, error) {
	return open(k.aeads, sealed, aad)
}

// SealString and OpenString are Seal and Open for text.
func (k *Keyring) SealString(s, aad string) []byte { return k.Seal([]byte(s), aad) }

// OpenString opens what SealString sealed.
func (k *Keyring) OpenString(sealed []byte, aad string) (string, error) {
	b, err := k.Open(sealed, aad)
	return string(b), err
}

// KeyIDOf tells which master key sealed a value, for rotation reports.
func KeyIDOf(sealed []byte) string {
	if len(sealed) < 1 || len(sealed) < 1+int(sealed[0]) {
		return ""
	}
	return string(sealed[1 : 1+int(sealed[0])])
}

// Wrap seals a secret key (an issuer or seal key) under a key separate from
// the personal-data key, so that one cannot be swapped for the other.
func (k *Keyring) Wrap(secret []byte, aad string) []byte {
	return seal(k.wrap[k.current], k.current, secret, aad)
}

// Unwrap opens what Wrap sealed.
func (k *Keyring) Unwrap(sealed []byte, aad string) ([]byte, error) {
	return open(k.wrap, sealed, aad)
}

// BlindIndex returns the HMAC-SHA256 of a normalised value under the index
// key, so rows can be found by ID number without storing it in the clear.
func (k *Keyring) BlindIndex(kind, value string) []byte {
	m := hmac.New(sha256.New, k.index)
	m.Write([]byte(kind))
	m.Write([]byte{0})
	m.Write([]byte(value))
	return m.Sum(nil)
}

func seal(aead cipher.AEAD, id string, plaintext []byte, aad string) []byte {
	out := make([]byte, 0, 1+len(id)+aead.NonceSize()+len(plaintext)+aead.Overhead())
	out = append(out, byte(len(id)))
	out = append(out, id...)
	nonce := make([]byte, aead.NonceSize())
	rand.Read(nonce)
	out = append(out, nonce...)
	return aead.Seal(out, nonce, plaintext, []byte(aad))
}

func open(aeads map[string]cipher.AEAD, sealed []byte, aad string) ([]byte, error) {
	id := KeyIDOf(sealed)
	aead, ok := aeads[id]
	if !ok {
		return nil, ErrOpen
	}
	rest := sealed[1+len(id):]
	if len(rest) < aead.NonceSize()+aead.Overhead() {
		return nil, ErrOpen
	}
	plain, err := aead.Open(nil, rest[:aead.NonceSize()], rest[aead.NonceSize():], []byte(aad))
	if err != nil {
		return nil, ErrOpen
	}
	return plain, nil
}
