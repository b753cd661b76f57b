// Package live pushes accepted danmaku to everyone watching a video or a
// live event. Each room merges the danmaku of one tick interval into one
// batch (folding repeats, capping fairly), encodes it once, and writes the
// same bytes to every viewer; see docs/protocol.md for the wire protocol.
//
// The Hub is the danmaku.Broker of a single node. In a cluster, the
// cluster's Broker (broker/redis) is the hub's Remote and hands it the
// room leaders' batches as its danmaku.BrokerEventHandler; a TickBuffer
// chooses each tick's items alike on both paths.
//
// WebSocket viewers are moved onto an event-loop poller (lesismal/nbio)
// after the upgrade, so an idle viewer costs no goroutine and no buffers.
// Likewise a room with no viewers and nothing pending parks: its tick loop
// ends until a join, a send or a new setting wakes it, and one sweep for
// the whole hub evicts the rooms parked for Config.IdleRoomTicks intervals.
package live

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	danmaku "github.com/danmakud/danmakud"
	"github.com/lesismal/nbio"
	"github.com/lesismal/nbio/logging"
	"github.com/lesismal/nbio/nbhttp"
	"github.com/lesismal/nbio/nbhttp/websocket"
)

// The hub is the Broker of a single node, and the event handler of a
// cluster's Broker.
var (
	_ danmaku.Broker             = (*Hub)(nil)
	_ danmaku.BrokerEventHandler = (*Hub)(nil)
)

// Hub holds the live rooms of one server. Create it with New and release
// it with Close. It is safe for concurrent use.
type Hub struct {
	cfg      Config
	log      *slog.Logger
	engine   *nbhttp.Engine
	upgrader *websocket.Upgrader
	stats    counters
	hist     *history  // Rooms' history epochs and their BatchLog writer.
	scanners sync.Map  // *nbio.Conn to its *frameScanner, while a frame continues past a read (see onData).
	joins    sync.Pool // *[]byte buffers for joining a viewer's frames into one write (see wsSink.write).
	evicted  atomic.Uint64
	ticking  atomic.Int64 // Rooms whose tick loop runs.
	// quit ends the sweep of parked rooms (see rooms.go).
	quit chan struct{}

	// parkMu guards parked, the rooms that parked and when they go; it is
	// taken after h.mu and r.mu, never before.
	parkMu sync.Mutex
	parked map[*room]time.Time

	mu       sync.Mutex
	rooms    map[string]*room
	configs  map[string]RoomConfig
	sessions map[string]Session
	// byAddr holds, by address group, the rooms its viewers created that
	// the hub still holds; creator is the reverse (see roomFor).
	byAddr  map[string]map[string]struct{}
	creator map[string]string
	remote  Remote // Nil unless SetRemote put the hub in cluster mode.
	sender  Sender // Nil until SetSender.
	closed  bool
	wg      sync.WaitGroup
}

// New returns a running Hub.
func New(cfg Config) (*Hub, error) {
	cfg = cfg.withDefaults()
	h := &Hub{
		cfg:      cfg,
		log:      cfg.Log,
		rooms:    make(map[string]*room),
		configs:  make(map[string]RoomConfig),
		sessions: make(map[string]Session),
		byAddr:   make(map[string]map[string]struct{}),
		creator:  make(map[string]string),
		quit:     make(chan struct{}),
		parked:   make(map[*room]time.Time),
	}
	h.hist = newHistory(&cfg)
	logging.SetLevel(logging.LevelError) // nbio logs every engine start at info.
	h.engine = nbhttp.NewEngine(nbhttp.Config{
		Name:                    "danmakud-live",
		NPoller:                 max(1, nbioPollers()),
		ReadBufferSize:          8 << 10,
		MaxWriteBufferSize:      4 * maxBacklogBytes,
		ReleaseWebsocketPayload: true,
		SupportServerOnly:       true,
	})
	// Every read from a viewer passes the masking check first (onData).
	h.engine.Engine.OnData(h.onData)
	h.engine.OnClose(func(c net.Conn, _ error) { h.scanners.Delete(c) })
	// UTF-8 is checked in onMessage and onCloseFrame instead, so that a
	// connection that breaks it is closed through endConn; nbio would
	// close it directly.
	h.engine.CheckUtf8 = func([]byte) bool { return true }
	h.engine.OnWrittenSize(func(c *nbio.Conn, _ []byte, n int) {
		if wsc, ok := c.Session().(*websocket.Conn); ok {
			if s, ok := wsc.Session().(*wsSink); ok {
				if s.written.Add(int64(n)) >= s.queued.Load() && s.v.waiting.Load() {
					// The poller holds the connection's lock here, so the
					// queued messages are written from another goroutine.
					go s.v.drained()
				}
			}
		}
	})
	if err := h.engine.Start(); err != nil {
		h.hist.close()
		return nil, fmt.Errorf("live: start poller: %w", err)
	}
	h.upgrader = h.newUpgrader()
	h.wg.Go(h.sweepLoop)
	return h, nil
}

