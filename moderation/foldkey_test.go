package moderation

import "testing"

// TestFoldKey checks which texts a live tick folds into one "×N" item:
// width, case and trailing punctuation do not matter, separators between
// two parts of a text do, and a text of punctuation only keys as itself.
func TestFoldKey(t *testing.T) {
	same := [][2]string{
		{"666", "６６６"},
		{"666", "666!"},
		{"哈哈哈", "哈哈哈！"},
		{"Nice", "NICE"},
	}
	for _, c := range same {
		if a, b := FoldKey(c[0]), FoldKey(c[1]); a != b {
			t.Errorf("FoldKey(%q) = %q, FoldKey(%q) = %q: want the same key", c[0], a, c[1], b)
		}
	}
	apart := [][2]string{
		{"1-10", "11-0"},
		{"valid 1-10", "valid 11-0"},
		{"???", "!!!"},
		{"666", "66"},
	}
	for _, c := range apart {
		if a, b := FoldKey(c[0]), FoldKey(c[1]); a == b {
			t.Errorf("FoldKey(%q) = FoldKey(%q) = %q: want different keys", c[0], c[1], a)
		}
	}
}
