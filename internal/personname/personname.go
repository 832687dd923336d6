// Package personname is the one rule for a person's name as it enters
// tempid — at sign-up, in an application, as a face check's subject: it is
// put in NFC and trimmed, and characters that hide or reorder text are
// refused. A name is shown masked on the pass and on staff and gate
// screens, keeping its first character, so a right-to-left override or an
// invisible character in it would reach every screen that shows it.
package personname

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"tempid/internal/problem"
)

// MaxBytes bounds a name, after normalisation: the masked name and the ID
// number must fit the credential's longest code (CREDENTIAL.md).
const MaxBytes = 64

// maxMarks is how many combining marks may follow one another. Real names
// need at most two (Vietnamese ễ decomposed, a Han ideograph with a
// variation selector); longer stacks draw over neighbouring lines.
const maxMarks = 2

// Normalize returns name in NFC without surrounding white space, or a
// validation_failed refusal that names the kind of character refused (never
// the name). It refuses control characters, format characters (Cf: bidi
// overrides and isolates, zero-width characters, soft hyphens, tags),
// private-use and unassigned code points, separators other than the
// ordinary space, a leading combining mark and more than two in a row.
//
// Which code points are assigned is Go's unicode tables (unicode.Version),
// except that the CJK ideographs of Unicode 17 are accepted even where
// those tables are older: extensions I and J hold ideographs of personal
// and place names that the tables of Go 1.26 (Unicode 15.0) lack.
func Normalize(name string) (string, error) {
	if !utf8.ValidString(name) {
		return "", refuse("not valid UTF-8 text")
	}
	// The characters are checked as sent: composing can only merge marks
	// into letters, and a stack sent is a stack meant.
	name = strings.TrimSpace(name)
	if name == "" {
		return "", refuse("empty")
	}
	marks := 0
	for i, r := range name {
		if unicode.Is(unicode.M, r) {
			marks++
			switch {
			case i == 0:
				return "", refuse("begins with a combining mark (U+%04X)", r)
			case marks > maxMarks:
				return "", refuse("more than %d combining marks in a row", maxMarks)
			}
			continue
		}
		marks = 0
		if kind := refused(r); kind != "" {
			return "", refuse("U+%04X is %s and may not be part of a name", r, kind)
		}
	}
	if name = norm.NFC.String(name); len(name) > MaxBytes {
		return "", refuse("at most %d bytes of text", MaxBytes)
	}
	return name, nil
}

// refused names the kind of a code point a name may not hold, or "" when
// it may hold it. Combining marks are counted by the caller.
func refused(r rune) string {
	switch {
	case unicode.IsControl(r):
		return "a control character"
	case unicode.Is(unicode.Cf, r):
		return "a format character (invisible, or reordering the text)"
	case unicode.Is(unicode.Co, r):
		return "a private-use character"
	case r == ' ':
		return ""
	case unicode.Is(unicode.Z, r):
		return "a space or separator other than the ordinary space U+0020"
	case unicode.In(r, unicode.L, unicode.N, unicode.P, unicode.S), unicode.Is(cjk17, r):
		return ""
	}
	return "an unassigned code point"
}

// cjk17 are the CJK ideographs of the supplementary planes as of Unicode
// 17.0: extensions B to J and the compatibility supplement.
var cjk17 = &unicode.RangeTable{R32: []unicode.Range32{
	{Lo: 0x20000, Hi: 0x2A6DF, Stride: 1}, // B
	{Lo: 0x2A700, Hi: 0x2B81D, Stride: 1}, // C, D
	{Lo: 0x2B820, Hi: 0x2CEAD, Stride: 1}, // E
	{Lo: 0x2CEB0, Hi: 0x2EBE0, Stride: 1}, // F
	{Lo: 0x2EBF0, Hi: 0x2EE5D, Stride: 1}, // I
	{Lo: 0x2F800, Hi: 0x2FA1D, Stride: 1}, // compatibility supplement
	{Lo: 0x30000, Hi: 0x3134A, Stride: 1}, // G
	{Lo: 0x31350, Hi: 0x33479, Stride: 1}, // H, J
}}

func refuse(format string, args ...any) error {
	return problem.New(problem.ValidationFailed, "name: "+format, args...)
}
