package idnumber

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// now is 2026-03-11 01:00 in Shanghai while it is still 10 March in UTC, so
// tests notice if "today" is taken in the wrong zone.
var now = time.Date(2026, 3, 10, 17, 0, 0, 0, time.UTC)

// withCheck appends the right check character to 17 digits.
func withCheck(first17 string) string {
	c, err := CheckCharacter(first17)
	if err != nil {
		panic(err)
	}
	return first17 + string(c)
}

// wrongCheck appends a check character that does not match.
func wrongCheck(first17 string) string {
	c := withCheck(first17)[17]
	if c == '0' {
		return first17 + "1"
	}
	return first17 + "0"
}

// longDigitRun finds anything in a detail that could be (part of) a number.
var longDigitRun = regexp.MustCompile(`[0-9]{5,}`)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		name   string
		in     string
		want   Number // when the number is accepted
		reason Reason // when it is refused
		detail string // a part of the detail, when it matters
	}{
		{name: "the standard's example number is accepted", in: "11010519491231002X", want: "11010519491231002X"},
		{name: "a number ending in a digit is accepted", in: "440524198001010013", want: "440524198001010013"},
		{name: "lowercase x is accepted and made uppercase", in: "11010519491231002x", want: "11010519491231002X"},
		{name: "full-width X is accepted", in: "11010519491231002Ｘ", want: "11010519491231002X"},
		{name: "full-width lowercase x is accepted", in: "11010519491231002ｘ", want: "11010519491231002X"},
		{name: "full-width digits are accepted", in: "１１０１０５１９４９１２３１００２Ｘ", want: "11010519491231002X"},
		{name: "spaces around are removed", in: "  11010519491231002X\n", want: "11010519491231002X"},
		{name: "spaces inside are removed", in: "110105 19491231 002X", want: "11010519491231002X"},
		{name: "groups of four as people type them are accepted", in: "1101 0519 4912 3100 2X", want: "11010519491231002X"},
		{name: "full-width spaces and tabs are removed", in: "　110105\t19491231　002X　", want: "11010519491231002X"},
		{name: "an unknown region within a known province is accepted", in: withCheck("11999919900101001"), want: Number(withCheck("11999919900101001"))},
		{name: "Feb 29 of a leap year is accepted", in: withCheck("32010220000229001"), want: Number(withCheck("32010220000229001"))},
		{name: "Feb 29 of 2024 is accepted", in: withCheck("32010220240229001"), want: Number(withCheck("32010220240229001"))},
		{name: "1 January 1900 is accepted", in: withCheck("31010119000101001"), want: Number(withCheck("31010119000101001"))},
		{name: "someone born today in Shanghai is accepted although it is yesterday in UTC", in: withCheck("31010120260311001"), want: Number(withCheck("31010120260311001"))},

		{name: "an empty string is refused for its length", in: "", reason: ReasonLength},
		{name: "spaces only are refused for their length", in: "   ", reason: ReasonLength},
		{name: "15 digits are refused as the old format", in: "110105491231002", reason: ReasonLength, detail: "15-digit"},
		{name: "15 digits with spaces are refused as the old format", in: "110105 491231 002", reason: ReasonLength, detail: "15-digit"},
		{name: "15 characters with a letter are refused for their length", in: "11010549123100X", reason: ReasonLength, detail: "not 15"},
		{name: "17 digits are refused for their length", in: "11010519491231002", reason: ReasonLength, detail: "not 17"},
		{name: "19 characters are refused for their length", in: "11010519491231002X1", reason: ReasonLength, detail: "not 19"},
		{name: "a letter inside is refused", in: "1101051949A231002X", reason: ReasonCharacters},
		{name: "X in the middle is refused", in: "11010X19491231002X", reason: ReasonCharacters},
		{name: "a last letter other than X is refused", in: "11010519491231002Y", reason: ReasonCharacters},
		{name: "a Chinese character counts as one character and is refused as such", in: "11010519491231002号", reason: ReasonCharacters},
		{name: "a hyphen inside is refused", in: "11010-19491231002X", reason: ReasonCharacters},
		{name: "province 00 is refused", in: withCheck("00010119900101001"), reason: ReasonProvince},
		{name: "province 16 is refused", in: withCheck("16010119900101001"), reason: ReasonProvince},
		{name: "province 38 is refused", in: withCheck("38010119900101001"), reason: ReasonProvince},
		{name: "province 47 is refused", in: withCheck("47010119900101001"), reason: ReasonProvince},
		{name: "province 55 is refused", in: withCheck("55010119900101001"), reason: ReasonProvince},
		{name: "province 66 is refused", in: withCheck("66010119900101001"), reason: ReasonProvince},
		{name: "province 84 is refused", in: withCheck("84010119900101001"), reason: ReasonProvince},
		{name: "Taiwan's 71 is another document type", in: withCheck("71000019900101001"), reason: ReasonDocumentType, detail: "Taiwan"},
		{name: "a Hong Kong residence permit is another document type", in: withCheck("81000019900101001"), reason: ReasonDocumentType, detail: "Hong Kong"},
		{name: "a Macao residence permit is another document type", in: withCheck("82000019900101001"), reason: ReasonDocumentType, detail: "Macao"},
		{name: "a Taiwan residence permit is another document type", in: withCheck("83000019900101001"), reason: ReasonDocumentType, detail: "Taiwan"},
		{name: "a foreign permanent resident ID is another document type", in: withCheck("91115619900101001"), reason: ReasonDocumentType, detail: "foreign"},
		{name: "30 February is refused", in: withCheck("11010520230230001"), reason: ReasonBirthDate, detail: "calendar"},
		{name: "Feb 29 of a non-leap year is refused", in: withCheck("11010520230229001"), reason: ReasonBirthDate, detail: "calendar"},
		{name: "Feb 29 1900 is refused since 1900 was not a leap year", in: withCheck("11010519000229001"), reason: ReasonBirthDate, detail: "calendar"},
		{name: "31 April is refused", in: withCheck("11010519900431001"), reason: ReasonBirthDate, detail: "calendar"},
		{name: "month 00 is refused", in: withCheck("11010519900001001"), reason: ReasonBirthDate, detail: "calendar"},
		{name: "month 13 is refused", in: withCheck("11010519901301001"), reason: ReasonBirthDate, detail: "calendar"},
		{name: "day 00 is refused", in: withCheck("11010519900100001"), reason: ReasonBirthDate, detail: "calendar"},
		{name: "a birth in 1899 is refused", in: withCheck("11010518991231001"), reason: ReasonBirthDate, detail: "1900"},
		{name: "the standard's 1880 example is refused for its birth date", in: "440524188001010014", reason: ReasonBirthDate, detail: "1900"},
		{name: "a birth tomorrow in Shanghai is refused", in: withCheck("31010120260312001"), reason: ReasonBirthDate, detail: "future"},
		{name: "a birth next year is refused", in: withCheck("31010120270101001"), reason: ReasonBirthDate, detail: "future"},
		{name: "a wrong check digit is refused", in: "110105194912310021", reason: ReasonCheckCharacter},
		{name: "a wrong X is refused", in: "11010519491231001X", reason: ReasonCheckCharacter},
		{name: "swapped digits that still make a date are caught by the check character", in: "11010519491213002X", reason: ReasonCheckCharacter},
		{name: "swapped digits that make no date are refused for the date", in: "11010519491321002X", reason: ReasonBirthDate},
		{name: "swapped digits of the sequence are refused", in: "11010519491231020X", reason: ReasonCheckCharacter},
		{name: "an impossible date is reported before a wrong check character", in: wrongCheck("11010520230230001"), reason: ReasonBirthDate},
		{name: "a wrong province is reported before an impossible date", in: wrongCheck("99010520230230001"), reason: ReasonDocumentType},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := Parse(c.in, now)
			if c.reason == "" {
				if err != nil {
					t.Fatalf("Parse(%q): %v", c.in, err)
				}
				if got != c.want {
					t.Errorf("Parse(%q) = %q, want %q", c.in, got, c.want)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse(%q) = %q, %v; want an *Error", c.in, got, err)
			}
			if got, want := e.Reason, c.reason; got != want {
				t.Errorf("Parse(%q) reason = %q, want %q (detail %q)", c.in, got, want, e.Detail)
			}
			if !strings.Contains(e.Detail, c.detail) {
				t.Errorf("Parse(%q) detail = %q, want it to mention %q", c.in, e.Detail, c.detail)
			}
			if longDigitRun.MatchString(e.Error()) {
				t.Errorf("Parse(%q) error %q looks like it contains the number", c.in, e.Error())
			}
			if got != "" {
				t.Errorf("Parse(%q) refused but returned %q", c.in, got)
			}
		})
	}
}

