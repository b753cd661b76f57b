package live

import (
	"slices"
	"sync"
	"time"

	danmaku "github.com/danmakud/danmakud"
)

// slot holds the danmaku accepted during one tick interval.
type slot struct {
	idx int64 // Interval number since the room's epoch.
	buf *TickBuffer
}

// room is one video's or live event's audience and pending danmaku.
type room struct {
	hub    *Hub
	id     string
	reconf chan RoomConfig
	stop   chan struct{}
	// remote, when set, feeds the room's batches from a cluster; ready is
	// closed once the room holds the cluster's recent batches.
	remote Remote
	ready  chan struct{}

	// fanMu serialises fan-outs (ticks and deletes), so that every viewer
	// sees messages in the order the room made them.
	fanMu sync.Mutex

	mu    sync.Mutex
	cfg   RoomConfig
	epoch time.Time
	slots []*slot // Ascending idx.
	seq   uint64  // Last batch sequence number.
	// remoteSeq is the seq of the last batch delivered from the Remote.
	remoteSeq uint64
	ring      []*message
	// histEpoch names the room's history (see history.go); recentDeleted
	// and deleteOrder are the latest deletions, for resumes.
	histEpoch     string
	recentDeleted map[danmaku.ID]struct{}
	deleteOrder   []danmaku.ID
	// viewers are the room's viewers, each at index slot-1 (see
	// viewer.slot), in the order they joined but for the last one, which
	// takes the place of one that leaves. A tick writes them in that
	// order, close to the order in which their connections' memory was
	// allocated, in the kernel and here: on the bench this cost 15% less
	// CPU per delivered danmaku than a map's random order
	// (docs/benchmarks-fanout.md).
	viewers  []*viewer
	lastPing time.Time
	closed   bool
	// running reports whether the room's tick loop runs. A room with no
	// viewers and nothing pending parks instead: its loop ends, so that it
	// costs no goroutine and no wake-ups, and the hub's sweep evicts it
	// at idleUntil unless a join, a send or a reconfiguration wakes it
	// first (see wakeLocked).
	running   bool
	idleUntil time.Time
}

func newRoom(h *Hub, id string, cfg RoomConfig, now time.Time) *room {
	ready := make(chan struct{})
	if h.hist.log == nil {
		close(ready) // Rooms without a Remote or a log are ready at once.
	}
	return &room{
		hub:       h,
		id:        id,
		reconf:    make(chan RoomConfig, 1),
		stop:      make(chan struct{}),
		ready:     ready,
		cfg:       cfg.withDefaults(),
		epoch:     now,
		histEpoch: h.hist.roomEpoch(),
		lastPing:  now,
		running:   true, // The hub starts run at once.
	}
}

// untilNextTick returns the time from now to the room's next tick
// boundary: the end of the interval now is in.
func (r *room) untilNextTick(now time.Time) time.Duration {
	next := r.epoch.Add(time.Duration(r.slotIndex(now)+1) * r.cfg.TickInterval)
	return next.Sub(now)
}

// slotIndex returns the interval number of t.
func (r *room) slotIndex(t time.Time) int64 {
	d := t.Sub(r.epoch)
	if d < 0 {
		return 0
	}
	return int64(d / r.cfg.TickInterval)
}

// add queues d for the tick interval it arrived in. It returns false if
// the room is closed (the caller retries with a fresh room).
func (r *room) add(d *danmaku.Danmaku, priority bool, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	idx := r.slotIndex(now)
	var s *slot
	if n := len(r.slots); n > 0 && r.slots[n-1].idx >= idx {
		s = r.slots[n-1] // Same interval, or the clock stepped back.
	} else {
		s = &slot{idx: idx, buf: NewTickBuffer(r.cfg.MaxPerTick)}
		r.slots = append(r.slots, s)
	}
	if !s.buf.Add(d, priority) {
		r.hub.stats.droppedPending.Add(1)
	}
	r.wakeLocked()
	return true
}

// wake restarts the tick loop of a parked room; see wakeLocked.
func (r *room) wake() {
	r.mu.Lock()
	r.wakeLocked()
	r.mu.Unlock()
}

// wakeLocked restarts the tick loop of a parked room that is not closed.
// The loop ticks on the room's grid from the boundary after now, so a
// danmaku sent to a parked room goes out at the end of its interval, as
// in a room that never parked. A parked room has no viewers, so its ping
// clock starts over. r.mu must be held.
func (r *room) wakeLocked() {
	if r.running || r.closed {
		return
	}
	r.running = true
	r.idleUntil = time.Time{}
	r.lastPing = r.hub.cfg.Now()
	// Close marks every room closed before it waits for the loops, so
	// this Add happens before that Wait.
	r.hub.wg.Go(r.loop)
}

