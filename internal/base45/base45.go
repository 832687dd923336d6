// Package base45 implements the Base45 encoding of RFC 9285.
//
// Base45 exists so that binary data fits the alphanumeric mode of a QR code:
// its 45 characters are exactly that mode's character set. The decoder is
// strict — every string it accepts is the one Encode would produce for the
// decoded bytes — so a credential has exactly one text form and a scanner's
// mangling (lowercase, stray characters, truncation) is refused, not guessed.
package base45

import (
	"errors"
	"fmt"
)

// alphabet is RFC 9285's table, index = value.
const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"

// ErrInvalid is wrapped by every error Decode returns, so callers can tell
// bad input from other failures with errors.Is.
var ErrInvalid = errors.New("base45: invalid input")

// values maps a byte to its Base45 value, or 0xff when the byte is outside
// the alphabet; a table keeps Decode free of searches.
var values = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for i := 0; i < len(alphabet); i++ {
		t[alphabet[i]] = byte(i)
	}
	return t
}()

// EncodedLen returns the length of the Base45 encoding of n bytes; callers
// use it to bound input before decoding.
func EncodedLen(n int) int { return n/2*3 + n%2*2 }

// Encode returns the Base45 encoding of b.
func Encode(b []byte) string {
	out := make([]byte, 0, EncodedLen(len(b)))
	for len(b) >= 2 {
		n := int(b[0])<<8 | int(b[1])
		out = append(out, alphabet[n%45], alphabet[n/45%45], alphabet[n/2025])
		b = b[2:]
	}
	if len(b) == 1 {
		n := int(b[0])
		out = append(out, alphabet[n%45], alphabet[n/45])
	}
	return string(out)
}

// Decode returns the bytes that s encodes. It refuses characters outside the
// alphabet (including lowercase), a three-character group above 65535, a
// two-character tail above 255 and a one-character tail.
func Decode(s string) ([]byte, error) {
	if len(s)%3 == 1 {
		return nil, fmt.Errorf("%w: length %d leaves a single character", ErrInvalid, len(s))
	}
	out := make([]byte, 0, len(s)/3*2+len(s)%3/2)
	for i := 0; i < len(s); i += 3 {
		end := min(i+3, len(s))
		n := 0
		for j := end - 1; j >= i; j-- {
			v := values[s[j]]
			if v == 0xff {
				return nil, fmt.Errorf("%w: character %q at offset %d is not in the alphabet", ErrInvalid, s[j], j)
			}
			n = n*45 + int(v)
		}
		if end-i == 3 {
			if n > 0xffff {
				return nil, fmt.Errorf("%w: group at offset %d has value %d above 65535", ErrInvalid, i, n)
			}
			out = append(out, byte(n>>8), byte(n))
		} else {
			if n > 0xff {
				return nil, fmt.Errorf("%w: final pair at offset %d has value %d above 255", ErrInvalid, i, n)
			}
			out = append(out, byte(n))
		}
	}
	return out, nil
}
