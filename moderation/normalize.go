package moderation

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/mtibben/confusables"
	"golang.org/x/text/unicode/norm"
	"golang.org/x/text/unicode/runenames"
	"golang.org/x/text/width"
)

// Text is a text in the canonical form that matching works on, with the
// place in the original text that each canonical rune came from, so that a
// match can be masked in the original.
//
// Runes[i] came from the original bytes Start[i]:End[i]. One original rune
// may give several canonical runes (NFKC expands "㍿" to "株式会社"), and
// several original runes may give one (a letter and a combining accent);
// the spans of consecutive canonical runes never go backwards. Gap[i]
// reports a word boundary before Runes[i]: the start of the text, a
// dropped space, punctuation or symbol, or a leetspeak character (which
// may stand for a letter or separate two words); Sep[i] reports a dropped
// space, punctuation or symbol before Runes[i].
type Text struct {
	Runes []rune
	Start []int
	End   []int
	Gap   []bool
	Sep   []bool
}

// Normalizer maps texts to the canonical form that word lists match on.
// Its one setting is the leetspeak table. A Normalizer is immutable and
// safe for concurrent use.
type Normalizer struct {
	leet  map[rune]rune
	ascii [utf8.RuneSelf]rune // Canonical rune of each ASCII letter and digit.
}

// DefaultLeet returns the default leetspeak table: the digits and symbols
// commonly written for letters ("5p4m", "sp@m", "$pam", "sh!t").
func DefaultLeet() map[rune]rune {
	return map[rune]rune{
		'0': 'o', '1': 'i', '3': 'e', '4': 'a', '5': 's', '7': 't', '8': 'b',
		'@': 'a', '$': 's', '!': 'i', '|': 'l',
	}
}

// ParseLeet parses a leetspeak table written as comma-separated pairs
// "5=s,4=a,@=a": an ASCII digit, punctuation or symbol, '=', and the ASCII
// letter it stands for. An empty string gives an empty table (no
// leetspeak folding).
func ParseLeet(s string) (map[rune]rune, error) {
	leet := make(map[rune]rune)
	if strings.TrimSpace(s) == "" {
		return leet, nil
	}
	for _, pair := range strings.Split(s, ",") {
		from, to, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if !ok || utf8.RuneCountInString(from) != 1 || utf8.RuneCountInString(to) != 1 {
			return nil, fmt.Errorf("leetspeak pair %q: want one character, '=', one letter", pair)
		}
		leet[[]rune(from)[0]] = unicode.ToLower([]rune(to)[0])
	}
	if _, err := NewNormalizer(leet); err != nil {
		return nil, err
	}
	return leet, nil
}

// NewNormalizer returns a Normalizer with the given leetspeak table (nil
// or empty for none). Keys must be ASCII digits, punctuation or symbols
// and values ASCII letters.
func NewNormalizer(leet map[rune]rune) (*Normalizer, error) {
	n := &Normalizer{leet: make(map[rune]rune, len(leet))}
	for from, to := range leet {
		if from >= utf8.RuneSelf || from <= ' ' || 'a' <= from && from <= 'z' || 'A' <= from && from <= 'Z' {
			return nil, fmt.Errorf("leetspeak key %q: must be an ASCII digit, punctuation or symbol", from)
		}
		to = unicode.ToLower(to)
		if to < 'a' || to > 'z' {
			return nil, fmt.Errorf("leetspeak value %q for %q: must be an ASCII letter", to, from)
		}
		n.leet[from] = to
	}
	for r := rune(0); r < utf8.RuneSelf; r++ {
		switch {
		case 'A' <= r && r <= 'Z':
			n.ascii[r] = r + 'a' - 'A'
		case 'a' <= r && r <= 'z':
			n.ascii[r] = r
		case '0' <= r && r <= '9':
			n.ascii[r] = r
			if to, ok := n.leet[r]; ok {
				n.ascii[r] = to
			}
		}
	}
	return n, nil
}

// defaultNormalizer is the immutable Normalizer with DefaultLeet, used by
// the package-level functions.
var defaultNormalizer = func() *Normalizer {
	n, err := NewNormalizer(DefaultLeet())
	if err != nil {
		panic(err)
	}
	return n
}()