// run seeds a new room's recent batches, then runs its tick loop.
func (r *room) run() {
	if r.remote != nil {
		r.seedRemote(r.remote)
	} else if l := r.hub.hist.log; l != nil {
		r.seedLog(l)
	}
	r.loop()
}

// loop is the room's tick loop. It returns when the room closes, or when
// a tick finds the room idle and parks it.
func (r *room) loop() {
	h := r.hub
	h.ticking.Add(1)
	defer h.ticking.Add(-1)
	r.mu.Lock()
	interval := r.cfg.TickInterval
	first := r.untilNextTick(h.cfg.Now())
	r.mu.Unlock()
	t := h.cfg.NewTicker(first)
	defer func() { t.Stop() }()
	for {
		select {
		case <-r.stop:
			return
		case c := <-r.reconf:
			r.tickAll()
			r.mu.Lock()
			r.cfg = c.withDefaults()
			r.epoch = h.cfg.Now()
			interval = r.cfg.TickInterval
			r.mu.Unlock()
			t.Stop()
			t = h.cfg.NewTicker(interval)
		case at := <-t.C():
			if lag := h.cfg.Now().Sub(at); lag > 0 {
				h.noteLag(lag, interval)
			}
			if until, parked := r.tick(false); parked {
				h.notePark(r, until)
				return
			}
			r.mu.Lock()
			next := r.untilNextTick(h.cfg.Now())
			r.mu.Unlock()
			t.Reset(next)
		}
	}
}

// tickAll flushes every pending slot, the current one included; it is
// used before the interval changes.
func (r *room) tickAll() { r.tick(true) }

// tick merges every complete interval that is still pending into one batch
// each, in order with contiguous seq, and sends them to every viewer. A
// late ticker therefore loses nothing: the intervals it missed are merged
// now. When the room is left with no viewers, nothing pending and no
// reconfiguration waiting, and all is false, the room parks: tick reports
// parked and the time until which the room is kept, and the caller ends
// the loop.
func (r *room) tick(all bool) (idleUntil time.Time, parked bool) {
	r.fanMu.Lock()
	defer r.fanMu.Unlock()
	h := r.hub
	now := h.cfg.Now()
	h.stats.ticks.Add(1)

	r.mu.Lock()
	cur := r.slotIndex(now)
	n := 0
	for n < len(r.slots) && (all || r.slots[n].idx < cur) {
		n++
	}
	due := slices.Clone(r.slots[:n])
	r.slots = slices.Delete(r.slots, 0, n)
	var msgs []*message
	var logged []danmaku.LogEntry
	for _, s := range due {
		sel := s.buf.Choose()
		h.stats.folded.Add(uint64(sel.Folded))
		h.stats.droppedByCap.Add(uint64(sel.DroppedByCap))
		if len(sel.Items) == 0 {
			continue
		}
		at := r.epoch.Add(time.Duration(s.idx+1) * r.cfg.TickInterval)
		m, err := encodeBatch(r.histEpoch, r.seq+1, at.UnixMilli(), sel.Items)
		if err != nil {
			h.log.Error("live: encode batch", "objectId", r.id, "err", err)
			continue
		}
		r.seq++
		h.stats.batches.Add(1)
		h.stats.broadcast.Add(uint64(len(sel.Items)))
		r.ring = append(r.ring, m)
		if len(r.ring) > RingSize {
			r.ring = slices.Delete(r.ring, 0, len(r.ring)-RingSize)
		}
		msgs = append(msgs, m)
		if r.remote == nil {
			logged = append(logged, danmaku.LogEntry{ObjectID: r.id, At: at, Batch: &danmaku.Batch{Seq: m.seq, Payload: m.payload}})
		}
	}
	var ping *message
	var silentSince int64 // Viewers silent since before this are closed.
	if now.Sub(r.lastPing) >= h.cfg.PingInterval {
		r.lastPing = now
		ping = pingMessage
		silentSince = now.Add(-3 * h.cfg.PingInterval).UnixNano()
	}
	var vs []*viewer
	if len(msgs) > 0 || ping != nil {
		vs = r.snapshotLocked()
	}
	// A reconfiguration sent before this check is seen here; one sent
	// after it wakes the room (SetRoomConfig).
	if !all && len(r.viewers) == 0 && len(r.slots) == 0 && len(r.reconf) == 0 {
		// This tick counts as the first of the idle ones, as it did when
		// idle rooms ticked on.
		r.running, parked = false, true
		r.idleUntil = now.Add(time.Duration(h.cfg.IdleRoomTicks-1) * r.cfg.TickInterval)
		idleUntil = r.idleUntil
	}
	r.mu.Unlock()

	// Logged in tick order by the history's writer, never waited for.
	h.hist.append(logged...)
	h.fanout(vs, func(v *viewer) {
		switch {
		case ping != nil:
			if v.ping(msgs, ping, silentSince, &h.cfg, &h.stats) {
				h.stats.silentClosed.Add(1)
			}
		case len(msgs) > 0:
			v.deliver(msgs, &h.cfg, &h.stats)
		}
	})
	return idleUntil, parked
}

