package moderation

import (
	"strings"
	"testing"
)

// evasionWords is the list that the evasion and innocent tables run
// against, in the word-file syntax.
const evasionWords = `
reject	spam
reject	fuck
reject	ass
reject	kill yourself
reject	*scam*
reject	傻逼
reject	法轮
reject	死ね
reject	バカ
`

// evasions are texts that must be refused, by the class of trick they use.
var evasions = []struct{ class, text string }{
	// Letters from other scripts that look like Latin ones (TR39).
	{"confusable", "ѕраm"},
	{"confusable", "spаm"},
	{"confusable", "ѕpam"},
	{"confusable", "sрam"},
	{"confusable", "sραm"},
	{"confusable", "spαm"},
	{"confusable", "fuсk"},
	{"confusable", "fυck"},
	{"confusable", "kіll yourself"},
	{"confusable", "kill yоurself"},
	{"confusable", "Ѕ Р А m"},
	{"confusable", "аѕѕ"},
	// Accents.
	{"accent", "spàm"},
	{"accent", "śpám"},
	{"accent", "fück"},
	{"accent", "fûck"},
	{"accent", "s\u0301pam"},
	{"accent", "spa\u0308m"},
	{"accent", "kīll yōurself"},
	{"accent", "ſpam"},
	{"accent", "ÀSS"},
	// Enclosed, squared, small-capital and other letter forms.
	{"letter form", "ⓢⓟⓐⓜ"},
	{"letter form", "Ⓢ Ⓟ Ⓐ Ⓜ"},
	{"letter form", "🅂🄿🄰🄼"},
	{"letter form", "🅢🅟🅐🅜"},
	{"letter form", "🆂🅿🅰🅼"},
	{"letter form", "ꜱᴘᴀᴍ"},
	{"letter form", "ꜰᴜᴄᴋ"},
	{"letter form", "⒮⒫⒜⒨"},
	{"letter form", "🇸🇵🇦🇲"},
	{"letter form", "𝓼𝓹𝓪𝓶"},
	{"letter form", "𝔰𝔭𝔞𝔪"},
	{"letter form", "ｓｐａｍ"},
	{"letter form", "ˢᵖᵃᵐ"},
	{"letter form", "ₛₚₐₘ"},
	// Fillers, zero-width characters and bidi controls between letters.
	{"invisible", "sp\u3164am"},
	{"invisible", "s\u115Fpam"},
	{"invisible", "spa\u1160m"},
	{"invisible", "sp\uFFA0am"},
	{"invisible", "s\u200bp\u200ba\u200bm"},
	{"invisible", "sp\u200dam"},
	{"invisible", "\u2060spam"},
	{"invisible", "sp\u00adam"},
	{"invisible", "sp\u202aam"},
	{"invisible", "s\u2066pa\u2069m"},
	{"invisible", "傻\u3164逼"},
	// Leetspeak.
	{"leet", "5p4m"},
	{"leet", "sp@m"},
	{"leet", "$pam"},
	{"leet", "5pam"},
	{"leet", "$p@m"},
	{"leet", "k1ll yourself"},
	{"leet", "k1ll y0urself"},
	{"leet", "a$s"},
	{"leet", "ｓｐ＠ｍ"},
	{"leet", "buy 5p4m now"},
	// Repeated letters.
	{"repeat", "spaaaam"},
	{"repeat", "sspam"},
	{"repeat", "spammmm"},
	{"repeat", "fuuuuck"},
	{"repeat", "ffuucckk"},
	{"repeat", "kiiill yourself"},
	{"repeat", "assss"},
	{"repeat", "傻傻逼逼"},
	// A character inserted inside a CJK word.
	{"cjk insert", "傻X逼"},
	{"cjk insert", "傻1逼"},
	{"cjk insert", "你是傻a逼吗"},
	{"cjk insert", "法x轮"},
	{"cjk insert", "死aね"},
	{"cjk insert", "バaカ"},
	{"cjk insert", "法 ｜ 轮"},
	{"cjk insert", "ﾊﾞｶ"},
	{"cjk insert", "法轮功"},
	// Spacing, punctuation and case.
	{"spacing", "S P A M"},
	{"spacing", "s.p.a.m"},
	{"spacing", "s-p-a-m"},
	{"spacing", "SPAM!"},
	{"spacing", "Spam."},
	{"spacing", "F U C K"},
	{"spacing", "a s s"},
	{"spacing", "killyourself"},
	// Combinations, and a word listed to match inside words.
	{"combined", "5ⓟ4m"},
	{"combined", "$ᴘᴀᴍ"},
	{"combined", "ｓ\u200bｐ@ｍｍｍ"},
	{"combined", "Ḟ\u3164Ｕ\u200bс\u0336k"},
	{"inside", "scammers everywhere"},
	{"inside", "antiscam"},
	{"inside", "ѕсаm"},
}