// Normalize maps s to the canonical form with the default leetspeak
// table; see Normalizer.Normalize.
func Normalize(s string) Text { return defaultNormalizer.Normalize(s) }

// NormalizeString returns the canonical runes of s as a string (with the
// default leetspeak table): the form in which words are stored and
// duplicate texts compared.
func NormalizeString(s string) string { return string(Normalize(s).Runes) }

// FoldKey returns the key under which a live tick folds repeated texts
// into one item ("×N"): the canonical form of s, so that "666", "６６６"
// and "666!" fold together, or s itself when nothing of it is left once
// normalised (so that "???" and "!!!" stay apart). Where spaces,
// punctuation or symbols separated two canonical runes, the key keeps one
// space, so that "1-10" and "11-0" stay apart.
func FoldKey(s string) string {
	t := Normalize(s)
	if len(t.Runes) == 0 {
		return s
	}
	var b strings.Builder
	for i, r := range t.Runes {
		if i > 0 && t.Sep[i] {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Normalize maps s to the canonical form used for matching words:
//
//   - Unicode compatibility forms are folded (NFKC), so "ｆｕｌｌ" becomes
//     "full", "①" becomes "1" and "㊙" becomes "秘";
//   - East Asian width variants are folded (half-width katakana become
//     full-width, full-width Latin becomes ASCII);
//   - letter case is folded ("ABC" and "abc" are the same);
//   - outside the CJK, kana and Hangul scripts, accents are stripped
//     ("é" becomes "e": NFD, then combining marks dropped), letters that
//     look alike are folded to one prototype by the Unicode TR39
//     confusables skeleton (Cyrillic "а" and Greek "ο" become "a" and
//     "o"), and letters whose Unicode name makes them a form of a Latin
//     letter (small capitals "ᴀ", negative squared "🅰", regional
//     indicators) become that letter;
//   - the leetspeak table maps digits ("5p4m") and, inside a word, symbols
//     ("sp@m", "$pam") to letters;
//   - invisible characters are dropped: zero-width space, joiners,
//     word joiner, byte-order mark, soft hyphen, bidi controls and the
//     other format characters, variation selectors, Hangul fillers and
//     leftover combining marks;
//   - spaces, punctuation and symbols (emoji included) are dropped, so
//     characters inserted between the characters of a word do not hide
//     it; where they were, Text.Gap records a word boundary.
//
// Repeated letters are kept; matching folds them (see Filter). CJK, kana
// and Hangul are left out of the confusables folding because TR39 maps
// common kana to look-alike ideographs ("カ" to "力"), which would make
// Japanese words match unrelated ones.
//
// Invalid UTF-8 bytes are dropped. Normalize never fails; a text made only
// of dropped characters gives an empty Text. Normalizing the canonical
// runes again gives the same runes.
func (n *Normalizer) Normalize(s string) Text {
	// Pass 1: drop the characters that are ignorable on their own, before
	// NFKC, so that characters they separated compose as if adjacent (a
	// Hangul jamo pair split by a zero-width space), and map leetspeak
	// symbols that stand inside a word. orig maps each byte of the
	// filtered text to the original offset of the rune it belongs to;
	// origEnd gives the end of that rune; gapAt marks the first byte of a
	// rune with a word boundary before it.
	var (
		filtered = make([]byte, 0, len(s))
		orig     = make([]int, 0, len(s)+1)
		origEnd  = make([]int, 0, len(s)+1)
		gapAt    = make([]bool, 0, len(s)+1) // Word boundary before the rune.
		sepAt    = make([]bool, 0, len(s)+1) // Separator dropped before the rune.
		gap      = true
		sep      = false
	)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		keep, leet := false, false
		switch {
		case r == utf8.RuneError && size == 1:
		case n.leetSymbol(r) != 0:
			// A leetspeak symbol stands for a letter when a Latin (not
			// CJK) letter or digit follows it; otherwise it is
			// punctuation.
			if n.wordFollows(s[i+size:]) {
				r, keep, leet = n.leetSymbol(r), true, true
			} else {
				gap, sep = true, true
			}
		case filler(r):
		case ignorableSource(r):
			if separator(r) {
				gap, sep = true, true
			}
		default:
			keep = true
		}
		if keep {
			k := len(filtered)
			filtered = utf8.AppendRune(filtered, r)
			for j := range len(filtered) - k {
				orig = append(orig, i)
				origEnd = append(origEnd, i+size)
				gapAt = append(gapAt, j == 0 && (gap || leet))
				sepAt = append(sepAt, j == 0 && sep)
			}
			gap, sep = leet, false
		}
		i += size
	}

	t := Text{
		Runes: make([]rune, 0, len(filtered)),
		Start: make([]int, 0, len(filtered)),
		End:   make([]int, 0, len(filtered)),
		Gap:   make([]bool, 0, len(filtered)),
		Sep:   make([]bool, 0, len(filtered)),
	}
	emit := func(r rune, start, end int, gap, sep bool) {
		t.Runes = append(t.Runes, r)
		t.Start = append(t.Start, start)
		t.End = append(t.End, end)
		t.Gap = append(t.Gap, gap || sep)
		t.Sep = append(t.Sep, sep)
	}
	// Pass 2: NFKC segment by segment (a segment ends where the next rune
	// cannot combine with what precedes it); every rune of a segment maps
	// to the original span of the segment's input. Then fold each rune
	// and drop what is ignorable after folding.
	var seg []byte
	var canon []rune
	gap, sep = false, false
	for from := 0; from < len(filtered); {
		gap, sep = gap || gapAt[from], sep || sepAt[from]
		// Fast path: a plain letter or digit followed by another (or by
		// nothing) is a segment of its own that NFKC leaves alone.
		if r, size := utf8.DecodeRune(filtered[from:]); plainRune(r) {
			if next, _ := utf8.DecodeRune(filtered[from+size:]); from+size == len(filtered) || plainRune(next) {
				leet := false
				if r < utf8.RuneSelf {
					leet = '0' <= r && r <= '9' && n.ascii[r] != r
					r = n.ascii[r]
				}
				emit(r, orig[from], origEnd[from], gap || leet, sep)
				gap, sep = leet, false
				from += size
				continue
			}
		}
		k := norm.NFKC.NextBoundary(filtered[from:], true)
		if k <= 0 {
			k = len(filtered) - from
		}
		to := from + k
		start, end := orig[from], origEnd[to-1]
		seg = norm.NFKC.Append(seg[:0], filtered[from:to]...)
		for k := 0; k < len(seg); {
			r, size := utf8.DecodeRune(seg[k:])
			k += size
			var leet bool
			canon, leet = n.canon(r, canon[:0], 0)
			if len(canon) == 0 && separator(r) {
				gap, sep = true, true
			}
			for _, c := range canon {
				emit(c, start, end, gap || leet, sep)
				gap, sep = leet, false
			}
		}
		from = to
	}
	return t
}

// wordFollows reports whether s begins with a rune whose canonical form
// begins with a letter or digit of a Latin-like word: the context in which
// a leetspeak symbol stands for a letter. A letter that canonicalises to
// nothing (a modifier such as "ˋ") does not count, so that the symbol
// reads the same whether or not such a letter follows it.
func (n *Normalizer) wordFollows(s string) bool {
	// An empty s or an invalid byte decodes to U+FFFD, a symbol.
	r, size := utf8.DecodeRuneInString(s)
	if !unicode.In(r, unicode.L, unicode.N) {
		return false
	}
	var nfkc [4 * utf8.UTFMax]byte
	c, _ := utf8.DecodeRune(norm.NFKC.AppendString(nfkc[:0], s[:size]))
	var buf [4]rune
	canon, _ := n.canon(c, buf[:0], 0)
	return len(canon) > 0 && wordRune(canon[0])
}

// leetSymbol returns the letter that the leetspeak table gives for the
// symbol r (full-width forms included), or 0.
func (n *Normalizer) leetSymbol(r rune) rune {
	if r >= utf8.RuneSelf {
		if r = width.LookupRune(r).Folded(); r == 0 || r >= utf8.RuneSelf {
			return 0
		}
	}
	if '0' <= r && r <= '9' {
		return 0
	}
	return n.leet[r]
}

// canon appends the canonical runes of one NFKC rune to dst and reports
// whether a leetspeak digit gave them. Its result is a fixed point: the
// canonical runes of a canonical rune are that rune.
func (n *Normalizer) canon(r rune, dst []rune, depth int) ([]rune, bool) {
	r = fold(r)
	switch {
	case r < utf8.RuneSelf:
		if c := n.ascii[r]; c != 0 {
			return append(dst, c), '0' <= r && r <= '9' && c != r
		}
		return dst, false
	case plainRune(r) || unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul, unicode.Bopomofo):
		return append(dst, r), false
	}
	if l := latinFormOf(r); l != 0 {
		return append(dst, l), false
	}
	if filler(r) || skipCategory(r) {
		return dst, false
	}
	// Strip accents, then take the confusables skeleton of what is left.
	var buf [utf8.UTFMax]byte
	in := len(dst)
	for _, b := range norm.NFD.String(string(buf[:utf8.EncodeRune(buf[:], r)])) {
		if unicode.In(b, unicode.Mn, unicode.Me) {
			continue
		}
		sk := confusables.Skeleton(string(b))
		if sk == "rn" {
			// TR39 takes "rn" as the prototype of "m"; keeping "m" keeps
			// ASCII words apart and repeated letters foldable.
			sk = "m"
		}
		for _, c := range sk {
			if unicode.In(c, unicode.Mn, unicode.Me) {
				continue
			}
			dst = append(dst, c)
		}
	}
	// Fold what the skeleton produced until nothing changes.
	out := dst[in:]
	if len(out) == 1 && out[0] == r {
		return dst, false
	}
	if depth >= 3 {
		return dst[:in], false
	}
	next := make([]rune, 0, len(out))
	for _, c := range out {
		next, _ = n.canon(c, next, depth+1)
	}
	for i, c := range next {
		if c >= '0' && c <= '9' {
			next[i] = n.ascii[c]
		}
	}
	return append(dst[:in], next...), false
}

// latinFormOf returns the ASCII letter that r is a form of according to
// its Unicode name ("LATIN LETTER SMALL CAPITAL A", "NEGATIVE SQUARED
// LATIN CAPITAL LETTER A", "REGIONAL INDICATOR SYMBOL LETTER A"), or 0.
// Compatibility forms are left to NFKC; this catches the forms that NFKC
// leaves alone.
func latinFormOf(r rune) rune {
	if !unicode.In(r, unicode.L, unicode.So) {
		return 0
	}
	name := runenames.Name(r)
	for _, p := range [...]string{"LATIN LETTER SMALL CAPITAL ", "LATIN CAPITAL LETTER ", "LATIN SMALL LETTER ", "SYMBOL LETTER "} {
		i := strings.LastIndex(name, p)
		if i < 0 || len(name) != i+len(p)+1 {
			continue
		}
		if c := rune(name[len(name)-1]); 'A' <= c && c <= 'Z' {
			return c + 'a' - 'A'
		}
	}
	return 0
}

// plainRune reports whether r is an ASCII letter or digit, or a character
// of the common CJK, kana and Hangul syllable blocks: letters that NFKC
// leaves alone on their own, with no width variant or case other than
// ASCII's. It is a fast path; other runes take the general one.
func plainRune(r rune) bool {
	switch {
	case r < utf8.RuneSelf:
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9'
	case 0x4E00 <= r && r <= 0x9FFF, // CJK unified ideographs.
		0x3400 <= r && r <= 0x4DBF, // CJK extension A.
		0xAC00 <= r && r <= 0xD7A3, // Hangul syllables.
		0x3041 <= r && r <= 0x3096, // Hiragana letters.
		0x30A1 <= r && r <= 0x30FA: // Katakana letters.
		return true
	}
	return false
}

// cjkRune reports whether r is a canonical rune of the CJK, kana, Hangul
// or Bopomofo scripts: words made of them match as substrings.
func cjkRune(r rune) bool {
	return r >= 0x1100 && (plainRune(r) || unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul, unicode.Bopomofo))
}