// pingMessage keeps idle connections alive: a WebSocket ping frame, or an
// SSE comment.
var pingMessage = &message{ws: wsFrame(opPing, nil), sse: []byte(": ping\n\n")}

// snapshotLocked returns the current viewers.
func (r *room) snapshotLocked() []*viewer {
	return slices.Clone(r.viewers)
}

// join adds v to the room and writes its welcome before any batch can
// reach it: the batches after rs.since when the room still has them all
// ("recovered"), otherwise its recent batches. It returns false if the
// room is closed.
func (r *room) join(v *viewer, live *Session, rs *resumeFrom) bool {
	<-r.ready
	logged := r.readResume(rs)
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return false
	}
	r.viewers = append(r.viewers, v)
	v.slot = int32(len(r.viewers))
	r.hub.stats.viewers.Add(1)
	r.wakeLocked()
	st := roomState{
		ObjectID:   r.id,
		TickMs:     r.cfg.TickInterval.Milliseconds(),
		MaxPerTick: r.cfg.MaxPerTick,
		Viewers:    len(r.viewers),
		Seq:        r.seq,
		Epoch:      r.histEpoch,
		Live:       live,
	}
	recent, recovered := r.resumeLocked(rs, logged)
	v.mu.Lock()
	v.minSeq = r.seq + 1
	r.mu.Unlock()
	defer v.mu.Unlock()
	m, err := encodeWelcome(st, recovered, recent, v.compact)
	if err != nil {
		r.hub.log.Error("live: encode welcome", "objectId", r.id, "err", err)
		v.closeLocked(CloseGoingAway, "internal error")
		return true
	}
	v.writeOneLocked(v.frame(m))
	return true
}

// leave removes v from the room; it is safe to call more than once.
func (r *room) leave(v *viewer) {
	r.mu.Lock()
	if v.slot > 0 {
		// The last viewer takes v's place.
		last := r.viewers[len(r.viewers)-1]
		r.viewers[v.slot-1], last.slot = last, v.slot
		r.viewers[len(r.viewers)-1] = nil
		r.viewers = r.viewers[:len(r.viewers)-1]
		v.slot = 0
		r.hub.stats.viewers.Add(-1)
	}
	r.mu.Unlock()
}

// remove withdraws id from the pending danmaku and the recent batches and
// tells every viewer to remove it from the screen.
func (r *room) remove(id danmaku.ID) {
	r.fanMu.Lock()
	defer r.fanMu.Unlock()
	r.mu.Lock()
	for _, s := range r.slots {
		s.buf.Remove(id)
	}
	for i, m := range r.ring {
		if !slices.ContainsFunc(m.items, func(d *danmaku.Danmaku) bool { return d.ID == id }) {
			continue
		}
		items := slices.DeleteFunc(slices.Clone(m.items), func(d *danmaku.Danmaku) bool { return d.ID == id })
		nm, err := encodeBatch(r.histEpoch, m.seq, m.at, items)
		if err != nil {
			continue
		}
		r.ring[i] = nm
	}
	entry := r.noteDeleteLocked(id)
	vs := r.snapshotLocked()
	r.mu.Unlock()
	r.hub.hist.append(entry)
	m := control("delete", deleteJSON{Type: "delete", IDs: []danmaku.ID{id}})
	r.hub.fanout(vs, func(v *viewer) { v.deliver([]*message{m}, &r.hub.cfg, &r.hub.stats) })
}

// fanout runs f for every viewer, spread over up to FanoutWorkers
// goroutines for rooms large enough to need it: on the bench, one
// goroutine writing 15,000 viewers cost 20% less CPU than two.
func (h *Hub) fanout(vs []*viewer, f func(*viewer)) {
	const perWorker = 16384
	workers := min(h.cfg.FanoutWorkers, (len(vs)+perWorker-1)/perWorker)
	if workers <= 1 {
		for _, v := range vs {
			f(v)
		}
		return
	}
	var wg sync.WaitGroup
	chunk := (len(vs) + workers - 1) / workers
	for i := 0; i < len(vs); i += chunk {
		part := vs[i:min(i+chunk, len(vs))]
		wg.Go(func() {
			for _, v := range part {
				f(v)
			}
		})
	}
	wg.Wait()
}
