package live

import (
	"context"
	"reflect"
	"testing"
	"time"

	danmaku "github.com/danmakud/danmakud"
	"github.com/danmakud/danmakud/internal/wsclient"
)

// TestApplyRoom checks that the hub takes a room's whole settings: the
// live session it records, and the tick interval and cap, which
// reconfigure a running room only when they change.
func TestApplyRoom(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	c := e.dial("v1", wsclient.Options{})
	tk := e.ticker()
	readType(t, c, "welcome")
	e.publish("v1", "alice", "pending", false)
	if got := e.hub.RoomSettings("v1"); !reflect.DeepEqual(got, danmaku.RoomSettings{ObjectID: "v1"}) {
		t.Fatalf("settings of a room on the defaults = %+v", got)
	}

	start := e.clock.Now().Add(-time.Minute)
	if err := e.hub.ApplyRoom(ctx, danmaku.RoomSettings{ObjectID: "v1", Live: &danmaku.LiveSession{StartedAt: start}}); err != nil {
		t.Fatal(err)
	}
	readType(t, c, "live")
	if s, ok := e.hub.Session("v1"); !ok || !s.StartedAt.Equal(start) {
		t.Fatalf("session = %+v, %v; want one started at %v", s, ok, start)
	}
	// The tick settings did not change: the room keeps its ticker, and
	// its pending danmaku wait for its tick.
	e.tick(tk)
	if b := readType(t, c, "batch"); b.Seq != 1 || texts(b.Items) != "pending" {
		t.Fatalf("batch = %s", b.raw)
	}

	s := danmaku.RoomSettings{ObjectID: "v1", TickInterval: 200 * time.Millisecond, MaxPerTick: 5}
	if err := e.hub.ApplyRoom(ctx, s); err != nil {
		t.Fatal(err)
	}
	if tk2 := e.ticker(); tk2.first != 200*time.Millisecond {
		t.Errorf("new ticker's first tick after %v, want 200ms", tk2.first)
	}
	if got := e.hub.RoomConfig("v1"); got.TickInterval != 200*time.Millisecond || got.MaxPerTick != 5 {
		t.Errorf("RoomConfig = %+v", got)
	}
	if _, ok := e.hub.Session("v1"); !ok {
		t.Error("settings without a session ended the running one")
	}
	s.Live = &danmaku.LiveSession{StartedAt: start}
	if got := e.hub.RoomSettings("v1"); !got.Live.StartedAt.Equal(start) || got.TickInterval != s.TickInterval || got.MaxPerTick != s.MaxPerTick {
		t.Errorf("RoomSettings = %+v, want %+v", got, s)
	}
	s.TickInterval = time.Hour
	if err := e.hub.ApplyRoom(ctx, s); danmaku.ErrorCode(err) != danmaku.EINVALID {
		t.Errorf("tick of an hour: %v, want EINVALID", err)
	}
}
