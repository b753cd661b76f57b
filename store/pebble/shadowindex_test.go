package pebble

import (
	"context"
	"slices"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	danmaku "github.com/danmakud/danmakud"
)

// TestOpenIndexesOlderShadows makes a store as it was before the shadow
// index (a shadowed danmaku without its entry, no mark) and checks that the
// next Open indexes it, so that the heatmap's count leaves it out.
func TestOpenIndexesOlderShadows(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	gen := danmaku.NewIDGen(nil)
	for i, shadow := range []bool{false, true, false} {
		tm := danmaku.Time(1000 * (i + 1))
		d := &danmaku.Danmaku{ID: gen.Next(tm), ObjectID: "v", UserID: "u", Shadow: shadow,
			Content: danmaku.Content{Text: "x", Size: 25, Position: 1, Time: tm}}
		if err := s.Put(ctx, d); err != nil {
			t.Fatal(err)
		}
		if shadow {
			if err := s.db.Delete(shadowKey("v", d.ID), pebble.Sync); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.db.Delete(shadowIndexDone, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	count := func(s *Store) []int {
		counts := make([]int, 4)
		if err := s.CountByTime(ctx, "v", 1000, counts); err != nil {
			t.Fatal(err)
		}
		return counts
	}
	if got := count(s); !slices.Equal(got, []int{0, 1, 1, 1}) {
		t.Fatalf("without its entry the shadowed danmaku is counted: %v; the test does not make an old store", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for range 2 { // The second Open finds the mark.
		s, err = Open(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := count(s); !slices.Equal(got, []int{0, 1, 0, 1}) {
			t.Fatalf("after Open CountByTime = %v, want the shadowed danmaku left out", got)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
