package live

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	danmaku "github.com/danmakud/danmakud"
	"github.com/danmakud/danmakud/internal/wsclient"
)

func newBoundedHub(t *testing.T, maxRooms, perAddr int) *Hub {
	t.Helper()
	h, err := New(Config{
		MaxRooms: maxRooms, MaxRoomsPerAddr: perAddr,
		NewTicker: func(time.Duration) Ticker { return stillTicker{make(chan time.Time)} },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// TestRoomsPerAddress checks that an address that has used its share of
// rooms gets a new one by evicting an idle room it created, that other
// addresses are not affected, and that IPv6 addresses count per /64.
func TestRoomsPerAddress(t *testing.T) {
	h := newBoundedHub(t, 100, 2)
	for i := range 5 {
		if _, err := h.roomFor(fmt.Sprintf("a%d", i), "192.0.2.1"); err != nil {
			t.Fatalf("room %d from one address: %v", i, err)
		}
	}
	if st := h.Stats(); st.Rooms != 2 || st.EvictedRooms != 3 {
		t.Fatalf("after 5 rooms from one address with a share of 2: %d rooms, %d evicted", st.Rooms, st.EvictedRooms)
	}
	for i := range 2 {
		if _, err := h.roomFor(fmt.Sprintf("b%d", i), "2001:db8:1:2::"+fmt.Sprint(i+1)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h.roomFor("b2", "2001:db8:1:2::ff"); err != nil {
		t.Fatal(err)
	}
	if st := h.Stats(); st.Rooms != 4 || st.EvictedRooms != 4 {
		t.Fatalf("after 3 rooms from one /64: %d rooms, %d evicted", st.Rooms, st.EvictedRooms)
	}
	// Rooms with pending danmaku are not idle: the address is refused.
	h.mu.Lock()
	var held []string
	for id := range h.byAddr["192.0.2.1"] {
		held = append(held, id)
	}
	h.mu.Unlock()
	for _, id := range held {
		if err := h.Publish(context.Background(), &danmaku.Danmaku{ObjectID: id, Content: danmaku.Content{Text: "x"}}, false); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h.roomFor("a9", "192.0.2.1"); danmaku.ErrorCode(err) != danmaku.ERATELIMIT {
		t.Fatalf("a new room while the address's rooms are busy: %v, want ERATELIMIT", err)
	}
	if _, err := h.roomFor(held[0], "192.0.2.1"); err != nil {
		t.Fatalf("an existing room is never refused: %v", err)
	}
}

// TestFullHubEvictsIdleRoom checks that a full hub makes space by evicting
// a room with no viewers and nothing pending, and refuses only when every
// room is busy.
func TestFullHubEvictsIdleRoom(t *testing.T) {
	h := newBoundedHub(t, 3, 100)
	ctx := context.Background()
	for i := range 3 {
		if _, err := h.room(fmt.Sprintf("r%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	// A send to a room not in memory takes the place of an idle one.
	if err := h.Publish(ctx, &danmaku.Danmaku{ObjectID: "busy1", Content: danmaku.Content{Text: "x"}}, false); err != nil {
		t.Fatalf("publish to a new room in a full hub: %v", err)
	}
	if st := h.Stats(); st.Rooms != 3 || st.EvictedRooms != 1 {
		t.Fatalf("after one more room: %d rooms, %d evicted", st.Rooms, st.EvictedRooms)
	}
	for _, id := range []string{"busy2", "busy3"} {
		if err := h.Publish(ctx, &danmaku.Danmaku{ObjectID: id, Content: danmaku.Content{Text: "x"}}, false); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h.room("another"); danmaku.ErrorCode(err) != danmaku.EUNAVAILABLE {
		t.Fatalf("a full hub of busy rooms: %v, want EUNAVAILABLE", err)
	}
}

// waitTicking waits until n rooms of h run their tick loop: a room that
// parks ends its loop just after its last tick.
func waitTicking(t *testing.T, h *Hub, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for h.Stats().TickingRooms != n {
		if time.Now().After(deadline) {
			t.Fatalf("ticking rooms = %d, want %d", h.Stats().TickingRooms, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitViewers waits until h counts n viewers: a viewer that closes its
// connection leaves its room when the server notices.
func waitViewers(t *testing.T, h *Hub, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for h.Stats().Viewers != n {
		if time.Now().After(deadline) {
			t.Fatalf("viewers = %d, want %d", h.Stats().Viewers, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// noNewTicker fails the test if a room made a ticker it was not expected
// to make: a parked room asks for none.
func noNewTicker(t *testing.T, e *env) {
	t.Helper()
	select {
	case <-e.tickers:
		t.Fatal("a parked room made a ticker")
	default:
	}
}

// TestParkedRoomWakes checks that a room whose last viewer left parks (its
// ticker stopped, no loop, no new ticker), and that a joiner, a send and a
// reconfiguration each wake it: the joiner gets its welcome with the recent
// batches, a send goes out at the next boundary of the room's tick grid
// with the next seq, and the new settings apply.
func TestParkedRoomWakes(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.IdleRoomTicks = 3 })
	c1 := e.dial("v1", wsclient.Options{})
	tk := e.ticker()
	readType(t, c1, "welcome")
	e.publish("v1", "alice", "first", false)
	e.tick(tk)
	if b := readType(t, c1, "batch"); b.Seq != 1 {
		t.Fatalf("batch = %s", b.raw)
	}
	c1.Close()
	waitViewers(t, e.hub, 0)
	ticks := e.hub.Stats().Ticks
	e.tick(tk) // Nobody watches and nothing is pending: the room parks.
	waitTicking(t, e.hub, 0)
	if !tk.stopped.Load() {
		t.Fatal("a parked room left its ticker running")
	}
	noNewTicker(t, e)
	if st := e.hub.Stats(); st.Rooms != 1 || st.Ticks != ticks+1 {
		t.Fatalf("after parking: %d rooms, %d ticks; want 1 and %d", st.Rooms, st.Ticks, ticks+1)
	}

	// A joiner wakes it 1.3 s later, before the idle time is over, and
	// gets the recent batches; the room ticks again at the grid's next
	// boundary, 0.7 s away.
	e.clock.Advance(1300 * time.Millisecond)
	c2 := e.dial("v1", wsclient.Options{})
	w := readType(t, c2, "welcome")
	if w.Room.Seq != 1 || len(w.Batches) != 1 || texts(w.Batches[0].Items) != "first" {
		t.Fatalf("welcome from a parked room = %s", w.raw)
	}
	tk = e.ticker()
	if tk.first != 700*time.Millisecond {
		t.Errorf("first tick after waking in %v, want 700ms (the tick grid)", tk.first)
	}
	if n := e.hub.sweep(e.clock.Now().Add(time.Hour)); n != 0 {
		t.Fatal("the sweep evicted a room that woke")
	}
	c2.Close()
	waitViewers(t, e.hub, 0)
	e.clock.Advance(700 * time.Millisecond)
	tk.ch <- e.clock.Now()
	waitTicking(t, e.hub, 0)

	// A send 0.4 s into the next interval wakes it; the batch comes at the
	// end of that interval, with the next seq.
	e.clock.Advance(400 * time.Millisecond)
	d := e.publish("v1", "bob", "to a parked room", false)
	tk = e.ticker()
	if tk.first != 600*time.Millisecond {
		t.Errorf("first tick after waking in %v, want 600ms (the tick grid)", tk.first)
	}
	waitTicking(t, e.hub, 1)
	c3 := e.dial("v1", wsclient.Options{})
	readType(t, c3, "welcome")
	e.clock.Advance(600 * time.Millisecond)
	tk.ch <- e.clock.Now()
	b := readType(t, c3, "batch")
	if b.Seq != 2 || len(b.Items) != 1 || b.Items[0].ID != d.ID || b.At != e.clock.Now().UnixMilli() {
		t.Fatalf("batch = %s, want seq 2 at %d", b.raw, e.clock.Now().UnixMilli())
	}
	c3.Close()
	waitViewers(t, e.hub, 0)
	e.tick(tk)
	waitTicking(t, e.hub, 0)

	// A reconfiguration wakes it too, and applies.
	if err := e.hub.SetRoomConfig("v1", RoomConfig{MaxPerTick: 5}); err != nil {
		t.Fatal(err)
	}
	e.ticker() // The woken loop's,
	e.ticker() // and the one it makes for the new settings.
	c4 := e.dial("v1", wsclient.Options{})
	if w := readType(t, c4, "welcome"); w.Room.MaxPerTick != 5 || w.Room.Seq != 2 {
		t.Fatalf("welcome after a reconfiguration of a parked room = %s", w.raw)
	}
}

// TestViewersKeepTheirJoinOrder checks the room's list of viewers: a tick
// writes them in the order they joined, a viewer that leaves is replaced
// by the last one, leaving twice changes nothing, and the count follows.
func TestViewersKeepTheirJoinOrder(t *testing.T) {
	e := newEnv(t, nil)
	r := newRoom(e.hub, "order", RoomConfig{}, e.clock.Now())
	vs := make([]*viewer, 5)
	for i := range vs {
		vs[i] = &viewer{room: r, sink: &writeLog{}}
		if !r.join(vs[i], nil, nil) {
			t.Fatal("the room refused a viewer")
		}
	}
	if got := r.snapshotLocked(); !slices.Equal(got, vs) {
		t.Fatalf("viewers after joining are not in join order")
	}
	r.leave(vs[1])
	r.leave(vs[1])
	r.leave(vs[4])
	r.leave(vs[0])
	want := []*viewer{vs[2], vs[3]} // [0 1 2 3 4] → [0 4 2 3] → [0 3 2] → [2 3]
	if got := r.snapshotLocked(); !slices.Equal(got, want) {
		t.Fatalf("after leaving: %d viewers, want %d, each last one in the place of the one that left", len(got), len(want))
	}
	for i, v := range want {
		if int(v.slot) != i+1 {
			t.Errorf("viewer at %d has slot %d, want %d", i, v.slot, i+1)
		}
	}
	if n := e.hub.Stats().Viewers; n != 2 {
		t.Errorf("hub counts %d viewers, want 2", n)
	}
}