func TestErrorsCanBeFoundThroughWrapping(t *testing.T) {
	_, err := Parse("110105491231002", now)
	wrapped := fmt.Errorf("applying: %w", err)
	var e *Error
	if !errors.As(wrapped, &e) {
		t.Fatalf("errors.As(%v) found no *Error", wrapped)
	}
	if got, want := e.Reason, ReasonLength; got != want {
		t.Errorf("reason = %q, want %q", got, want)
	}
}

func TestNormalize(t *testing.T) {
	for _, c := range []struct {
		name, in, want string
	}{
		{"an already normal number is unchanged", "11010519491231002X", "11010519491231002X"},
		{"all whitespace is removed", " 1 \t2\n3\r\v\f4　5\u00a06 ", "123456"},
		{"full-width digits become ASCII", "０１２３４５６７８９", "0123456789"},
		{"every kind of x becomes X", "xXｘＸ", "XXXX"},
		{"other characters are kept for Parse to name", "1a-号", "1a-号"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got, want := Normalize(c.in), c.want; got != want {
				t.Errorf("Normalize(%q) = %q, want %q", c.in, got, want)
			}
		})
	}
}

func TestNumberParts(t *testing.T) {
	n, err := Parse("11010519491231002X", now)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := n.String(), "11010519491231002X"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if got, want := n.ProvinceCode(), "11"; got != want {
		t.Errorf("ProvinceCode() = %q, want %q", got, want)
	}
	y, m, d := n.BirthDate()
	if got, want := fmt.Sprint(y, m, d), "1949 12 31"; got != want {
		t.Errorf("BirthDate() = %s, want %s", got, want)
	}
}

