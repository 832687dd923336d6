// Package idnumber parses, validates and masks the 18-character resident
// ID number (居民身份证号码, GB 11643-1999), so that a mistyped, outdated or
// impossible number is refused with a clear reason before any identity
// registry or face provider is asked about it.
//
// A number has the structure
//
//	RRRRRR YYYYMMDD SSS C
//
// where RRRRRR is the region of first registration (its first two digits the
// province), YYYYMMDD the birth date, SSS a sequence (odd for men, even for
// women) and C the ISO 7064 MOD 11-2 check character (X stands for 10).
package idnumber

import (
	"fmt"
	"strings"
	"time"
	_ "time/tzdata" // birth dates are compared with today in Asia/Shanghai even where the host has no zoneinfo
	"unicode"
	"unicode/utf8"

	"github.com/rivo/uniseg"
)

// Length is the number of characters in a resident ID number.
const Length = 18

// Number is a resident ID number that Parse accepted: always the normalised
// 18 characters, the last one possibly X. Its zero value is not a number.
type Number string

// Reason says which rule a refused number broke. Its values are stable and
// may be shown to clients and recorded; Error.Detail explains them in words.
type Reason string

// The reasons Parse refuses a number for, in the order they are checked.
const (
	// ReasonLength: the number is not 18 characters long after
	// normalisation, including the 15-digit numbers issued before 1999.
	ReasonLength Reason = "length"
	// ReasonCharacters: the first 17 characters are not all digits, or the
	// last is neither a digit nor X.
	ReasonCharacters Reason = "characters"
	// ReasonProvince: the first two digits are not a province-level code.
	ReasonProvince Reason = "province"
	// ReasonDocumentType: the number looks like the number of another
	// document (a residence permit for Hong Kong, Macao or Taiwan residents,
	// or a foreign permanent resident ID card), which the default policy
	// does not accept in place of a resident ID number.
	ReasonDocumentType Reason = "document_type"
	// ReasonBirthDate: positions 7–14 are not a calendar date between
	// 1900-01-01 and today.
	ReasonBirthDate Reason = "birth_date"
	// ReasonCheckCharacter: the last character does not match the first 17,
	// which catches any single mistyped digit.
	ReasonCheckCharacter Reason = "check_character"
)

// Error is why Parse refused a number. Use errors.As to get at the Reason.
// Detail is plain English for people and never contains the number, so an
// Error may be logged as it is.
type Error struct {
	Reason Reason
	Detail string
}

// Error implements error.
func (e *Error) Error() string {
	return "id number refused (" + string(e.Reason) + "): " + e.Detail
}

// provinces are the province-level codes of GB/T 2260 that resident ID
// numbers are issued under. 71 (Taiwan) is a GB/T 2260 code but no resident
// ID number is issued under it; it is handled with the other document types.
var provinces = map[string]string{
	"11": "Beijing", "12": "Tianjin", "13": "Hebei", "14": "Shanxi", "15": "Inner Mongolia",
	"21": "Liaoning", "22": "Jilin", "23": "Heilongjiang",
	"31": "Shanghai", "32": "Jiangsu", "33": "Zhejiang", "34": "Anhui", "35": "Fujian", "36": "Jiangxi", "37": "Shandong",
	"41": "Henan", "42": "Hubei", "43": "Hunan", "44": "Guangdong", "45": "Guangxi", "46": "Hainan",
	"50": "Chongqing", "51": "Sichuan", "52": "Guizhou", "53": "Yunnan", "54": "Tibet",
	"61": "Shaanxi", "62": "Gansu", "63": "Qinghai", "64": "Ningxia", "65": "Xinjiang",
}

// otherDocuments are prefixes that identify numbers of other documents built
// on the same 18-character structure. They get their own reason so that the
// person is told to use a different document type rather than that they
// mistyped a province.
var otherDocuments = map[string]string{
	"71": "Taiwan is not a region resident ID numbers are issued under; Taiwan residents hold a residence permit, a different document type",
	"81": "the prefix 81 is used by residence permits for Hong Kong residents, a different document type",
	"82": "the prefix 82 is used by residence permits for Macao residents, a different document type",
	"83": "the prefix 83 is used by residence permits for Taiwan residents, a different document type",
}

