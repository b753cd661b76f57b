package moderation

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func runes(ss ...string) [][]rune {
	out := make([][]rune, len(ss))
	for i, s := range ss {
		out[i] = []rune(s)
	}
	return out
}

func TestMatcher(t *testing.T) {
	tests := []struct {
		name     string
		patterns []string
		text     string
		want     []Match
	}{
		{"no patterns", nil, "abc", nil},
		{"empty pattern ignored", []string{""}, "abc", nil},
		{"single", []string{"bc"}, "abcd", []Match{{0, 1, 3}}},
		{"repeated", []string{"aa"}, "aaa", []Match{{0, 0, 2}, {0, 1, 3}}},
		{"classic he she his hers", []string{"he", "she", "his", "hers"}, "ushers",
			[]Match{{1, 1, 4}, {0, 2, 4}, {3, 2, 6}}},
		{"nested suffixes", []string{"a", "ab", "bab", "bc", "bca", "c", "caa"}, "abccab",
			[]Match{{0, 0, 1}, {1, 0, 2}, {3, 1, 3}, {5, 2, 3}, {5, 3, 4}, {0, 4, 5}, {1, 4, 6}}},
		{"cjk", []string{"傻逼", "逼"}, "你是傻逼吗", []Match{{0, 2, 4}, {1, 3, 4}}},
		{"cjk after failure", []string{"傻瓜", "瓜子"}, "傻傻瓜子", []Match{{0, 1, 3}, {1, 2, 4}}},
		{"duplicate pattern reports first", []string{"ab", "ab"}, "ab", []Match{{0, 0, 2}}},
		{"no match", []string{"xyz"}, "abc", nil},
		{"empty text", []string{"a"}, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMatcher(runes(tt.patterns...))
			got := m.FindAll([]rune(tt.text))
			if !slices.Equal(got, tt.want) {
				t.Errorf("FindAll(%q) = %v, want %v", tt.text, got, tt.want)
			}
		})
	}
}

// naiveFind finds every occurrence of every pattern by brute force.
func naiveFind(patterns [][]rune, text []rune) map[Match]bool {
	found := map[Match]bool{}
	seen := map[string]bool{}
	for p, pat := range patterns {
		if len(pat) == 0 || seen[string(pat)] {
			continue
		}
		seen[string(pat)] = true
		for i := 0; i+len(pat) <= len(text); i++ {
			if slices.Equal(text[i:i+len(pat)], pat) {
				found[Match{p, i, i + len(pat)}] = true
			}
		}
	}
	return found
}

// TestMatcherAgainstNaive compares the matcher with brute force on random
// texts over a small alphabet, with enough patterns (more than
// rootTableMin first runes) to use the root table too.
func TestMatcherAgainstNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, alphabet := range []string{"ab", "abc傻逼", "abcdefghijklmnopqrstuvwxyz0123456789一二三四五六七八九十百千万亿甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳午未申酉戌亥"} {
		letters := []rune(alphabet)
		word := func(n int) []rune {
			w := make([]rune, n)
			for i := range w {
				w[i] = letters[rng.IntN(len(letters))]
			}
			return w
		}
		for round := range 30 {
			var pats [][]rune
			for range 1 + rng.IntN(200) {
				pats = append(pats, word(1+rng.IntN(5)))
			}
			text := word(rng.IntN(200))
			m := NewMatcher(pats)
			want := naiveFind(pats, text)
			got := m.FindAll(text)
			if len(got) != len(want) {
				t.Fatalf("%s round %d: %d matches, want %d", alphabet, round, len(got), len(want))
			}
			for _, g := range got {
				if !want[g] {
					t.Fatalf("%s round %d: unexpected match %v", alphabet, round, g)
				}
			}
		}
	}
}

func TestMatcherEachStops(t *testing.T) {
	m := NewMatcher(runes("a"))
	n := 0
	m.Each([]rune("aaaa"), func(Match) bool { n++; return n < 2 })
	if n != 2 {
		t.Fatalf("Each called fn %d times after it returned false, want 2", n)
	}
}

func TestMatcherLarge(t *testing.T) {
	words := genWords(50_000, 7)
	m := NewMatcher(words)
	for _, i := range []int{0, 1, 12345, 49_999} {
		text := append(append([]rune("前缀 prefix "), words[i]...), []rune(" suffix")...)
		found := false
		m.Each(text, func(mt Match) bool {
			if slices.Equal(words[mt.Pattern], words[i]) {
				found = true
			}
			return true
		})
		if !found {
			t.Errorf("word %d %q not found", i, string(words[i]))
		}
	}
}

// genWords returns n distinct pseudo-random words, half Latin and half CJK,
// (Latin of 5 to 8 letters, CJK of 2 to 4 ideographs), already in
// canonical form.
func genWords(n int, seed uint64) [][]rune {
	rng := rand.New(rand.NewPCG(seed, seed+1))
	seen := make(map[string]bool, n)
	out := make([][]rune, 0, n)
	for len(out) < n {
		var b strings.Builder
		if len(out)%2 == 0 {
			for range 5 + rng.IntN(4) {
				b.WriteRune(rune('a' + rng.IntN(26)))
			}
		} else {
			for range 2 + rng.IntN(3) {
				b.WriteRune(rune(0x4e00 + rng.IntN(3000))) // Common CJK ideographs.
			}
		}
		if w := b.String(); !seen[w] {
			seen[w] = true
			out = append(out, []rune(w))
		}
	}
	return out
}

func ExampleMatcher() {
	m := NewMatcher([][]rune{[]rune("he"), []rune("she"), []rune("hers")})
	for _, mt := range m.FindAll([]rune("ushers")) {
		fmt.Println(mt.Pattern, mt.Start, mt.End)
	}
	// Output:
	// 1 1 4
	// 0 2 4
	// 2 2 6
}