// innocents are texts that must be accepted: everyday Chinese, English and
// Japanese, some holding a listed word inside a longer word.
var innocents = []string{
	"antispam filter works",
	"the spa massage was great",
	"I love spamming my friends with memes",
	"as soon as possible",
	"classic bass guitar",
	"assassin's creed",
	"mass spectrometry",
	"skill yourself up",
	"sparkling water",
	"spa day at 5 pm",
	"buckle up",
	"passport control",
	"hello world",
	"this is fine",
	"the 4 am stream",
	"a spa",
	"今天天气真好",
	"这个视频太好看了",
	"哈哈哈哈哈",
	"666666",
	"前方高能",
	"弹幕护体",
	"法律规定",
	"轮到我了",
	"你真是个天才",
	"逼真的画面",
	"傻瓜相机",
	"こんにちは",
	"ありがとう",
	"草",
	"すごい！",
	"かわいい",
	"死ぬほど笑った",
	"神回",
	"おつかれさまでした",
	"バスケ最高",
}

func evasionFilter(t testing.TB) *Filter {
	t.Helper()
	rules, err := ParseWords(strings.NewReader(evasionWords))
	if err != nil {
		t.Fatal(err)
	}
	f := NewFilter()
	if err := f.Add(rules...); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestEvasionsRefused(t *testing.T) {
	if len(evasions) < 75 {
		t.Fatalf("%d evasion cases, want at least 75", len(evasions))
	}
	f := evasionFilter(t)
	for _, e := range evasions {
		if v := f.Check("", e.text); v.Action != Reject {
			t.Errorf("%s: Check(%q) = %v (canonical %q), want reject", e.class, e.text, v.Action, NormalizeString(e.text))
		}
	}
}

func TestInnocentsAccepted(t *testing.T) {
	if len(innocents) < 30 {
		t.Fatalf("%d innocent cases, want at least 30", len(innocents))
	}
	f := evasionFilter(t)
	for _, s := range innocents {
		if v := f.Check("", s); v.Action != Allow || v.Text != s {
			t.Errorf("Check(%q) = %v %q (canonical %q), want allowed unchanged", s, v.Action, v.Text, NormalizeString(s))
		}
	}
}

func TestNormalizeIdempotentOnTables(t *testing.T) {
	for _, e := range evasions {
		checkIdempotent(t, e.text)
	}
	for _, s := range innocents {
		checkIdempotent(t, s)
	}
}

// checkIdempotent asserts that normalising the canonical form of s again
// changes nothing.
func checkIdempotent(t *testing.T, s string) {
	t.Helper()
	once := NormalizeString(s)
	if twice := NormalizeString(once); twice != once {
		t.Errorf("Normalize not idempotent: %q → %q → %q", s, once, twice)
	}
}

func TestLeetTableConfigurable(t *testing.T) {
	if _, err := ParseLeet("5=ss"); err == nil {
		t.Error("ParseLeet accepted a two-letter value")
	}
	if _, err := ParseLeet("a=b"); err == nil {
		t.Error("ParseLeet accepted a letter as key")
	}
	leet, err := ParseLeet("9=g")
	if err != nil {
		t.Fatal(err)
	}
	n, err := NewNormalizer(leet)
	if err != nil {
		t.Fatal(err)
	}
	f := NewFilterWith(n)
	if err := f.Add(Rule{Word: "egg", Action: Reject}, Rule{Word: "spam", Action: Reject}); err != nil {
		t.Fatal(err)
	}
	if v := f.Check("", "e99"); v.Action != Reject {
		t.Errorf("custom table: e99 = %v, want reject", v.Action)
	}
	if v := f.Check("", "5p4m"); v.Action != Allow {
		t.Errorf("custom table without 5 and 4: 5p4m = %v, want allow", v.Action)
	}
	none, err := ParseLeet("")
	if err != nil || len(none) != 0 {
		t.Fatalf("ParseLeet(\"\") = %v, %v", none, err)
	}
}