func TestTheZeroNumberRevealsNothing(t *testing.T) {
	var n Number
	if got, want := n.Masked(), ""; got != want {
		t.Errorf("Masked() = %q, want %q", got, want)
	}
	if got, want := n.ProvinceCode(), ""; got != want {
		t.Errorf("ProvinceCode() = %q, want %q", got, want)
	}
	if y, m, d := n.BirthDate(); y != 0 || m != 0 || d != 0 {
		t.Errorf("BirthDate() = %d %d %d, want zeros", y, m, d)
	}
}

func TestMasked(t *testing.T) {
	for _, c := range []struct {
		name string
		in   Number
		want string
	}{
		{"a number keeps its first and last four characters", "110105194912311234", "1101**********1234"},
		{"a final X is kept", "11010519491231002X", "1101**********002X"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got, want := c.in.Masked(), c.want; got != want {
				t.Errorf("Masked() = %q, want %q", got, want)
			}
		})
	}
}

func TestMaskName(t *testing.T) {
	for _, c := range []struct {
		name, in, want string
	}{
		{"a two-character name keeps its first", "张三", "张*"},
		{"a three-character name keeps its first", "张三丰", "张**"},
		{"a one-character name is kept", "张", "张"},
		{"a Latin name keeps its first letter", "Alice", "A****"},
		{"a multi-word name masks its spaces too", "Ann Lee", "A******"},
		{"a name with a middle dot masks the dot", "阿卜杜·热合曼", "阿******"},
		{"surrounding spaces are trimmed first", "  张三　", "张*"},
		{"an empty name stays empty", "", ""},
		{"a name of spaces is empty", " 　 ", ""},
		{"a first letter keeps its combining mark", "Q\u0308ab", "Q\u0308**"},
		{"a letter with a combining mark masks to one asterisk", "张q\u0307", "张*"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got, want := MaskName(c.in), c.want; got != want {
				t.Errorf("MaskName(%q) = %q, want %q", c.in, got, want)
			}
		})
	}
}

