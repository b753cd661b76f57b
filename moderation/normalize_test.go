package moderation

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"plain ascii", "hello", "hello"},
		{"upper case", "HeLLo", "hello"},
		{"full-width latin", "ｆｕｃｋ", "fuck"},
		{"full-width upper", "ＦＵＣＫ", "fuck"},
		{"full-width digits, leetspeak", "１２３", "i2e"},
		{"half-width katakana", "ﾊﾞｶ", "バカ"},
		{"katakana dakuten composes", "ハ\u3099カ", "バカ"},
		{"nfkc circled digit, leetspeak", "①②", "i2"},
		{"nfkc circled ideograph", "㊙密", "秘密"},
		{"nfkc square word", "㍿", "株式会社"},
		{"nfkc ligature", "ﬁne", "fine"},
		{"nfkc math bold", "𝐟𝐮𝐜𝐤", "fuck"},
		{"nfkc parenthesised letter", "⒜b", "ab"},
		{"nfkc superscript", "x²", "x2"},
		{"greek final sigma, confusables", "ΣΟΦΟΣ σοφος", "ooɸooooɸoo"},
		{"kelvin sign", "\u212Aey", "key"},
		{"zero-width space", "傻\u200B逼", "傻逼"},
		{"zero-width non-joiner", "傻\u200C逼", "傻逼"},
		{"zero-width joiner", "傻\u200D逼", "傻逼"},
		{"word joiner", "fu\u2060ck", "fuck"},
		{"byte order mark", "\uFEFFfuck", "fuck"},
		{"soft hyphen", "fu\u00ADck", "fuck"},
		{"variation selector", "傻\uFE0F逼", "傻逼"},
		{"ideographic variation selector", "傻\U000E0100逼", "傻逼"},
		{"spaces between", "f u c k", "fuck"},
		{"ideographic space", "傻\u3000逼", "傻逼"},
		{"ascii punctuation", "f.u-c_k!", "fuck"},
		{"cjk punctuation", "傻，逼。", "傻逼"},
		{"full-width punctuation", "傻！逼？", "傻逼"},
		{"symbols and emoji", "傻😀逼★", "傻逼"},
		{"combining overlay", "f\u0336u\u0336c\u0336k\u0336", "fuck"},
		{"enclosing mark", "a\u20DDb", "ab"},
		{"accent stripped", "cafe\u0301", "cafe"},
		{"precomposed accent stripped", "café", "cafe"},
		{"hangul jamo split by zero width", "\u1100\u200B\u1161", "가"},
		{"hangul", "바보", "바보"},
		{"mixed evasion", "Ｆ\u200B.Ｕ ｃ\uFE0Fk", "fuck"},
		{"invalid utf-8 dropped", "fu\xffck", "fuck"},
		{"only punctuation", "!!! ...", ""},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Normalize(tt.in)
			if s := string(got.Runes); s != tt.want {
				t.Errorf("Normalize(%q) = %q, want %q", tt.in, s, tt.want)
			}
			checkSpans(t, tt.in, got)
		})
	}
}

// checkSpans asserts the invariants of a Text's spans.
func checkSpans(t *testing.T, s string, n Text) {
	t.Helper()
	if len(n.Start) != len(n.Runes) || len(n.End) != len(n.Runes) {
		t.Fatalf("lengths: runes %d, start %d, end %d", len(n.Runes), len(n.Start), len(n.End))
	}
	prevStart, prevEnd := 0, 0
	for i := range n.Runes {
		st, en := n.Start[i], n.End[i]
		if st < 0 || en > len(s) || st >= en {
			t.Fatalf("span %d = [%d,%d) out of range for %d bytes", i, st, en, len(s))
		}
		if st < prevStart || en < prevEnd {
			t.Fatalf("span %d = [%d,%d) goes back from [%d,%d)", i, st, en, prevStart, prevEnd)
		}
		if utf8.ValidString(s) && (!utf8.RuneStart(s[st]) || en < len(s) && !utf8.RuneStart(s[en])) {
			t.Fatalf("span %d = [%d,%d) splits a rune", i, st, en)
		}
		prevStart, prevEnd = st, en
	}
}

