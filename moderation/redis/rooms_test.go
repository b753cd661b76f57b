package redis

import (
	"context"
	"testing"
	"time"

	danmaku "github.com/danmakud/danmakud"
	"github.com/danmakud/danmakud/moderation"
)

func TestRoomsAcrossNodes(t *testing.T) {
	ctx := context.Background()
	addr := testAddr(t)
	opts := testOptions(t)
	a := NewRooms(newClient(t, addr), opts)
	defer a.Close()
	b := NewRooms(newClient(t, addr), opts)
	defer b.Close()
	syncAll(t, a.Sync, b.Sync)

	mustOK(t, a.SetPaused(ctx, "r1", true))
	mustOK(t, a.SetSlowMode(ctx, "r2", 5*time.Second))
	if !a.Paused("r1") || a.SlowMode("r2") != 5*time.Second {
		t.Fatal("node A does not see its own settings at once")
	}
	eventually(t, "node B to see the pause and slow mode", func() bool {
		return b.Paused("r1") && b.SlowMode("r2") == 5*time.Second
	})
	if b.Paused("r2") || b.SlowMode("r1") != 0 {
		t.Fatal("settings leaked to other rooms")
	}
	mustOK(t, b.SetPaused(ctx, "r1", false))
	mustOK(t, b.SetSlowMode(ctx, "r2", 0))
	eventually(t, "node A to see the resume", func() bool { return !a.Paused("r1") && a.SlowMode("r2") == 0 })
}

// TestGuardSharedPause checks the Guard with shared pauses on two nodes.
func TestGuardSharedPause(t *testing.T) {
	ctx := context.Background()
	addr := testAddr(t)
	opts := testOptions(t)
	var guards [2]*moderation.Guard
	for i := range guards {
		rooms := NewRooms(newClient(t, addr), opts)
		defer rooms.Close()
		g := moderation.NewGuard(moderation.NewFilter(), moderation.NewLimiter(moderation.LimitConfig{Disabled: true}),
			moderation.NewBanList(), moderation.BanReject, nil)
		g.Pauses = rooms
		guards[i] = g
	}
	mustOK(t, guards[0].SetRoomPaused(ctx, "live1", true))
	d := &danmaku.Danmaku{ObjectID: "live1", UserID: "u1", Content: danmaku.Content{Text: "hello"}}
	eventually(t, "node B's guard to refuse sends in the paused room", func() bool {
		_, err := guards[1].Check(ctx, danmaku.Actor{UserID: "u1"}, d)
		return danmaku.ErrorCode(err) == danmaku.EFORBIDDEN
	})
	// Moderators of the room still send.
	if _, err := guards[1].Check(ctx, danmaku.Actor{UserID: "m", Role: danmaku.RoleModerator, Rooms: []string{"live1"}}, d); err != nil {
		t.Fatalf("moderator refused in a paused room: %v", err)
	}
}