// foreignPermanentResident is the first digit of the 2023 foreign permanent
// resident ID card number, which follows the same structure.
const foreignPermanentResident = '9'

// weights are the ISO 7064 MOD 11-2 weights 2^(18-i) mod 11 for positions
// 1–17; checkCharacters[sum mod 11] is the character that makes the
// weighted sum of all 18 congruent to 1.
var weights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

const checkCharacters = "10X98765432"

// earliestBirth is the earliest birth date accepted, as YYYYMMDD: nobody born
// earlier is alive to travel, so such a date is a typing error.
const earliestBirth = 19000101

// shanghai is where "today" is decided: a person born today in China must be
// accepted even while it is still yesterday in UTC.
var shanghai = loadShanghai()

func loadShanghai() *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		// Unreachable with time/tzdata embedded; China Standard Time has
		// had no daylight saving since 1991, so the fixed offset is right
		// for every "now" the service sees.
		return time.FixedZone("CST", 8*60*60)
	}
	return loc
}

// Normalize turns what people type into the canonical form Parse validates:
// it removes all whitespace anywhere (ASCII and full-width, since numbers are
// often typed in groups like "1101 0519 ..."), maps the full-width digits
// ０–９ to ASCII and full-width Ｘ/ｘ and lowercase x to X. Any other
// character is kept, so Parse can say what is wrong with it.
func Normalize(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case unicode.IsSpace(r):
			return -1
		case r >= '０' && r <= '９':
			return '0' + (r - '０')
		case r == 'x' || r == 'Ｘ' || r == 'ｘ':
			return 'X'
		}
		return r
	}, s)
}

// Parse normalises s and checks it is a resident ID number whose holder was
// born no later than now's date in Asia/Shanghai. It checks, in order,
// length, characters, province, birth date and check character, and returns
// an *Error for the first rule broken. The full region code is not checked:
// region codes change over time and a number keeps the code in force when
// it was issued.
func Parse(s string, now time.Time) (Number, error) {
	s = Normalize(s)
	if err := checkShape(s); err != nil {
		return "", err
	}
	// From here on s is 18 ASCII bytes, so it can be sliced by position.
	if err := checkProvince(s[:2]); err != nil {
		return "", err
	}
	if err := checkBirthDate(s[6:14], now); err != nil {
		return "", err
	}
	c, _ := CheckCharacter(s[:17])
	if s[17] != c {
		return "", &Error{ReasonCheckCharacter, "the check character does not match the other 17 characters; one of them is probably mistyped"}
	}
	return Number(s), nil
}

func checkShape(s string) error {
	n := utf8.RuneCountInString(s)
	switch {
	case n == 15 && allDigits(s):
		return &Error{ReasonLength, "15-digit ID numbers are no longer accepted; use the 18-character number on the current card"}
	case n != Length:
		return &Error{ReasonLength, fmt.Sprintf("an ID number has 18 characters, not %d", n)}
	case !allDigits(s[:17]):
		return &Error{ReasonCharacters, "the first 17 characters must be digits"}
	case !isDigit(s[17]) && s[17] != 'X':
		return &Error{ReasonCharacters, "the last character must be a digit or X"}
	}
	return nil
}

func checkProvince(p string) error {
	if _, ok := provinces[p]; ok {
		return nil
	}
	if d, ok := otherDocuments[p]; ok {
		return &Error{ReasonDocumentType, d}
	}
	if p[0] == foreignPermanentResident {
		return &Error{ReasonDocumentType, "numbers beginning with 9 are foreign permanent resident ID card numbers, a different document type"}
	}
	return &Error{ReasonProvince, "the first two digits are not a province-level region code"}
}

func checkBirthDate(yyyymmdd string, now time.Time) error {
	year, month, day := atoi(yyyymmdd[:4]), atoi(yyyymmdd[4:6]), atoi(yyyymmdd[6:])
	if month < 1 || month > 12 || day < 1 || day > daysIn(year, month) {
		return &Error{ReasonBirthDate, "the birth date (characters 7 to 14) is not a calendar date"}
	}
	birth := atoi(yyyymmdd)
	if birth < earliestBirth {
		return &Error{ReasonBirthDate, "the birth date is before 1900"}
	}
	ty, tm, td := now.In(shanghai).Date()
	if birth > ty*10000+int(tm)*100+td {
		return &Error{ReasonBirthDate, "the birth date is in the future"}
	}
	return nil
}

