package idnumber

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParse checks that Parse never panics on outside input, refuses only
// with an *Error of a known reason, and that what it accepts is canonical:
// 18 characters, already normalised, accepted again, and masked to the
// documented shape. The seed corpus is in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	known := []Reason{ReasonLength, ReasonCharacters, ReasonProvince, ReasonDocumentType, ReasonBirthDate, ReasonCheckCharacter}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := Parse(s, now)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse(%q) error %v is not an *Error", s, err)
			}
			found := false
			for _, r := range known {
				found = found || e.Reason == r
			}
			if !found {
				t.Fatalf("Parse(%q) reason %q is not one of the documented reasons", s, e.Reason)
			}
			if n != "" {
				t.Fatalf("Parse(%q) refused but returned %q", s, n)
			}
			return
		}
		if got, want := len(n), Length; got != want {
			t.Fatalf("Parse(%q) = %q of %d bytes, want %d", s, n, got, want)
		}
		if got, want := utf8.RuneCountInString(string(n)), Length; got != want {
			t.Fatalf("Parse(%q) = %q of %d characters, want %d", s, n, got, want)
		}
		if got, want := Normalize(string(n)), string(n); got != want {
			t.Fatalf("Normalize(%q) = %q, want it unchanged", want, got)
		}
		again, err := Parse(string(n), now)
		if err != nil {
			t.Fatalf("Parse(%q) accepted, but Parse of the result %q: %v", s, n, err)
		}
		if again != n {
			t.Fatalf("Parse(%q) = %q, want %q", n, again, n)
		}
		m := n.Masked()
		if got, want := m, string(n[:4])+strings.Repeat("*", 10)+string(n[14:]); got != want {
			t.Fatalf("%q.Masked() = %q, want %q", n, got, want)
		}
	})
}
