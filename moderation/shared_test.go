package moderation

import (
	"context"
	"testing"
	"time"

	danmaku "github.com/danmakud/danmakud"
)

func TestPauseList(t *testing.T) {
	ctx := context.Background()
	p := NewPauseList()
	if err := p.SetPaused(ctx, "r1", true); err != nil {
		t.Fatal(err)
	}
	if !p.Paused("r1") || p.Paused("r2") {
		t.Fatal("pause of r1 not recorded alone")
	}
	p.Replace([]string{"r2", "r3"})
	if p.Paused("r1") || !p.Paused("r2") || !p.Paused("r3") {
		t.Fatal("Replace did not set exactly the given rooms")
	}
	if err := p.SetPaused(ctx, "r2", false); err != nil || p.Paused("r2") {
		t.Fatalf("resume failed: %v", err)
	}
}

func TestGuardRoomSettings(t *testing.T) {
	ctx := context.Background()
	clk := newFakeClock()
	lim := NewLimiter(LimitConfig{Now: clk.Now, UserBurst: 10, DuplicateWindow: -1})
	g := NewGuard(NewFilter(), lim, NewBanList(), BanReject, clk.Now)
	if err := g.SetRoomPaused(ctx, "r1", true); err != nil {
		t.Fatal(err)
	}
	d := &danmaku.Danmaku{ObjectID: "r1", UserID: "u", Content: danmaku.Content{Text: "hi"}}
	if _, err := g.Check(ctx, danmaku.Actor{UserID: "u"}, d); danmaku.ErrorCode(err) != danmaku.EFORBIDDEN {
		t.Fatalf("paused room: err = %v", err)
	}
	if err := g.SetRoomPaused(context.Background(), "r1", false); err != nil {
		t.Fatal(err)
	}
	if err := g.SetRoomSlowMode(ctx, "r1", 3*time.Second); err != nil {
		t.Fatal(err)
	}
	if lim.SlowMode("r1") != 3*time.Second {
		t.Fatal("SetRoomSlowMode did not reach the limiter")
	}
	if _, err := g.Check(ctx, danmaku.Actor{UserID: "u"}, d); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Check(ctx, danmaku.Actor{UserID: "u"}, d); danmaku.ErrorRetryAfter(err) != 3*time.Second {
		t.Fatalf("slow mode: err = %v", err)
	}
}

func TestBanListReplace(t *testing.T) {
	ctx := context.Background()
	t0 := time.Unix(1_700_000_000, 0)
	l := NewBanList()
	for _, b := range []Ban{{UserID: "g"}, {UserID: "a", Room: "r1"}, {UserID: "b", Room: "r2"}} {
		if err := l.Ban(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	l.Replace("r1", []Ban{{UserID: "c", Room: "r1", Since: t0}, {UserID: "stray", Room: "r9"}})
	got := l.List("*", t0)
	want := []string{"b/r2", "c/r1", "g/"}
	if len(got) != len(want) {
		t.Fatalf("after Replace: %+v", got)
	}
	for i, b := range got {
		if b.UserID+"/"+b.Room != want[i] {
			t.Fatalf("after Replace: %+v", got)
		}
	}
	l.ReplaceAll([]Ban{{UserID: "only", Since: t0}})
	if got := l.List("*", t0); len(got) != 1 || got[0].UserID != "only" {
		t.Fatalf("after ReplaceAll: %+v", got)
	}
}

func TestFilterReplace(t *testing.T) {
	f := NewFilter()
	if err := f.Add(Rule{Word: "old", Action: Mask}, Rule{Room: "r1", Word: "roomword", Action: Mask}); err != nil {
		t.Fatal(err)
	}
	if err := f.Replace("", []Rule{{Word: " new ", Action: Reject}}); err != nil {
		t.Fatal(err)
	}
	if f.Check("", "old").Action != Allow || f.Check("", "new").Action != Reject {
		t.Fatal("Replace did not swap the global list")
	}
	if f.Check("r1", "roomword").Action != Mask {
		t.Fatal("Replace of the global list touched a room's list")
	}
	if err := f.Replace("r1", []Rule{{Room: "r2", Word: "x", Action: Mask}}); danmaku.ErrorCode(err) != danmaku.EINVALID {
		t.Fatalf("rule of another room: err = %v", err)
	}
	if err := f.Replace("r1", nil); err != nil {
		t.Fatal(err)
	}
	if f.Check("r1", "roomword").Action != Allow || len(f.Rooms()) != 0 {
		t.Fatal("Replace with no rules did not drop the room's list")
	}
	if w, err := CanonicalRule(Rule{Word: "Ｗ o-r_d", Action: Mask}); err != nil || w != "word" {
		t.Fatalf("CanonicalRule = %q, %v", w, err)
	}
}

// TestGuardApplyRoom checks that the guard takes both the pause and the
// slow mode of a room's settings, turning each off as well as on.
func TestGuardApplyRoom(t *testing.T) {
	ctx := context.Background()
	lim := NewLimiter(LimitConfig{UserBurst: 10, DuplicateWindow: -1})
	g := NewGuard(NewFilter(), lim, NewBanList(), BanReject, nil)
	if err := g.ApplyRoom(ctx, danmaku.RoomSettings{ObjectID: "r1", Paused: true, SlowMode: 4 * time.Second}); err != nil {
		t.Fatal(err)
	}
	if !g.Paused("r1") || lim.SlowMode("r1") != 4*time.Second {
		t.Fatalf("after applying: paused %v, slow mode %v", g.Paused("r1"), lim.SlowMode("r1"))
	}
	if g.Paused("r2") || lim.SlowMode("r2") != 0 {
		t.Fatal("another room took the settings")
	}
	if err := g.ApplyRoom(ctx, danmaku.RoomSettings{ObjectID: "r1"}); err != nil {
		t.Fatal(err)
	}
	if g.Paused("r1") || lim.SlowMode("r1") != 0 {
		t.Fatalf("after clearing: paused %v, slow mode %v", g.Paused("r1"), lim.SlowMode("r1"))
	}
}
