package moderation

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

// benchText is a 100-character danmaku mixing CJK, Latin, punctuation and
// an emoji, with no listed word in it.
var benchText = func() string {
	s := strings.Repeat("前方高能！this is SO good 哈哈哈😂 ", 5)
	r := []rune(s)
	return string(r[:100])
}()

// benchFilter returns a filter with n generated global words (half Latin,
// half CJK) and 10 room words.
func benchFilter(b *testing.B, n int) *Filter {
	b.Helper()
	words := genWords(n, 42)
	rules := make([]Rule, 0, n+10)
	for i, w := range words {
		rules = append(rules, Rule{Word: string(w), Action: Action(1 + i%3)})
	}
	for i := range 10 {
		rules = append(rules, Rule{Room: "room", Word: fmt.Sprintf("roomword%d", i), Action: Mask})
	}
	f := NewFilter()
	if err := f.Add(rules...); err != nil {
		b.Fatal(err)
	}
	return f
}

// BenchmarkCheck measures Check on a 100-character text against 10 and
// 50,000 listed words; the ratio of the two is the cost of a long list.
func BenchmarkCheck(b *testing.B) {
	if n := utf8.RuneCountInString(benchText); n != 100 {
		b.Fatalf("bench text has %d runes", n)
	}
	for _, n := range []int{10, 50_000} {
		f := benchFilter(b, n)
		b.Run(fmt.Sprintf("words=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				f.Check("room", benchText)
			}
		})
	}
}

// BenchmarkNormalize measures normalisation alone on the same text.
func BenchmarkNormalize(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		Normalize(benchText)
	}
}

// BenchmarkFilterAdd measures one edit of a 50,000-word global list (the
// whole list's matcher is rebuilt).
func BenchmarkFilterAdd(b *testing.B) {
	f := benchFilter(b, 50_000)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if err := f.Add(Rule{Word: fmt.Sprintf("edit%d", i), Action: Mask}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLimiterAllow measures one Allow with every limit in play.
func BenchmarkLimiterAllow(b *testing.B) {
	l := NewLimiter(LimitConfig{UserRate: 1e9, UserBurst: 1 << 30, IPRate: 1e9, IPBurst: 1 << 30})
	l.SetSlowMode("room", 1)
	texts := make([]string, 1024)
	for i := range texts {
		texts[i] = fmt.Sprint(i, benchText[:60])
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		// Users cycle so that the duplicate check rarely refuses.
		_ = l.Allow(Attempt{UserID: fmt.Sprint(i % 4096), IP: "10.0.0.1", Room: "room", Text: texts[i%len(texts)]})
	}
}

// BenchmarkMatcher measures the matching pass alone on the canonical form
// of the bench text, against 10 and 50,000 patterns.
func BenchmarkMatcher(b *testing.B) {
	text := Normalize(benchText).Runes
	for _, n := range []int{10, 50_000} {
		m := NewMatcher(genWords(n, 42))
		b.Run(fmt.Sprintf("words=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				m.Each(text, func(Match) bool { return true })
			}
		})
	}
}
