package service_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	danmaku "github.com/danmakud/danmakud"
	"github.com/danmakud/danmakud/live"
	"github.com/danmakud/danmakud/moderation"
	"github.com/danmakud/danmakud/service"
)

// TestRoomsStoreThenApplyWhole checks the one path of a room's settings:
// a valid change is stored and then in force in the hub and the guard
// together; an invalid one changes nothing anywhere; an applier that
// fails after the write does not keep the others from applying, and the
// stored settings put a new hub (a restart) in force.
func TestRoomsStoreThenApplyWhole(t *testing.T) {
	ctx := context.Background()
	st := mustStore(t)
	hub, err := live.New(live.Config{})
	if err != nil {
		t.Fatal(err)
	}
	guard := moderation.NewGuard(moderation.NewFilter(), moderation.NewLimiter(moderation.LimitConfig{}), moderation.NewBanList(), moderation.BanReject, nil)
	rooms := service.NewRooms(st, hub, guard)

	want := danmaku.RoomSettings{ObjectID: "r", Paused: true, SlowMode: 2 * time.Second, TickInterval: 300 * time.Millisecond, MaxPerTick: 9}
	if err := rooms.Set(ctx, want); err != nil {
		t.Fatal(err)
	}
	inForce := func(h *live.Hub, s danmaku.RoomSettings) {
		t.Helper()
		c := h.RoomConfig(s.ObjectID)
		if c.TickInterval != s.TickInterval || c.MaxPerTick != s.MaxPerTick {
			t.Errorf("hub: %+v, want tick %v and cap %d", c, s.TickInterval, s.MaxPerTick)
		}
		if guard.Paused(s.ObjectID) != s.Paused || guard.Limits.SlowMode(s.ObjectID) != s.SlowMode {
			t.Errorf("guard: paused %v, slow mode %v; want %v, %v", guard.Paused(s.ObjectID), guard.Limits.SlowMode(s.ObjectID), s.Paused, s.SlowMode)
		}
	}
	inForce(hub, want)

	bad := want
	bad.Paused, bad.MaxPerTick = false, 5000
	if err := rooms.Set(ctx, bad); danmaku.ErrorCode(err) != danmaku.EINVALID {
		t.Fatalf("cap of 5000: %v, want EINVALID", err)
	}
	if got, err := st.Room(ctx, "r"); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("stored after a refused change = %+v, %v; want %+v", got, err, want)
	}
	inForce(hub, want)

	// The hub shuts down: the next change is stored and reaches the
	// guard, and the hub's refusal is the answer.
	if err := hub.Close(); err != nil {
		t.Fatal(err)
	}
	next := want
	next.Paused, next.TickInterval = false, 500*time.Millisecond
	if err := rooms.Set(ctx, next); danmaku.ErrorCode(err) != danmaku.EUNAVAILABLE {
		t.Fatalf("change on a closed hub: %v, want EUNAVAILABLE", err)
	}
	if guard.Paused("r") {
		t.Error("the guard did not take the change when the hub refused it")
	}
	stored, err := st.Room(ctx, "r")
	if err != nil || !reflect.DeepEqual(stored, next) {
		t.Fatalf("stored = %+v, %v; want %+v", stored, err, next)
	}
	hub2, err := live.New(live.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer hub2.Close()
	if err := service.NewRooms(st, hub2, guard).Apply(ctx, stored); err != nil {
		t.Fatal(err)
	}
	inForce(hub2, next)
}
