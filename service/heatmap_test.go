package service_test

import (
	"context"
	"slices"
	"testing"

	danmaku "github.com/danmakud/danmakud"
	"github.com/danmakud/danmakud/service"
)

// plainStore hides the danmaku.TimeCounter of the store it holds, so that
// the heatmap takes its other path: reading the danmaku.
type plainStore struct{ danmaku.Store }

// TestHeatmapLeavesShadowsOut checks that a shadowed danmaku counts in no
// heatmap, on the store's count by key and on the read of every danmaku
// alike: a room whose only danmaku is shadowed shows nothing, and a
// shadowed danmaku at the end does not stretch the buckets.
func TestHeatmapLeavesShadowsOut(t *testing.T) {
	ctx := context.Background()
	st := mustStore(t)
	svc := service.New(service.Config{}, st, service.Options{Moderator: &refuser{}})
	for _, tc := range []struct {
		room, text string
		at         danmaku.Time
	}{{"only", "odd", 5000}, {"v", "fine", 1000}, {"v", "fine", 2500}, {"v", "odd", 30_000}} {
		if _, err := svc.Send(ctx, danmaku.Actor{}, sendReq(tc.room, tc.text, tc.at)); err != nil {
			t.Fatal(err)
		}
	}
	for name, s := range map[string]danmaku.Store{"count by key": st, "read": plainStore{st}} {
		svc := service.New(service.Config{}, s, service.Options{})
		h, err := svc.Heatmap(ctx, "only", 0, 10)
		if err != nil || h.Total != 0 || slices.ContainsFunc(h.Counts, func(n int) bool { return n != 0 }) {
			t.Errorf("%s: heatmap of a room with one shadowed danmaku = %+v, %v; want nothing", name, h, err)
		}
		h, err = svc.Heatmap(ctx, "v", 0, 2)
		if err != nil || h.Total != 2 || h.BucketMs != 1251 || !slices.Equal(h.Counts, []int{1, 1}) {
			t.Errorf("%s: heatmap = %+v, %v; want 2 in buckets of 1251 ms, up to the last public danmaku", name, h, err)
		}
	}
}