// wordRune reports whether r is a canonical letter or digit of a script
// written with spaces between words: a rune that continues a Latin word.
func wordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || '0' <= r && r <= '9'
	}
	return unicode.In(r, unicode.L, unicode.N) && !cjkRune(r)
}

// filler reports whether r is one of the Hangul fillers, letters that
// render as nothing and so can hide inside a word.
func filler(r rune) bool {
	switch r {
	case 0x115F, 0x1160, 0x3164, 0xFFA0:
		return true
	}
	return false
}

// separator reports whether a dropped rune separates words: a space,
// punctuation, symbol or control character (not an invisible format
// character or mark).
func separator(r rune) bool {
	if r < utf8.RuneSelf {
		return !plainRune(r)
	}
	return unicode.In(r, unicode.Z, unicode.P, unicode.S, unicode.Cc)
}

// fold folds width and case of one NFKC rune.
func fold(r rune) rune {
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		}
		return r
	}
	if f := width.LookupRune(r).Folded(); f != 0 {
		r = f
	}
	// Upper then lower maps variants such as the final sigma to one form.
	return unicode.ToLower(unicode.ToUpper(r))
}

// skipCategory reports whether r is a space, punctuation, symbol, format,
// control or mark character: one that matching skips.
func skipCategory(r rune) bool {
	if r < utf8.RuneSelf || plainRune(r) {
		return !plainRune(r)
	}
	return unicode.In(r, unicode.Z, unicode.P, unicode.S, unicode.Cf, unicode.Cc, unicode.Mn, unicode.Me) ||
		r == utf8.RuneError
}

