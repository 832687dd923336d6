package base45

import (
	"bytes"
	"errors"
	"testing"
)

func TestEncodeAndDecodeRFC9285Examples(t *testing.T) {
	tests := []struct {
		name    string
		decoded string
		encoded string
	}{
		{"the empty input is the empty string", "", ""},
		{"AB encodes as BB8 (RFC 9285 section 4.3)", "AB", "BB8"},
		{"Hello!! encodes with an odd tail (RFC 9285 section 4.3)", "Hello!!", "%69 VD92EX0"},
		{"base-45 encodes as UJCLQE7W581 (RFC 9285 section 4.3)", "base-45", "UJCLQE7W581"},
		{"ietf! decodes from QED8WEX0 (RFC 9285 section 4.4)", "ietf!", "QED8WEX0"},
		{"a single zero byte is two zeros", "\x00", "00"},
		{"a single 0xff byte is the largest two-character tail", "\xff", "U5"},
		{"two 0xff bytes are the largest group", "\xff\xff", "FGW"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, want := Encode([]byte(tt.decoded)), tt.encoded; got != want {
				t.Errorf("Encode(%q) = %q, want %q", tt.decoded, got, want)
			}
			got, err := Decode(tt.encoded)
			if err != nil {
				t.Fatalf("Decode(%q): %v", tt.encoded, err)
			}
			if want := []byte(tt.decoded); !bytes.Equal(got, want) {
				t.Errorf("Decode(%q) = %q, want %q", tt.encoded, got, want)
			}
		})
	}
}

func TestDecodeRefusesInvalidInput(t *testing.T) {
	tests := []struct {
		name    string
		encoded string
	}{
		{"a group above 65535 is refused (RFC 9285 GGW)", "GGW"},
		{"the largest possible group is refused", ":::"},
		{"a tail above 255 is refused", "V5"},
		{"the largest possible tail is refused", "::"},
		{"a single character tail is refused", "BB8A"},
		{"a single character is refused", "A"},
		{"lowercase letters are refused", "bb8"},
		{"characters outside the alphabet are refused", "BB#"},
		{"a non-ASCII byte is refused", "BB\xc3"},
		{"a valid group followed by an invalid one is refused", "BB8GGW"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode(tt.encoded)
			if err == nil {
				t.Fatalf("Decode(%q) = %q, want an error", tt.encoded, got)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("Decode(%q) error %v does not wrap ErrInvalid", tt.encoded, err)
			}
		})
	}
}

func TestEncodedLenMatchesEncode(t *testing.T) {
	for n := range 10 {
		if got, want := EncodedLen(n), len(Encode(make([]byte, n))); got != want {
			t.Errorf("EncodedLen(%d) = %d, want %d", n, got, want)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{"", "BB8", "%69 VD92EX0", "UJCLQE7W581", "QED8WEX0", "GGW", "FGW", "U5", "V5", "A", "bb8"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := Decode(s)
		if err != nil {
			return
		}
		if got := Encode(b); got != s {
			t.Errorf("Encode(Decode(%q)) = %q; the decoder accepted a non-canonical form", s, got)
		}
	})
}

func FuzzEncode(f *testing.F) {
	f.Add([]byte("Hello!!"))
	f.Add([]byte{})
	f.Add([]byte{0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := Decode(Encode(b))
		if err != nil {
			t.Fatalf("Decode(Encode(%x)): %v", b, err)
		}
		if !bytes.Equal(got, b) {
			t.Errorf("Decode(Encode(%x)) = %x", b, got)
		}
	})
}
