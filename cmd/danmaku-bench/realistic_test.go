package main

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// TestRealisticItems: texts are unique, 6 to 14 characters and about 10
// on average, mostly Chinese; most items are white and scrolling; the
// same seed makes the same items.
func TestRealisticItems(t *testing.T) {
	start := time.Now()
	g, again := newItemGen(benchSeed, start), newItemGen(benchSeed, start)
	const n = 5000
	seen := map[string]bool{}
	var runes, hanzi, white, scroll int
	for range n {
		it := g.next()
		if it2 := again.next(); it2.Text != it.Text || it2.AnonID != it.AnonID || it2.Color != it.Color {
			t.Fatalf("the same seed made %+v and %+v", it, it2)
		}
		if seen[it.Text] {
			t.Fatalf("text %q repeated", it.Text)
		}
		seen[it.Text] = true
		k := utf8.RuneCountInString(it.Text)
		if k < 6 || k > 14 {
			t.Errorf("text %q has %d characters", it.Text, k)
		}
		runes += k
		for _, r := range it.Text {
			if r >= 0x4e00 && r <= 0x9fff {
				hanzi++
			}
		}
		if it.Color == "#ffffff" {
			white++
		}
		if it.Position == 1 {
			scroll++
		}
		if !strings.HasPrefix(it.AnonID, "anon-") || len(it.AnonID) != 27 {
			t.Errorf("anonymous id %q", it.AnonID)
		}
	}
	if avg := float64(runes) / n; avg < 9 || avg > 11 {
		t.Errorf("%.1f characters a text on average, want about 10", avg)
	}
	if float64(hanzi)/float64(runes) < 0.9 {
		t.Errorf("%d of %d characters are Chinese", hanzi, runes)
	}
	if white < n*3/4 || white > n*19/20 || scroll < n*4/5 || scroll == n {
		t.Errorf("%d white and %d scrolling of %d, want most but not all", white, scroll, n)
	}
}