// SetSender makes the hub store the danmaku that viewers send over
// WebSocket through s: the service, which is made after the hub because
// it publishes to it. Until then such sends are refused.
func (h *Hub) SetSender(s Sender) {
	h.mu.Lock()
	h.sender = s
	h.mu.Unlock()
}

// Close disconnects every viewer with CloseGoingAway, stops the rooms and
// the poller. Publish after Close does nothing.
func (h *Hub) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	rooms := make([]*room, 0, len(h.rooms))
	for _, r := range h.rooms {
		rooms = append(rooms, r)
	}
	h.rooms = map[string]*room{}
	h.byAddr, h.creator = map[string]map[string]struct{}{}, map[string]string{}
	close(h.quit)
	h.mu.Unlock()
	for _, r := range rooms {
		r.mu.Lock()
		r.closed = true
		vs := r.snapshotLocked()
		r.mu.Unlock()
		close(r.stop)
		if r.remote != nil {
			r.remote.Unfollow(r.id)
		}
		for _, v := range vs {
			v.close(CloseGoingAway, "server shutting down")
		}
	}
	h.wg.Wait()
	h.hist.close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := h.engine.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("live: stop poller: %w", err)
	}
	return nil
}

// Publish queues d for the next tick of its room (see danmaku.Broker). It
// returns an EUNAVAILABLE *danmaku.Error only when the hub is closed or
// holds MaxRooms rooms already.
func (h *Hub) Publish(ctx context.Context, d *danmaku.Danmaku, priority bool) error {
	if d == nil || d.Shadow {
		return nil
	}
	h.stats.published.Add(1)
	for {
		r, err := h.room(d.ObjectID)
		if err != nil {
			return err
		}
		if r.add(d, priority, h.cfg.Now()) {
			return nil
		}
	}
}

// Delete withdraws a danmaku from its room: from the pending tick and the
// recent batches, and from every viewer's screen with a "delete" message.
// In a cluster it withdraws it from this node only.
func (h *Hub) Delete(objectID string, id danmaku.ID) {
	h.mu.Lock()
	r := h.rooms[objectID]
	h.mu.Unlock()
	if r != nil {
		r.remove(id)
	}
}

// SetRoomConfig changes a room's tick interval and cap. It returns an
// EINVALID *danmaku.Error for values out of range. Pending danmaku are
// flushed before a new interval applies.
func (h *Hub) SetRoomConfig(objectID string, c RoomConfig) error {
	if err := danmaku.ValidateObjectID(objectID); err != nil {
		return err
	}
	if err := c.Validate(); err != nil {
		return err
	}
	if rem := h.clusterRemote(); rem != nil {
		if err := rem.SaveRoomConfig(objectID, c); err != nil {
			return err
		}
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return danmaku.Errorf(danmaku.EUNAVAILABLE, "the live service is shutting down")
	}
	if c == (RoomConfig{}) {
		delete(h.configs, objectID)
	} else {
		h.configs[objectID] = c
	}
	r := h.rooms[objectID]
	c = h.roomConfigLocked(objectID)
	h.mu.Unlock()
	if r != nil {
		for sent := false; !sent; {
			select {
			case r.reconf <- c:
				sent = true
			default:
				select {
				case <-r.reconf: // Replace a change not yet applied.
				default:
				}
			}
		}
		// After the send: a parked room wakes to apply it, and a room
		// about to park sees it waiting and stays awake (see tick).
		r.wake()
	}
	return nil
}

// RoomConfig returns the settings of objectID with defaults filled in.
func (h *Hub) RoomConfig(objectID string) RoomConfig {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.roomConfigLocked(objectID)
}