// daysIn is the number of days in month of year in the proleptic Gregorian
// calendar, for month 1–12.
func daysIn(year, month int) int {
	// Day 0 of the next month is the last day of this one.
	return time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// CheckCharacter returns the ISO 7064 MOD 11-2 check character ('0'–'9' or
// 'X') for the first 17 digits of a number. It is exported so that tests and
// demo data elsewhere can make numbers that pass Parse; it refuses anything
// but 17 ASCII digits with an *Error.
func CheckCharacter(first17 string) (byte, error) {
	if len(first17) != 17 {
		return 0, &Error{ReasonLength, fmt.Sprintf("the check character is computed from 17 digits, not %d characters", utf8.RuneCountInString(first17))}
	}
	if !allDigits(first17) {
		return 0, &Error{ReasonCharacters, "the check character is computed from digits only"}
	}
	sum := 0
	for i, w := range weights {
		sum += int(first17[i]-'0') * w
	}
	return checkCharacters[sum%11], nil
}

// Generate makes a valid number for tests and demo data: region province +
// "0101", birth's calendar date (in birth's own location), seq as the
// three-digit sequence and the matching check character. It panics when
// province is not a province-level code, seq is outside 0–999 or birth is
// outside 1900–9999, since those are mistakes in the calling code. Whether
// birth is in the future is the caller's business: Generate has no "now".
// To make a number with another prefix, such as a residence permit's, use
// CheckCharacter, since such a string is not a Number.
func Generate(province string, birth time.Time, seq int) Number {
	if _, ok := provinces[province]; !ok {
		panic(fmt.Sprintf("idnumber.Generate: %q is not a province-level code", province))
	}
	if seq < 0 || seq > 999 {
		panic(fmt.Sprintf("idnumber.Generate: sequence %d is outside 0–999", seq))
	}
	if y := birth.Year(); y < 1900 || y > 9999 {
		panic(fmt.Sprintf("idnumber.Generate: birth year %d is outside 1900–9999", y))
	}
	first17 := province + "0101" + birth.Format("20060102") + fmt.Sprintf("%03d", seq)
	c, err := CheckCharacter(first17)
	if err != nil {
		panic("idnumber.Generate: " + err.Error())
	}
	return Number(first17 + string(c))
}

// String returns the full number. Show it only where the full number is
// needed; use Masked everywhere else.
func (n Number) String() string { return string(n) }

// Masked returns the number as shown on screens, verification answers and
// audit records: the first 4 and last 4 characters with 10 asterisks
// between (1101**********1234). The zero Number masks to "".
func (n Number) Masked() string {
	if len(n) != Length {
		return ""
	}
	return string(n[:4]) + strings.Repeat("*", Length-8) + string(n[Length-4:])
}

// BirthDate returns the holder's date of birth as written in the number.
// The zero Number returns zeros.
func (n Number) BirthDate() (year, month, day int) {
	if len(n) != Length {
		return 0, 0, 0
	}
	return atoi(string(n[6:10])), atoi(string(n[10:12])), atoi(string(n[12:14]))
}

// ProvinceCode returns the two-digit province-level code the number was
// issued under, such as "11" for Beijing.
func (n Number) ProvinceCode() string {
	if len(n) != Length {
		return ""
	}
	return string(n[:2])
}

// MaskName masks a person's name for display the way the ID number is
// masked: after trimming surrounding spaces it keeps the first grapheme
// cluster (what a reader sees as one character, a letter with its
// combining marks) and replaces every other cluster with one asterisk
// ("张三" → "张*", "Alice" → "A****", "Q̈ab" → "Q̈**"). A multi-word Latin
// name has its inner spaces masked too ("Ann Lee" → "A******"), so the
// mask does not reveal where words break. An empty or all-space name
// masks to "".
func MaskName(name string) string {
	name = strings.TrimSpace(name)
	if name == "" {
		return ""
	}
	g := uniseg.NewGraphemes(name)
	g.Next()
	first := g.Str()
	rest := 0
	for g.Next() {
		rest++
	}
	return first + strings.Repeat("*", rest)
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

func isDigit(b byte) bool { return '0' <= b && b <= '9' }

// atoi converts a string the caller has checked to be ASCII digits.
func atoi(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}
