package personname_test

import (
	"strings"
	"testing"

	"tempid/internal/personname"
)

// Names as people in China write them: Han names, with the middle dots of
// minority and foreign names, rare ideographs of every CJK extension, and
// Latin names of foreign residents.
func TestRealNamesPass(t *testing.T) {
	for _, tt := range []struct {
		name, in, want string
	}{
		{"a two-character Han name", "张三", "张三"},
		{"a compound surname", "欧阳娜娜", "欧阳娜娜"},
		{"a Uyghur name with the middle dot U+00B7", "阿依古丽·买买提", "阿依古丽·买买提"},
		{"a Manchu name with the middle dot", "爱新觉罗·启星", "爱新觉罗·启星"},
		{"a foreign name with the katakana middle dot U+30FB", "约翰・史密斯", "约翰・史密斯"},
		{"a foreign name with the hyphenation point U+2027", "玛丽‧居里", "玛丽‧居里"},
		{"a foreign name with the halfwidth middle dot U+FF65", "让･雷诺", "让･雷诺"},
		{"a foreign name with the bullet operator U+2219", "卡尔∙马克思", "卡尔∙马克思"},
		{"a CJK extension A ideograph", "王㐀", "王㐀"},
		{"a CJK extension B ideograph", "李𠀀", "李𠀀"},
		{"the extension B ideograph of 𪚥 (four dragons)", "陈𪚥", "陈𪚥"},
		{"a CJK extension C ideograph", "赵𪜀", "赵𪜀"},
		{"a CJK extension D ideograph", "钱𫝀", "钱𫝀"},
		{"a CJK extension E ideograph", "孙𫠠", "孙𫠠"},
		{"a CJK extension F ideograph", "周𬺰", "周𬺰"},
		{"a CJK extension G ideograph", "吴𰀀", "吴𰀀"},
		{"a CJK extension H ideograph", "郑𱍐", "郑𱍐"},
		{"a CJK extension I ideograph (Unicode 15.1)", "冯\U0002EBF0", "冯\U0002EBF0"},
		{"a CJK extension J ideograph (Unicode 17)", "蒋\U000323B0", "蒋\U000323B0"},
		{"a compatibility ideograph becomes its unified ideograph (NFC)", "卫\U0002F800", "卫\u4E3D"},
		{"an ideograph with a variation selector", "葛\u845B\U000E0100", "葛\u845B\U000E0100"},
		{"a Latin name with a space", "Ann Lee", "Ann Lee"},
		{"a Latin name with a hyphen and an apostrophe", "Jean-Luc O'Neil", "Jean-Luc O'Neil"},
		{"a decomposed accent is composed (NFC)", "Jose\u0301", "José"},
		{"two combining marks in a row pass", "Nguyê\u0303n", "Nguyễn"},
		{"a name with ü", "吕", "吕"},
		{"surrounding spaces are trimmed", "  张三\u3000", "张三"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := personname.Normalize(tt.in)
			if err != nil {
				t.Fatalf("Normalize(%+q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("Normalize(%+q) = %+q, want %+q", tt.in, got, tt.want)
			}
		})
	}
}

// Characters that hide, reorder or fake text are refused, with a detail
// that names the character's kind (never the name itself).
func TestNamesWithHiddenCharactersAreRefused(t *testing.T) {
	for _, tt := range []struct {
		name, in, detail string
	}{
		{"a right-to-left override", "张\u202e三", "U+202E"},
		{"a left-to-right isolate", "张\u2066三", "format"},
		{"a zero-width space", "张\u200b三", "format"},
		{"a zero-width joiner", "张\u200d三", "format"},
		{"a byte order mark", "\ufeff张三", "format"},
		{"a soft hyphen", "张\u00ad三", "format"},
		{"a tag character", "张三\U000E0041", "format"},
		{"NUL", "张\x00三", "control"},
		{"a tab", "张\t三", "control"},
		{"a newline", "张三\n李四", "control"},
		{"a C1 control", "张\u0085三", "control"},
		{"a line separator", "张\u2028三", "space"},
		{"a no-break space", "Ann\u00a0Lee", "space"},
		{"a private-use character", "张\ue000", "private-use"},
		{"a supplementary private-use character", "张\U000F0000", "private-use"},
		{"an unassigned code point", "张\u0378", "unassigned"},
		{"an unassigned code point among the ideographs", "张\U0002A6E0", "unassigned"},
		{"three combining marks in a row", "a\u0301\u0302\u0303", "combining marks"},
		{"a stack of combining marks", "Z" + strings.Repeat("\u0336", 20), "combining marks"},
		{"a combining mark first", "\u0301张三", "combining mark"},
		{"invalid UTF-8", "张\xff三", "UTF-8"},
		{"an empty name", "", "empty"},
		{"a name of spaces", "   ", "empty"},
		{"a name over 64 bytes", strings.Repeat("张", 22), "64 bytes"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := personname.Normalize(tt.in)
			if err == nil {
				t.Fatalf("Normalize(%+q) = %+q, want a refusal", tt.in, got)
			}
			if !strings.Contains(err.Error(), tt.detail) {
				t.Errorf("Normalize(%+q): %q does not say %q", tt.in, err, tt.detail)
			}
		})
	}
}