func TestCheckCharacter(t *testing.T) {
	for _, c := range []struct {
		name   string
		in     string
		want   byte
		reason Reason
	}{
		{"the standard's example has X", "11010519491231002", 'X', ""},
		{"the standard's second example has 4", "44052418800101001", '4', ""},
		{"a birth in 1980 instead gives 3", "44052419800101001", '3', ""},
		{"16 digits are refused", "1101051949123100", 0, ReasonLength},
		{"18 digits are refused", "110105194912310021", 0, ReasonLength},
		{"a letter is refused", "1101051949123100X", 0, ReasonCharacters},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := CheckCharacter(c.in)
			if c.reason != "" {
				var e *Error
				if !errors.As(err, &e) || e.Reason != c.reason {
					t.Fatalf("CheckCharacter(%q) error = %v, want reason %q", c.in, err, c.reason)
				}
				return
			}
			if err != nil {
				t.Fatalf("CheckCharacter(%q): %v", c.in, err)
			}
			if got != c.want {
				t.Errorf("CheckCharacter(%q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}

// TestEveryRemainderHasItsCheckCharacter makes sure the whole table
// checkCharacters is exercised, not only the values the examples hit.
func TestEveryRemainderHasItsCheckCharacter(t *testing.T) {
	seen := map[byte]bool{}
	for seq := 0; seq < 1000 && len(seen) < 11; seq++ {
		n := Generate("11", time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC), seq)
		if _, err := Parse(string(n), now); err != nil {
			t.Fatalf("Parse(Generate(..., %d)): %v", seq, err)
		}
		seen[n[17]] = true
	}
	if got, want := len(seen), 11; got != want {
		t.Errorf("saw %d distinct check characters, want %d", got, want)
	}
}

func TestGenerate(t *testing.T) {
	n := Generate("44", time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC), 1)
	if got, want := n, Number("440101198001010017"); got != want {
		t.Errorf("Generate = %q, want %q", got, want)
	}
}

func TestGenerateRefusesMistakes(t *testing.T) {
	birth := time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name     string
		province string
		birth    time.Time
		seq      int
	}{
		{"a residence permit prefix panics", "81", birth, 1},
		{"a one-digit province panics", "1", birth, 1},
		{"a negative sequence panics", "11", birth, -1},
		{"a four-digit sequence panics", "11", birth, 1000},
		{"a birth before 1900 panics", "11", time.Date(1899, 12, 31, 0, 0, 0, 0, time.UTC), 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("Generate(%q, %v, %d) did not panic", c.province, c.birth, c.seq)
				}
			}()
			Generate(c.province, c.birth, c.seq)
		})
	}
}

// TestGeneratedNumbersAreValidAndEveryTypoIsCaught is the property that other
// packages rely on: Generate makes numbers Parse accepts, and MOD 11-2 (or a
// structural rule) catches every change of one character to another digit.
func TestGeneratedNumbersAreValidAndEveryTypoIsCaught(t *testing.T) {
	codes := make([]string, 0, len(provinces))
	for p := range provinces {
		codes = append(codes, p)
	}
	slices.Sort(codes)
	rng := rand.New(rand.NewPCG(11643, 1999))
	first := time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)
	days := int(now.Sub(first).Hours()/24) - 1 // so the birth is never after today
	for i := 0; i < 2000; i++ {
		province := codes[rng.IntN(len(codes))]
		birth := first.AddDate(0, 0, rng.IntN(days+1))
		seq := rng.IntN(1000)
		n := Generate(province, birth, seq)

		got, err := Parse(string(n), now)
		if err != nil {
			t.Fatalf("Parse(Generate(%q, %s, %d)) = %v", province, birth.Format(time.DateOnly), seq, err)
		}
		if got != n {
			t.Fatalf("Parse(%q) = %q", n, got)
		}
		y, m, d := got.BirthDate()
		if by, bm, bd := birth.Date(); y != by || m != int(bm) || d != bd {
			t.Fatalf("%q.BirthDate() = %d-%d-%d, want %s", n, y, m, d, birth.Format(time.DateOnly))
		}
		if got.ProvinceCode() != province {
			t.Fatalf("%q.ProvinceCode() = %q, want %q", n, got.ProvinceCode(), province)
		}

		for pos := 0; pos < Length; pos++ {
			for digit := byte('0'); digit <= '9'; digit++ {
				if n[pos] == digit {
					continue
				}
				typo := string(n[:pos]) + string(digit) + string(n[pos+1:])
				if _, err := Parse(typo, now); err == nil {
					t.Fatalf("Parse(%q), %q with position %d changed, was accepted", typo, n, pos+1)
				}
			}
		}
	}
}
