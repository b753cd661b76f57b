package live

import (
	"context"
	"fmt"
	"testing"
	"time"

	danmaku "github.com/danmakud/danmakud"
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
