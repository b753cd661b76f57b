package live

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	danmaku "github.com/danmakud/danmakud"
	"github.com/danmakud/danmakud/internal/wsclient"
)

func TestWelcomeThenBatch(t *testing.T) {
	e := newEnv(t, nil)
	c := e.dial("v1", wsclient.Options{})
	tk := e.ticker()
	w := readType(t, c, "welcome")
	if w.Room == nil || w.Room.ObjectID != "v1" || w.Room.TickMs != 1000 || w.Room.MaxPerTick != 100 || w.Room.Viewers != 1 || len(w.Batches) != 0 {
		t.Fatalf("welcome = %s", w.raw)
	}
	d := e.publish("v1", "alice", "hello", false)
	e.tick(tk)
	b := readType(t, c, "batch")
	if b.Seq != 1 || len(b.Items) != 1 || b.Items[0].ID != d.ID || b.Items[0].Content.Text != "hello" || b.Items[0].UserID != "alice" {
		t.Fatalf("batch = %s", b.raw)
	}
	if b.At != e.clock.Now().UnixMilli() {
		t.Errorf("at = %d, want the tick time %d", b.At, e.clock.Now().UnixMilli())
	}
}

func TestShadowNeverBroadcast(t *testing.T) {
	e := newEnv(t, nil)
	c := e.dial("v1", wsclient.Options{})
	tk := e.ticker()
	readType(t, c, "welcome")
	shadow := &danmaku.Danmaku{ID: e.ids.Next(0), ObjectID: "v1", UserID: "troll", Shadow: true, Content: danmaku.Content{Text: "bad"}}
	if err := e.hub.Publish(context.Background(), shadow, false); err != nil {
		t.Fatal(err)
	}
	e.tick(tk)
	e.publish("v1", "alice", "visible", false)
	e.tick(tk)
	b := readType(t, c, "batch")
	if b.Seq != 1 || texts(b.Items) != "visible" {
		t.Fatalf("batch = %s", b.raw)
	}
}