// ignorableSource reports whether an original rune is dropped before NFKC:
// a format character, a variation selector, or a space, punctuation or
// symbol whose compatibility form is made only of such characters. Symbols
// with a letter inside ("㊙", "⑴") or a name that makes them a Latin
// letter ("🅰") are kept for NFKC and their punctuation dropped
// afterwards. Combining marks are kept so that they can compose with their
// base letter.
func ignorableSource(r rune) bool {
	if r < utf8.RuneSelf || plainRune(r) {
		return skipCategory(r)
	}
	if unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Variation_Selector, r) || r == utf8.RuneError {
		return true
	}
	if unicode.In(r, unicode.Mn, unicode.Me) || !skipCategory(r) || latinFormOf(r) != 0 {
		return false
	}
	var buf [utf8.UTFMax]byte
	d := norm.NFKC.Properties(buf[:utf8.EncodeRune(buf[:], r)]).Decomposition()
	for len(d) > 0 {
		c, size := utf8.DecodeRune(d)
		d = d[size:]
		if !skipCategory(fold(c)) {
			return false
		}
	}
	return true
}

// Mask returns the original text s with the original runes behind the
// canonical runes t.Runes[from:to] of every span replaced by '*'. Runes
// that matching skipped (spaces, punctuation, invisible characters) are
// kept, so "f.u.c.k" masks to "*.*.*.*". Spans are half-open indexes into
// t.Runes; out-of-range spans are clipped.
func (t Text) Mask(s string, spans [][2]int) string {
	if len(spans) == 0 {
		return s
	}
	masked := make([]bool, len(s))
	starts := make([]bool, len(s)) // First bytes of masked canonical runes' spans.
	marked := false
	for _, sp := range spans {
		from, to := max(sp[0], 0), min(sp[1], len(t.Runes))
		for k := from; k < to; k++ {
			if t.Start[k] < len(s) {
				starts[t.Start[k]] = true
			}
			for b := t.Start[k]; b < t.End[k] && b < len(s); b++ {
				masked[b] = true
				marked = true
			}
		}
	}
	if !marked {
		return s
	}
	var out strings.Builder
	out.Grow(len(s))
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			// Invalid bytes are dropped everywhere: kept next to a
			// dropped mark, two of them could join into a new letter.
		case !masked[i]:
			out.WriteString(s[i : i+size])
		case unicode.In(r, unicode.Mn, unicode.Me):
			// Combining marks go with their masked base letter.
		case (ignorableSource(r) || filler(r)) && !starts[i]:
			// Skipped runes inside a masked span stay; a leetspeak
			// symbol that stood for a letter is masked.
			out.WriteString(s[i : i+size])
		default:
			out.WriteByte('*')
		}
		i += size
	}
	return out.String()
}