// roomConfigLocked merges a room's own settings over the hub's defaults.
func (h *Hub) roomConfigLocked(objectID string) RoomConfig {
	c := h.configs[objectID]
	if c.TickInterval == 0 {
		c.TickInterval = h.cfg.DefaultRoom.TickInterval
	}
	if c.MaxPerTick == 0 {
		c.MaxPerTick = h.cfg.DefaultRoom.MaxPerTick
	}
	return c.withDefaults()
}

// room returns the room of objectID, creating and starting it if needed.
func (h *Hub) room(objectID string) (*room, error) {
	r, _, err := h.roomCreated(objectID)
	return r, err
}

// roomCreated is room, and reports whether it created the room. A full
// hub evicts an idle room (no viewers, nothing pending) to make space; it
// refuses only when the rooms it looked at all have viewers or pending
// danmaku.
func (h *Hub) roomCreated(objectID string) (*room, bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, false, danmaku.Errorf(danmaku.EUNAVAILABLE, "the live service is shutting down")
	}
	if r, ok := h.rooms[objectID]; ok {
		return r, false, nil
	}
	if len(h.rooms) >= h.cfg.MaxRooms && !h.evictIdleLocked(nil) {
		return nil, false, &danmaku.Error{Code: danmaku.EUNAVAILABLE, Message: "too many live rooms", RetryAfter: 10 * time.Second}
	}
	r := newRoom(h, objectID, h.roomConfigLocked(objectID), h.cfg.Now())
	if h.remote != nil {
		r.remote = h.remote
		r.ready = make(chan struct{})
	}
	h.rooms[objectID] = r
	h.wg.Go(r.run)
	return r, true, nil
}

// noteLag records how late a tick ran.
func (h *Hub) noteLag(lag, interval time.Duration) {
	if lag > interval/2 {
		h.stats.lateTicks.Add(1)
	}
	for {
		old := h.stats.maxLagNs.Load()
		if int64(lag) <= old || h.stats.maxLagNs.CompareAndSwap(old, int64(lag)) {
			return
		}
	}
}

// Stats is a snapshot of the hub's counters since New.
type Stats struct {
	Rooms           int
	TickingRooms    int    // Rooms whose tick loop runs; the others are parked.
	EvictedRooms    uint64 // Idle rooms evicted to make space for others.
	Viewers         int
	Published       uint64 // Danmaku given to Publish (shadow ones excluded).
	Broadcast       uint64 // Items sent in batches (a folded item counts once).
	Folded          uint64 // Danmaku folded into another item.
	DroppedByCap    uint64 // Items left out by the per-tick cap.
	DroppedPending  uint64 // Danmaku over the pending bound of a tick.
	DroppedBatches  uint64 // Batches dropped from slow viewers' queues.
	SlowDisconnects uint64 // Viewers disconnected for falling behind.
	// SilentDisconnects counts WebSocket viewers disconnected for
	// sending nothing, not even a pong, for 3 ping intervals.
	SilentDisconnects uint64
	Ticks             uint64        // Ticks run over all rooms.
	Batches           uint64        // Batches made over all rooms.
	LateTicks         uint64        // Ticks that ran more than half an interval late.
	MaxTickLag        time.Duration // The latest a tick ran.
	BytesWritten      uint64        // Bytes handed to viewers' connections.
}

// Stats returns the hub's counters.
func (h *Hub) Stats() Stats {
	h.mu.Lock()
	rooms := len(h.rooms)
	h.mu.Unlock()
	s := &h.stats
	return Stats{
		Rooms:             rooms,
		TickingRooms:      int(h.ticking.Load()),
		EvictedRooms:      h.evicted.Load(),
		Viewers:           int(s.viewers.Load()),
		Published:         s.published.Load(),
		Broadcast:         s.broadcast.Load(),
		Folded:            s.folded.Load(),
		DroppedByCap:      s.droppedByCap.Load(),
		DroppedPending:    s.droppedPending.Load(),
		DroppedBatches:    s.droppedBatches.Load(),
		SlowDisconnects:   s.slowClosed.Load(),
		SilentDisconnects: s.silentClosed.Load(),
		Ticks:             s.ticks.Load(),
		Batches:           s.batches.Load(),
		LateTicks:         s.lateTicks.Load(),
		MaxTickLag:        time.Duration(s.maxLagNs.Load()),
		BytesWritten:      s.bytesWritten.Load(),
	}
}
