package moderation

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
	"golang.org/x/text/width"
)

// Text is a text in the canonical form that matching works on, with the
// place in the original text that each canonical rune came from, so that a
// match can be masked in the original.
//
// Runes[i] came from the original bytes Start[i]:End[i]. One original rune
// may give several canonical runes (NFKC expands "㍿" to "株式会社"), and
// several original runes may give one (a letter and a combining accent);
// the spans of consecutive canonical runes never go backwards.
type Text struct {
	Runes []rune
	Start []int
	End   []int
}

// Normalize maps s to the canonical form used for matching words:
//
//   - Unicode compatibility forms are folded (NFKC), so "ｆｕｌｌ" becomes
//     "full", "①" becomes "1" and "㊙" becomes "秘";
//   - East Asian width variants are folded (half-width katakana become
//     full-width, full-width Latin becomes ASCII);
//   - letter case is folded ("ABC" and "abc" are the same);
//   - invisible characters are dropped: zero-width space, joiners,
//     word joiner, byte-order mark, soft hyphen and the other format
//     characters, variation selectors and leftover combining marks;
//   - spaces, punctuation and symbols (emoji included) are dropped, so
//     characters inserted between the characters of a word do not hide it.
//
// Invalid UTF-8 bytes are dropped. Normalize never fails; a text made only
// of dropped characters gives an empty Text.
//
// Dropping spaces means that matching ignores word boundaries: a listed
// word also matches across two words of a text. That is the price of
// defeating "s h i t"; lists of short Latin words should take it into
// account.
func Normalize(s string) Text {
	// Pass 1: drop the characters that are ignorable on their own, before
	// NFKC, so that characters they separated compose as if adjacent (a
	// Hangul jamo pair split by a zero-width space). orig maps each byte
	// of the filtered text to the original offset of the rune it belongs
	// to; origEnd gives the end of that rune.
	var (
		filtered = make([]byte, 0, len(s))
		orig     = make([]int, 0, len(s)+1)
		origEnd  = make([]int, 0, len(s)+1)
	)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if !(r == utf8.RuneError && size == 1) && !ignorableSource(r) {
			n := len(filtered)
			filtered = utf8.AppendRune(filtered, r)
			for range len(filtered) - n {
				orig = append(orig, i)
				origEnd = append(origEnd, i+size)
			}
		}
		i += size
	}

	t := Text{
		Runes: make([]rune, 0, len(filtered)),
		Start: make([]int, 0, len(filtered)),
		End:   make([]int, 0, len(filtered)),
	}
	// Pass 2: NFKC segment by segment (a segment ends where the next rune
	// cannot combine with what precedes it); every rune of a segment maps
	// to the original span of the segment's input. Then fold width and
	// case and drop what is ignorable after folding.
	var seg []byte
	for from := 0; from < len(filtered); {
		// Fast path: a plain letter or digit followed by another (or by
		// nothing) is a segment of its own that NFKC leaves alone.
		if r, size := utf8.DecodeRune(filtered[from:]); plainRune(r) {
			if next, _ := utf8.DecodeRune(filtered[from+size:]); from+size == len(filtered) || plainRune(next) {
				if 'A' <= r && r <= 'Z' {
					r += 'a' - 'A'
				}
				t.Runes = append(t.Runes, r)
				t.Start = append(t.Start, orig[from])
				t.End = append(t.End, origEnd[from])
				from += size
				continue
			}
		}
		n := norm.NFKC.NextBoundary(filtered[from:], true)
		if n <= 0 {
			n = len(filtered) - from
		}
		to := from + n
		start, end := orig[from], origEnd[to-1]
		seg = norm.NFKC.Append(seg[:0], filtered[from:to]...)
		for k := 0; k < len(seg); {
			r, size := utf8.DecodeRune(seg[k:])
			k += size
			r = fold(r)
			if ignorableFolded(r) {
				continue
			}
			t.Runes = append(t.Runes, r)
			t.Start = append(t.Start, start)
			t.End = append(t.End, end)
		}
		from = to
	}
	return t
}

// NormalizeString returns the canonical runes of s as a string: the form
// in which words are stored and duplicate texts compared.
func NormalizeString(s string) string {
	return string(Normalize(s).Runes)
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
// with a letter inside ("㊙", "⑴") are kept for NFKC and their
// punctuation dropped afterwards. Combining marks are kept so that they
// can compose with their base letter.
func ignorableSource(r rune) bool {
	if r < utf8.RuneSelf || plainRune(r) {
		return skipCategory(r)
	}
	if unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Variation_Selector, r) || r == utf8.RuneError {
		return true
	}
	if unicode.In(r, unicode.Mn, unicode.Me) || !skipCategory(r) {
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

// ignorableFolded reports whether a rune produced by NFKC and folding is
// dropped.
func ignorableFolded(r rune) bool { return skipCategory(r) }

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
	marked := false
	for _, sp := range spans {
		from, to := max(sp[0], 0), min(sp[1], len(t.Runes))
		for k := from; k < to; k++ {
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
		case ignorableSource(r):
			// Skipped runes inside a masked span stay.
			out.WriteString(s[i : i+size])
		default:
			out.WriteByte('*')
		}
		i += size
	}
	return out.String()
}