func TestNormalizeSpans(t *testing.T) {
	s := "a\u200B㍿b"
	n := Normalize(s)
	if got := string(n.Runes); got != "a株式会社b" {
		t.Fatalf("runes = %q", got)
	}
	// The four runes of ㍿ all come from the one original rune.
	sq := strings.Index(s, "㍿")
	for i := 1; i <= 4; i++ {
		if n.Start[i] != sq || n.End[i] != sq+len("㍿") {
			t.Errorf("rune %d span = [%d,%d), want [%d,%d)", i, n.Start[i], n.End[i], sq, sq+len("㍿"))
		}
	}
	if n.Start[5] != len(s)-1 {
		t.Errorf("b starts at %d, want %d", n.Start[5], len(s)-1)
	}
}

func TestMask(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		spans [][2]int
		want  string
	}{
		{"none", "hello", nil, "hello"},
		{"latin", "a bad word", [][2]int{{1, 4}}, "a *** word"},
		{"separators kept", "f.u.c.k you", [][2]int{{0, 4}}, "*.*.*.* you"},
		{"full width", "ＦＵＣＫ!", [][2]int{{0, 4}}, "****!"},
		{"cjk with zero width", "你是傻\u200B逼吗", [][2]int{{2, 4}}, "你是*\u200B*吗"},
		{"combining mark goes with base", "cafe\u0301 ok", [][2]int{{0, 4}}, "**** ok"},
		{"one rune expands", "x㍿y", [][2]int{{2, 3}}, "x*y"},
		{"overlapping spans", "abcdef", [][2]int{{0, 3}, {2, 5}}, "*****f"},
		{"clipped span", "abc", [][2]int{{2, 99}, {-5, 1}}, "*b*"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Normalize(tt.in).Mask(tt.in, tt.spans); got != tt.want {
				t.Errorf("Mask(%q, %v) = %q, want %q", tt.in, tt.spans, got, tt.want)
			}
		})
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{
		"hello", "ＦＵＣＫ", "傻\u200B逼", "ﾊﾞｶ", "㍿", "cafe\u0301", "\u1100-\u1161",
		"f\u0336u", "x\xff\xfe", "⒜⑴①", "ΣΟΦΟΣ", "a\uFE0F\u0301", "",
	} {
		f.Add(s)
	}
	for _, e := range evasions {
		f.Add(e.text)
	}
	for _, s := range innocents {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := Normalize(s)
		checkSpans(t, s, n)
		for _, r := range n.Runes {
			if skipCategory(r) {
				t.Fatalf("canonical form of %q holds skipped rune %U", s, r)
			}
		}
		// Canonical text normalises to a fixed point after at most one
		// more pass (a pass may compose runes that dropped characters
		// separated, such as conjoining jamo).
		once := string(n.Runes)
		twice := NormalizeString(once)
		if thrice := NormalizeString(twice); thrice != twice {
			t.Fatalf("not stable: %q → %q → %q → %q", s, once, twice, thrice)
		}
		// Without conjoining jamo, one pass is enough: normalising twice
		// changes nothing.
		if twice != once && !strings.ContainsFunc(once, conjoiningJamo) {
			t.Fatalf("not idempotent: %q → %q → %q", s, once, twice)
		}
		if len(n.Gap) != len(n.Runes) || len(n.Sep) != len(n.Runes) || len(n.Runes) > 0 && !n.Gap[0] {
			t.Fatalf("Gap %v, Sep %v for %d runes of %q", n.Gap, n.Sep, len(n.Runes), s)
		}
		// Masking everything leaves no canonical rune visible.
		all := n.Mask(s, [][2]int{{0, len(n.Runes)}})
		if rest := NormalizeString(all); rest != "" {
			t.Fatalf("Mask(%q, all) = %q still normalises to %q", s, all, rest)
		}
	})
}

// conjoiningJamo reports whether r is a Hangul jamo that NFKC can compose
// with its neighbours.
func conjoiningJamo(r rune) bool {
	return 0x1100 <= r && r <= 0x11FF || 0xA960 <= r && r <= 0xA97F || 0xD7B0 <= r && r <= 0xD7FF || 0x3131 <= r && r <= 0x318E
}