// TestConcurrentPublishersContiguousSeq publishes from many goroutines
// across many ticks; every danmaku arrives exactly once, batches have
// contiguous seq and items are in ID order.
func TestConcurrentPublishersContiguousSeq(t *testing.T) {
	e := newEnv(t, func(c *Config) {})
	if err := e.hub.SetRoomConfig("v1", RoomConfig{MaxPerTick: 1000}); err != nil {
		t.Fatal(err)
	}
	c := e.dial("v1", wsclient.Options{})
	tk := e.ticker()
	readType(t, c, "welcome")
	const senders, perTick, ticks = 8, 10, 20
	want := map[danmaku.ID]bool{}
	var mu sync.Mutex
	for range ticks {
		var wg sync.WaitGroup
		for s := range senders {
			wg.Go(func() {
				for i := range perTick {
					d := e.publish("v1", fmt.Sprintf("u%d", s), fmt.Sprintf("m%d-%d-%d", s, i, time.Now().UnixNano()), false)
					mu.Lock()
					want[d.ID] = true
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		e.tick(tk)
	}
	got := map[danmaku.ID]bool{}
	for seq := uint64(1); len(got) < len(want); seq++ {
		b := readType(t, c, "batch")
		if b.Seq != seq {
			t.Fatalf("seq = %d, want %d", b.Seq, seq)
		}
		for i, d := range b.Items {
			if got[d.ID] || !want[d.ID] {
				t.Fatalf("unexpected or repeated id %s", d.ID)
			}
			got[d.ID] = true
			if i > 0 && b.Items[i-1].ID.Compare(d.ID) >= 0 {
				t.Fatalf("batch %d not in ID order", b.Seq)
			}
		}
	}
	if st := e.hub.Stats(); st.Broadcast != senders*perTick*ticks || st.Batches != ticks || st.BytesWritten < uint64(c.BytesRead) {
		t.Errorf("stats = %+v", st)
	}
}

// TestStalledTickerLosesNothing stops the ticker for three intervals: the
// late tick still delivers each interval's danmaku as its own batch, in
// order, with contiguous seq.
func TestStalledTickerLosesNothing(t *testing.T) {
	e := newEnv(t, nil)
	c := e.dial("v1", wsclient.Options{})
	tk := e.ticker()
	readType(t, c, "welcome")
	for i := range 3 {
		e.clock.Advance(300 * time.Millisecond)
		e.publish("v1", "alice", fmt.Sprintf("second %d", i), false)
		e.publish("v1", "bob", fmt.Sprintf("also %d", i), false)
		e.clock.Advance(700 * time.Millisecond) // The tick that should run now is stalled.
	}
	e.clock.Advance(200 * time.Millisecond) // Late by 200 ms.
	tk.ch <- e.clock.Now().Add(-200 * time.Millisecond)
	for i := range 3 {
		b := readType(t, c, "batch")
		want := fmt.Sprintf("second %d,also %d", i, i)
		if b.Seq != uint64(i+1) || texts(b.Items) != want {
			t.Fatalf("batch %d = %s, want seq %d with %q", i, b.raw, i+1, want)
		}
		if wantAt := time.Date(2026, 1, 1, 0, 0, i+1, 0, time.UTC).UnixMilli(); b.At != wantAt {
			t.Errorf("batch %d at = %d, want %d", i, b.At, wantAt)
		}
	}
	if st := e.hub.Stats(); st.Batches != 3 || st.MaxTickLag != 200*time.Millisecond {
		t.Errorf("stats = %+v", st)
	}
}

func TestCapFairnessAndFolding(t *testing.T) {
	e := newEnv(t, nil)
	if err := e.hub.SetRoomConfig("v1", RoomConfig{MaxPerTick: 3}); err != nil {
		t.Fatal(err)
	}
	c := e.dial("v1", wsclient.Options{})
	tk := e.ticker()
	readType(t, c, "welcome")
	for i := range 10 {
		e.publish("v1", "spammer", fmt.Sprintf("spam %d", i), false)
	}
	for i := range 5 {
		e.publish("v1", fmt.Sprintf("fan%d", i), "666", false)
	}
	e.publish("v1", "carol", "nice", false)
	e.publish("v1", "owner", "welcome all", true)
	e.tick(tk)
	b := readType(t, c, "batch")
	// The owner's item is kept; then one turn each for spammer and the
	// first "666" sender (folded ×5); carol misses this tick's cap.
	if got := texts(b.Items); got != "spam 0,666×5,welcome all" {
		t.Fatalf("items = %q", got)
	}
	st := e.hub.Stats()
	if st.Folded != 4 || st.DroppedByCap != 3 || st.DroppedPending != 7 {
		t.Errorf("folded %d, dropped by cap %d, pending %d; want 4, 3, 7", st.Folded, st.DroppedByCap, st.DroppedPending)
	}
}

func TestJoinerGetsLastTenBatches(t *testing.T) {
	e := newEnv(t, nil)
	first := e.dial("v1", wsclient.Options{})
	tk := e.ticker()
	readType(t, first, "welcome")
	for i := range 12 {
		e.publish("v1", "alice", fmt.Sprintf("t%d", i), false)
		e.tick(tk)
		readType(t, first, "batch")
	}
	late := e.dial("v1", wsclient.Options{})
	w := readType(t, late, "welcome")
	if w.Room.Seq != 12 || w.Room.Viewers != 2 || len(w.Batches) != RingSize {
		t.Fatalf("welcome = %s", w.raw)
	}
	for i, b := range w.Batches {
		if b.Type != "batch" || b.Seq != uint64(i+3) || texts(b.Items) != fmt.Sprintf("t%d", i+2) {
			t.Fatalf("welcome batch %d = %+v", i, b)
		}
	}
	e.publish("v1", "bob", "after", false)
	e.tick(tk)
	for _, c := range []*wsclient.Conn{first, late} {
		if b := readType(t, c, "batch"); b.Seq != 13 || texts(b.Items) != "after" {
			t.Fatalf("batch = %s", b.raw)
		}
	}
}

// TestSlowViewerDoesNotDelayOthers has one viewer that never reads: the
// reading viewer still gets every batch in order, and the stuck one is
// disconnected with CloseTooSlow once it stays backed up.
func TestSlowViewerDoesNotDelayOthers(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.SocketSendBuffer = 4096
		c.QueueLen = 4
		c.MaxStalledTicks = 5
	})
	stuck := e.dial("v1", wsclient.Options{RecvBuffer: 4096})
	tk := e.ticker()
	readType(t, stuck, "welcome") // Joined; it reads nothing more.
	good := e.dial("v1", wsclient.Options{})
	readType(t, good, "welcome")
	big := strings.Repeat("弹", 100)
	const ticks = 60
	for i := range ticks {
		for u := range 50 {
			e.publish("v1", fmt.Sprintf("u%d", u), fmt.Sprintf("%s %d %d", big, i, u), false)
		}
		e.tick(tk)
		_ = good.NetConn().SetReadDeadline(time.Now().Add(5 * time.Second))
		_, p, err := good.ReadMessage()
		if err != nil {
			e.hub.mu.Lock()
			for _, r := range e.hub.rooms {
				r.mu.Lock()
				for _, v := range r.viewers {
					v.mu.Lock()
					t.Logf("viewer %p backlog %d queue %d stalled %d closed %v queued %d written %d", v, v.sink.backlog(), len(v.queue), v.stalled, v.closed, v.sink.(*wsSink).queued.Load(), v.sink.(*wsSink).written.Load())
					v.mu.Unlock()
				}
				r.mu.Unlock()
			}
			e.hub.mu.Unlock()
			t.Fatalf("good viewer, tick %d: %v (read %d bytes)", i, err, good.BytesRead)
		}
		var b wireMsg
		_ = json.Unmarshal(p, &b)
		if b.Seq != uint64(i+1) || len(b.Items) != 50 {
			t.Fatalf("good viewer: batch seq %d with %d items, want %d with 50", b.Seq, len(b.Items), i+1)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for st := e.hub.Stats(); st.SlowDisconnects != 1 || st.Viewers != 1; st = e.hub.Stats() {
		if time.Now().After(deadline) {
			t.Fatalf("stats = %+v", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st := e.hub.Stats(); st.DroppedBatches == 0 {
		t.Errorf("stats = %+v", st)
	}
	// The stuck viewer, reading at last, finds what fitted in the socket
	// buffers, then the end of the connection: the close frame cannot
	// overtake what the peer never read (and a reset may discard even
	// that).
	for {
		_ = stuck.NetConn().SetReadDeadline(time.Now().Add(10 * time.Second))
		_, _, err := stuck.ReadMessage()
		var ce *wsclient.CloseError
		if errors.As(err, &ce) && ce.Code != CloseTooSlow {
			t.Fatalf("close code = %d, want %d", ce.Code, CloseTooSlow)
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatal("stuck viewer's connection is still open")
		}
		if err != nil {
			break
		}
	}
}

// TestSlowViewerToldWhatItMissed lets a viewer fall behind briefly and
// catch up: it gets a "dropped" notice, then the newest batches.
func TestSlowViewerToldWhatItMissed(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.SocketSendBuffer = 4096
		c.QueueLen = 2
		c.MaxStalledTicks = 1000
	})
	slow := e.dial("v1", wsclient.Options{RecvBuffer: 4096})
	tk := e.ticker()
	readType(t, slow, "welcome") // Joined before the first tick.
	big := strings.Repeat("x", 90)
	for i := range 30 {
		for u := range 50 {
			e.publish("v1", fmt.Sprintf("u%d", u), fmt.Sprintf("%s %d %d", big, i, u), false)
		}
		e.tick(tk)
	}
	if e.hub.Stats().DroppedBatches == 0 {
		t.Fatal("nothing was dropped; the test did not back the viewer up")
	}
	// Now read, and keep ticking until the newest batch arrives.
	msgs := make(chan wireMsg, 64)
	go func() {
		defer close(msgs)
		for {
			_ = slow.NetConn().SetReadDeadline(time.Now().Add(20 * time.Second))
			_, p, err := slow.ReadMessage()
			if err != nil {
				t.Logf("reader: %v", err)
				return
			}
			var m wireMsg
			if err := json.Unmarshal(p, &m); err != nil {
				t.Logf("bad message %d bytes: %v", len(p), err)
				continue
			}
			m.raw = p
			msgs <- m
		}
	}()
	var got []wireMsg
	last := uint64(30)
	for done := false; !done; {
		last++
		e.publish("v1", "u0", fmt.Sprintf("fresh %d", last), false)
		e.tick(tk)
		timeout := time.After(time.Second)
		for !done {
			var m wireMsg
			select {
			case m = <-msgs:
			case <-timeout:
			}
			if m.Type == "" {
				break
			}
			got = append(got, m)
			done = m.Seq == last
		}
		if last > 200 {
			for _, m := range got {
				t.Logf("%s %d %d %d", m.Type, m.Seq, m.Count, m.Next)
			}
			t.Fatal("the viewer never caught up")
		}
	}
	var seqs []uint64
	dropped := 0
	for i, m := range got {
		switch m.Type {
		case "batch":
			seqs = append(seqs, m.Seq)
		case "dropped":
			dropped += m.Count
			if m.Count == 0 || i+1 >= len(got) || got[i+1].Seq != m.Next {
				t.Fatalf("dropped notice %s not followed by batch %d", m.raw, m.Next)
			}
		default:
			t.Fatalf("unexpected %s", m.raw)
		}
	}
	if dropped == 0 || !slices.IsSorted(seqs) || uint64(len(seqs)+dropped) != last {
		for _, m := range got {
			t.Logf("%s %d %d %d", m.Type, m.Seq, m.Count, m.Next)
		}
		t.Fatalf("got batches %v and %d dropped; want %d in all", seqs, dropped, last)
	}
}

func TestDeleteReachesViewersAndRing(t *testing.T) {
	e := newEnv(t, nil)
	c := e.dial("v1", wsclient.Options{})
	tk := e.ticker()
	readType(t, c, "welcome")
	keep := e.publish("v1", "alice", "fine", false)
	bad := e.publish("v1", "bob", "oops", false)
	e.tick(tk)
	readType(t, c, "batch")
	pending := e.publish("v1", "bob", "oops again", false)
	e.hub.Delete("v1", bad.ID)
	e.hub.Delete("v1", pending.ID)
	for _, id := range []danmaku.ID{bad.ID, pending.ID} {
		if d := readType(t, c, "delete"); len(d.IDs) != 1 || d.IDs[0] != id {
			t.Fatalf("delete = %s", d.raw)
		}
	}
	e.publish("v1", "carol", "later", false)
	e.tick(tk)
	if b := readType(t, c, "batch"); texts(b.Items) != "later" {
		t.Fatalf("deleted pending danmaku was broadcast: %s", b.raw)
	}
	late := e.dial("v1", wsclient.Options{})
	w := readType(t, late, "welcome")
	if len(w.Batches) != 2 || len(w.Batches[0].Items) != 1 || w.Batches[0].Items[0].ID != keep.ID {
		t.Fatalf("welcome after delete = %s", w.raw)
	}
}

func TestLiveSessionOffsets(t *testing.T) {
	e := newEnv(t, nil)
	start := e.clock.Now()
	if _, ok := e.hub.LiveOffset("ev", start); ok {
		t.Fatal("offset before any session")
	}
	s, err := e.hub.StartLive("ev", start)
	if err != nil || !s.StartedAt.Equal(start) {
		t.Fatalf("start = %+v, %v", s, err)
	}
	if _, err := e.hub.StartLive("ev", start); danmaku.ErrorCode(err) != danmaku.ECONFLICT {
		t.Fatalf("second start: %v", err)
	}
	for _, tt := range []struct {
		at   time.Duration
		want danmaku.Time
	}{{0, 0}, {1500 * time.Millisecond, 1500}, {time.Hour, 3_600_000}, {-time.Second, 0}} {
		if got, ok := e.hub.LiveOffset("ev", start.Add(tt.at)); !ok || got != tt.want {
			t.Errorf("offset at %v = %v, %v; want %v", tt.at, got, ok, tt.want)
		}
	}
	c := e.dial("ev", wsclient.Options{})
	if w := readType(t, c, "welcome"); w.Room.Live == nil || !w.Room.Live.StartedAt.Equal(start) {
		t.Errorf("welcome live = %s", w.raw)
	}
	end, err := e.hub.EndLive("ev", start.Add(time.Minute))
	if err != nil || !end.EndedAt.Equal(start.Add(time.Minute)) {
		t.Fatalf("end = %+v, %v", end, err)
	}
	// A connected viewer is told at once, so that its player switches clocks.
	if m := readType(t, c, "live"); !strings.Contains(string(m.raw), `"live":null`) {
		t.Errorf("end announcement = %s", m.raw)
	}
	if _, err := e.hub.StartLive("ev", start.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if m := readType(t, c, "live"); !strings.Contains(string(m.raw), `"startedAt"`) {
		t.Errorf("start announcement = %s", m.raw)
	}
	if _, err := e.hub.EndLive("ev", start.Add(3*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.hub.LiveOffset("ev", start.Add(2*time.Minute)); ok {
		t.Error("offset after the session ended")
	}
	if _, err := e.hub.EndLive("ev", start); danmaku.ErrorCode(err) != danmaku.ENOTFOUND {
		t.Errorf("second end: %v", err)
	}
}

// TestIdleRoomIsRemoved checks that a room nobody watches parks at the
// tick that flushes its last danmaku, and that the hub's sweep evicts it
// once the idle ticks are over, not before.
func TestIdleRoomIsRemoved(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.IdleRoomTicks = 2 })
	e.publish("v1", "alice", "nobody watches", false)
	tk := e.ticker()
	if st := e.hub.Stats(); st.Rooms != 1 {
		t.Fatalf("rooms = %d", st.Rooms)
	}
	e.tick(tk) // Flushes the danmaku; the room is left idle and parks.
	waitTicking(t, e.hub, 0)
	if !tk.stopped.Load() {
		t.Fatal("a parked room left its ticker running")
	}
	// The tick that parked it counts as the first idle one: one more
	// interval to go.
	if n := e.hub.sweep(e.clock.Now().Add(DefaultTickInterval - time.Millisecond)); n != 0 || e.hub.Stats().Rooms != 1 {
		t.Fatalf("swept %d rooms before the idle time was over", n)
	}
	e.clock.Advance(DefaultTickInterval)
	// The hub's own sweep evicts it; poll, since it runs every second.
	deadline := time.Now().Add(10 * time.Second)
	for e.hub.Stats().Rooms != 0 {
		if time.Now().After(deadline) {
			t.Fatal("idle room was not removed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// A new viewer gets a fresh room.
	c := e.dial("v1", wsclient.Options{})
	e.ticker()
	if w := readType(t, c, "welcome"); w.Room.Seq != 0 {
		t.Errorf("welcome = %s", w.raw)
	}
}

func TestSetRoomConfigOnARunningRoom(t *testing.T) {
	e := newEnv(t, nil)
	c := e.dial("v1", wsclient.Options{})
	e.ticker()
	readType(t, c, "welcome")
	e.publish("v1", "alice", "before the change", false)
	if err := e.hub.SetRoomConfig("v1", RoomConfig{TickInterval: 200 * time.Millisecond, MaxPerTick: 5}); err != nil {
		t.Fatal(err)
	}
	// Pending danmaku are flushed before the new interval applies.
	if b := readType(t, c, "batch"); b.Seq != 1 || texts(b.Items) != "before the change" {
		t.Fatalf("batch = %s", b.raw)
	}
	tk := e.ticker()
	e.publish("v1", "bob", "after", false)
	e.clock.Advance(200 * time.Millisecond)
	tk.ch <- e.clock.Now()
	if b := readType(t, c, "batch"); b.Seq != 2 || texts(b.Items) != "after" {
		t.Fatalf("batch = %s", b.raw)
	}
	late := e.dial("v1", wsclient.Options{})
	if w := readType(t, late, "welcome"); w.Room.TickMs != 200 || w.Room.MaxPerTick != 5 {
		t.Fatalf("welcome = %s", w.raw)
	}
	if got := e.hub.RoomConfig("v1"); got.TickInterval != 200*time.Millisecond || got.MaxPerTick != 5 {
		t.Errorf("RoomConfig = %+v", got)
	}
	var de *danmaku.Error
	if err := e.hub.SetRoomConfig("v1", RoomConfig{TickInterval: time.Hour}); !errors.As(err, &de) || de.Code != danmaku.EINVALID {
		t.Errorf("bad config: %v", err)
	}
}

func TestDefaultRoomConfig(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.DefaultRoom = RoomConfig{TickInterval: 500 * time.Millisecond} })
	c := e.dial("v2", wsclient.Options{})
	e.ticker()
	if w := readType(t, c, "welcome"); w.Room.TickMs != 500 || w.Room.MaxPerTick != DefaultMaxPerTick {
		t.Fatalf("welcome = %s", w.raw)
	}
}
