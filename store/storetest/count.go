package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"

	danmaku "github.com/danmakud/danmakud"
)

// testCountLeavesShadowsOut checks the heatmap's count (danmaku.TimeCounter,
// which every store of danmakud implements): a shadowed danmaku is not
// counted and is never a video's last, also after deletes, and the count
// equals what danmaku.All reads of the danmaku that are not shadowed, so
// that a heatmap says the same whichever store holds the video.
func testCountLeavesShadowsOut(t *testing.T, s danmaku.Store) {
	tc, ok := s.(danmaku.TimeCounter)
	if !ok {
		t.Fatalf("%T does not implement danmaku.TimeCounter", s)
	}
	ctx := context.Background()
	f := newFixture()
	shadowed := func(objectID string, at danmaku.Time) *danmaku.Danmaku {
		d := f.make(objectID, "spammer", at)
		d.Shadow = true
		return d
	}
	seen, hidden, late := f.make("h", "u", 2500), shadowed("h", 1200), shadowed("h", 3500)
	for _, d := range []*danmaku.Danmaku{f.make("h", "u", 100), f.make("h", "u", 1500), seen, hidden, late,
		shadowed("h1", 10), f.make("h1", "u", 20)} {
		put(t, s, d)
	}
	check := func(when string, want []int, last danmaku.Time) {
		t.Helper()
		counts := make([]int, len(want))
		if err := tc.CountByTime(ctx, "h", 1000, counts); err != nil {
			t.Fatalf("%s: CountByTime: %v", when, err)
		}
		if !slices.Equal(counts, want) {
			t.Fatalf("%s: CountByTime = %v, want %v", when, counts, want)
		}
		read := make([]int, len(want))
		for d, err := range danmaku.All(ctx, s, danmaku.Query{ObjectID: "h"}) {
			if err != nil {
				t.Fatalf("%s: All: %v", when, err)
			}
			if !d.Shadow {
				read[min(int(d.Content.Time/1000), len(read)-1)]++
			}
		}
		if !slices.Equal(read, counts) {
			t.Fatalf("%s: All reads %v danmaku that are not shadowed, CountByTime counts %v", when, read, counts)
		}
		got, err := tc.LastTime(ctx, "h")
		if err != nil || got != last {
			t.Fatalf("%s: LastTime = %v, %v; want %v", when, got, err, last)
		}
	}
	check("stored", []int{1, 1, 1, 0}, 2500)
	if _, err := s.Delete(ctx, "h", hidden.ID); err != nil {
		t.Fatal(err)
	}
	check("a shadowed one deleted", []int{1, 1, 1, 0}, 2500)
	if _, err := s.Delete(ctx, "h", seen.ID); err != nil {
		t.Fatal(err)
	}
	check("the last public one deleted", []int{1, 1, 0, 0}, 1500)
	if _, err := s.Delete(ctx, "h", late.ID); err != nil {
		t.Fatal(err)
	}
	check("the last shadowed one deleted", []int{1, 1, 0, 0}, 1500)

	// A video whose only danmaku is shadowed shows nothing; the video
	// whose id it prefixes is not affected.
	only := shadowed("o", 5000)
	put(t, s, only)
	counts := make([]int, 3)
	if err := tc.CountByTime(ctx, "o", 1000, counts); err != nil || !slices.Equal(counts, []int{0, 0, 0}) {
		t.Fatalf("video of one shadowed danmaku: CountByTime = %v, %v; want zeros", counts, err)
	}
	if got, err := tc.LastTime(ctx, "o"); !errors.Is(err, danmaku.ErrNotFound) {
		t.Fatalf("video of one shadowed danmaku: LastTime = %v, %v; want ErrNotFound", got, err)
	}
	counts = make([]int, 1)
	if err := tc.CountByTime(ctx, "h1", 1000, counts); err != nil || counts[0] != 1 {
		t.Fatalf("video h1: CountByTime = %v, %v; want [1]", counts, err)
	}
	if got, err := tc.LastTime(ctx, "h1"); err != nil || got != 20 {
		t.Fatalf("video h1: LastTime = %v, %v; want 20", got, err)
	}
}
