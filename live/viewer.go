package live

import (
	"sync"
	"sync/atomic"

	danmaku "github.com/danmakud/danmakud"
)

// sink is a viewer's connection as the fan-out sees it.
type sink interface {
	// write hands bufs to the connection, in order, without blocking on
	// the peer. It may keep the frames, but not the bufs slice itself.
	write(bufs [][]byte) error
	// writeOne is write for one frame, which the common write (one batch
	// to a viewer that keeps up) is: it needs no slice.
	writeOne(b []byte) error
	// backlog returns how many bytes handed to write have not reached the
	// kernel yet; a positive backlog means the peer is not keeping up.
	backlog() int64
	// close ends the connection, with a close frame where the transport
	// has one.
	close(code int, reason string)
}

// maxBacklogBytes bounds what a viewer may have waiting in user space
// when a direct message (welcome, ack, error, pong) is written.
const maxBacklogBytes = 1 << 20

// viewer is one connection watching one room. Its fields are ordered so
// that it stays small (see TestViewerSize): there is one per connection.
type viewer struct {
	room *room
	sink sink
	sse  bool
	zip  bool // permessage-deflate was negotiated.
	// compact is set for a viewer that asked for batches in the compact
	// shape (?v=2, see compact.go).
	compact bool
	closed  bool // Guarded by mu.
	// slot is v's index in its room's viewers plus one, 0 while it is not
	// in them. Guarded by the room's mu.
	slot int32
	// waiting is set while messages are queued behind a backlog; the
	// transport then calls drained once the backlog clears.
	waiting atomic.Bool
	actor   danmaku.Actor

	mu      sync.Mutex
	dropped int32      // Batches dropped since the client was last told.
	stalled int32      // Consecutive ticks spent backed up.
	minSeq  uint64     // Batches below this were part of the welcome.
	queue   []*message // Waiting while the connection is backed up.
	// pong is the answer to the client's latest ping frame, kept while
	// the connection is backed up; nil when none waits.
	pong *message
}

// frame returns the bytes of m for v's transport.
func (v *viewer) frame(m *message) []byte {
	if v.compact {
		m = m.compactOf()
	}
	if v.sse {
		return m.sse
	}
	if v.zip {
		if z := m.deflated(); z != nil {
			return z
		}
	}
	return m.ws
}

// deliver queues msgs for v and writes whatever is queued if the
// connection has drained; it never blocks on the peer. The oldest batches
// go first when the queue is full, and a viewer that stays backed up for
// MaxStalledTicks deliveries is disconnected.
func (v *viewer) deliver(msgs []*message, cfg *Config, st *counters) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return
	}
	v.deliverLocked(msgs, nil, cfg, st)
}

// deliverLocked is deliver with v.mu held. In the common case, one batch
// to a viewer that keeps up, it writes the batch at once, and with it, in
// the same write, keepAlive when that is not nil; it reports whether it
// wrote keepAlive.
func (v *viewer) deliverLocked(msgs []*message, keepAlive *message, cfg *Config, st *counters) bool {
	if !v.keepsUpLocked(msgs) {
		v.queueLocked(msgs, cfg, st)
		return false
	}
	m := msgs[0]
	if m.seq != 0 && m.seq < v.minSeq {
		return false
	}
	v.stalled = 0
	if keepAlive == nil {
		v.writeOneLocked(v.frame(m))
		return false
	}
	v.writeLocked([][]byte{v.frame(m), v.frame(keepAlive)})
	return true
}

// keepsUpLocked reports whether msgs is one batch to a viewer that has
// nothing held back, the case that writes it at once.
func (v *viewer) keepsUpLocked(msgs []*message) bool {
	return len(msgs) == 1 && len(v.queue) == 0 && v.dropped == 0 && v.sink.backlog() == 0
}

// queueLocked is deliver's general case: it queues msgs and writes the
// queue if the connection has drained.
func (v *viewer) queueLocked(msgs []*message, cfg *Config, st *counters) {
	backlog := v.sink.backlog() > 0
	for _, m := range msgs {
		if m.seq != 0 && m.seq < v.minSeq {
			continue
		}
		v.queue = append(v.queue, m)
	}
	for len(v.queue) > cfg.QueueLen {
		i := 0
		for j, m := range v.queue {
			if m.seq != 0 {
				i = j
				break
			}
		}
		if v.queue[i].seq != 0 {
			v.dropped++
			st.droppedBatches.Add(1)
		}
		v.queue = append(v.queue[:i], v.queue[i+1:]...)
	}
	if len(v.queue) == 0 {
		return
	}
	if backlog {
		v.waiting.Store(true)
		if v.sink.backlog() == 0 {
			// Drained meanwhile; the transport may have looked at
			// waiting before it was set.
			v.flushLocked()
			return
		}
		v.stalled++
		if int(v.stalled) >= cfg.MaxStalledTicks {
			st.slowClosed.Add(1)
			v.closeLocked(CloseTooSlow, "too slow: fell behind")
		}
		return
	}
	v.flushLocked()
}

// flushLocked writes the waiting pong and the queue, the queue preceded by
// a "dropped" notice if batches were dropped since the last write.
func (v *viewer) flushLocked() {
	v.stalled = 0
	v.waiting.Store(false)
	bufs := make([][]byte, 0, len(v.queue)+2)
	if v.pong != nil {
		bufs = append(bufs, v.frame(v.pong))
		v.pong = nil
	}
	if v.dropped > 0 {
		var next uint64
		for _, m := range v.queue {
			if m.seq != 0 {
				next = m.seq
				break
			}
		}
		bufs = append(bufs, v.frame(control("dropped", droppedJSON{Type: "dropped", Count: int(v.dropped), Next: next})))
		v.dropped = 0
	}
	for _, m := range v.queue {
		bufs = append(bufs, v.frame(m))
	}
	clear(v.queue)
	v.queue = v.queue[:0]
	v.writeLocked(bufs)
}

// drained is called by the transport when its backlog reaches zero while
// messages (or a pong) wait; it writes them without waiting for the next
// tick.
func (v *viewer) drained() {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed || (len(v.queue) == 0 && v.pong == nil) || v.sink.backlog() > 0 {
		return
	}
	v.flushLocked()
}

// send writes one message directly (not through the batch queue). A
// viewer whose backlog already exceeds maxBacklogBytes is disconnected.
func (v *viewer) send(m *message) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return
	}
	if v.sink.backlog() > maxBacklogBytes {
		v.closeLocked(CloseTooSlow, "too slow: backlog")
		return
	}
	v.writeOneLocked(v.frame(m))
}

// answerPing answers a client's ping frame with m, its pong. While the
// connection is backed up only the latest ping is answered, once the
// backlog drains (RFC 6455 §5.5.3 allows this), so that a client that
// sends pings and reads nothing makes the server hold one pong, not one
// per ping.
func (v *viewer) answerPing(m *message) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return
	}
	if v.pong == nil && v.sink.backlog() == 0 {
		v.writeOneLocked(v.frame(m))
		return
	}
	v.pong = m
	v.waiting.Store(true)
	if v.sink.backlog() == 0 {
		// Drained meanwhile; the transport may have looked at waiting
		// before it was set.
		v.flushLocked()
	}
}

// listener is a sink whose client must show it is there: a WebSocket
// client answers pings.
type listener interface {
	// lastHeard returns when the client last sent a frame, in Unix
	// nanoseconds.
	lastHeard() int64
}

// ping delivers msgs as deliver does and writes the room's keep-alive m
// to a viewer that is not backed up, in the same write as the batch when
// the viewer keeps up (one system call, not two). It closes the viewer
// instead if its client has sent nothing, not even a pong, since before
// silentSince (Unix nanoseconds), and reports whether it did.
func (v *viewer) ping(msgs []*message, m *message, silentSince int64, cfg *Config, st *counters) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return false
	}
	if l, ok := v.sink.(listener); ok && l.lastHeard() < silentSince {
		v.closeLocked(CloseGoingAway, "nothing received from the client for 3 ping intervals")
		return true
	}
	if len(msgs) > 0 && v.deliverLocked(msgs, m, cfg, st) {
		return false // The keep-alive went with the batch.
	}
	if v.sink.backlog() > 0 {
		return false
	}
	v.writeOneLocked(v.frame(m))
	return false
}

// writeOneLocked writes one frame as writeLocked does, without making a
// slice for it.
func (v *viewer) writeOneLocked(b []byte) {
	v.wroteLocked(len(b), v.sink.writeOne(b))
}

// writeLocked writes bufs and closes the viewer on failure.
func (v *viewer) writeLocked(bufs [][]byte) {
	var n int
	for _, b := range bufs {
		n += len(b)
	}
	v.wroteLocked(n, v.sink.write(bufs))
}

// wroteLocked counts the n bytes handed to the sink and closes the viewer
// if the write failed.
func (v *viewer) wroteLocked(n int, err error) {
	v.room.hub.stats.bytesWritten.Add(uint64(n))
	if err != nil {
		v.closeLocked(CloseGoingAway, "write failed")
	}
}

// close ends the viewer's connection.
func (v *viewer) close(code int, reason string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.closeLocked(code, reason)
}

func (v *viewer) closeLocked(code int, reason string) {
	if v.closed {
		return
	}
	v.closed = true
	clear(v.queue)
	v.queue = nil
	v.pong = nil
	v.sink.close(code, reason)
}

// counters are the Hub's statistics, updated atomically.
type counters struct {
	published      atomic.Uint64
	broadcast      atomic.Uint64
	folded         atomic.Uint64
	droppedByCap   atomic.Uint64
	droppedPending atomic.Uint64
	droppedBatches atomic.Uint64
	slowClosed     atomic.Uint64
	silentClosed   atomic.Uint64
	ticks          atomic.Uint64
	batches        atomic.Uint64
	lateTicks      atomic.Uint64
	maxLagNs       atomic.Int64
	viewers        atomic.Int64
	bytesWritten   atomic.Uint64
}
