package live

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	danmaku "github.com/danmakud/danmakud"
)

// Remote feeds rooms' batches from outside the hub: a cluster of nodes in
// which one node leads each room's ticks and every node fans the leader's
// batches out to its own viewers. Set it with Hub.SetRemote before serving.
//
// With a Remote set, a room's own ticker still runs: it pings viewers, and
// it merges whatever Publish hands the hub directly (the cluster's fallback
// while its broker is unreachable) with the room's local seq.
type Remote interface {
	// Follow is called once, from the room's goroutine, when the hub makes
	// a room. It returns the room's recent batches, oldest first, for the
	// welcome of joiners, and from then on hands the room's new batches to
	// Hub.Deliver and its deletes to Hub.Delete until Unfollow. It must not
	// block for long: joiners wait for it.
	Follow(objectID string) []RemoteBatch
	// Unfollow is called when the room goes (idle, or the hub closes).
	Unfollow(objectID string)
}

// RemoteBatch is one batch made elsewhere: its seq and its JSON payload,
// exactly as EncodeBatch made it.
type RemoteBatch struct {
	Seq     uint64
	Payload []byte
}

// SharedState is implemented by a Remote that shares room settings and
// live sessions between nodes. The hub writes changes through to it (a
// failure refuses the change) and reads sessions from it, falling back to
// its own copy when it cannot answer.
type SharedState interface {
	// SaveRoomConfig stores a room's settings for every node; the zero
	// RoomConfig means the defaults.
	SaveRoomConfig(objectID string, c RoomConfig) error
	// StartSession starts a live session, or returns the running one with
	// an ECONFLICT *danmaku.Error.
	StartSession(objectID string, now time.Time) (Session, error)
	// EndSession ends the running session and returns it with EndedAt set,
	// or returns an ENOTFOUND *danmaku.Error.
	EndSession(objectID string, now time.Time) (Session, error)
	// LoadSession returns the running session, if any.
	LoadSession(objectID string) (Session, bool, error)
}

// sharedState returns the hub's Remote as a SharedState, or nil.
func (h *Hub) sharedState() SharedState {
	ss, _ := h.Remote().(SharedState)
	return ss
}

// SetRemote puts the hub in cluster mode (see Remote). Rooms made before
// the call are not followed.
func (h *Hub) SetRemote(r Remote) {
	h.mu.Lock()
	h.remote = r
	h.mu.Unlock()
}

// Remote returns the Remote set with SetRemote, or nil.
func (h *Hub) Remote() Remote {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.remote
}

// Pending is one accepted danmaku waiting for a tick, as a cluster leader
// reads it back from its room's input.
type Pending struct {
	Danmaku  *danmaku.Danmaku
	Priority bool
}

// Selection is one tick's choice made by Choose: the items to broadcast,
// and how many danmaku were folded or left out, the figures a single hub
// counts in Stats.Folded, Stats.DroppedByCap and Stats.DroppedPending.
type Selection struct {
	Items          []*danmaku.Danmaku // In ID order; folded items carry Count.
	Folded         int                // Danmaku folded into another item.
	DroppedByCap   int                // Items (after folding) left out by the cap.
	DroppedPending int                // Danmaku over the pending bound of the tick.
}

// Select chooses one tick's broadcast items from the danmaku accepted
// during it, in acceptance order, with the same bounds, folding and fair
// choice as a single hub's tick (see docs/protocol.md). maxItems is the
// room's MaxPerTick. It returns the items in ID order.
func Select(pending []Pending, maxItems int) []*danmaku.Danmaku {
	return Choose(pending, maxItems).Items
}

// Choose is Select that also counts what it folded and left out, so that a
// cluster leader reports the same figures as a single hub's tick.
func Choose(pending []Pending, maxItems int) Selection {
	if maxItems <= 0 {
		maxItems = DefaultMaxPerTick
	}
	items := make([]pendingItem, 0, len(pending))
	perUser := make(map[string]int)
	dropped := 0
	for _, p := range pending {
		if p.Danmaku == nil || p.Danmaku.Shadow {
			continue
		}
		if !p.Priority && (len(items) >= pendingFactor*maxItems || perUser[p.Danmaku.UserID] >= maxItems) {
			dropped++
			continue
		}
		if len(items) >= 2*pendingFactor*maxItems {
			dropped++
			continue
		}
		items = append(items, pendingItem{d: p.Danmaku, priority: p.Priority})
		perUser[p.Danmaku.UserID]++
	}
	sel := choose(items, maxItems)
	return Selection{Items: sel.items, Folded: sel.folded, DroppedByCap: sel.droppedByCap, DroppedPending: dropped}
}

// EncodeBatch returns the JSON of one batch message, the payload every
// viewer receives: {"type":"batch","seq","at","items"}.
func EncodeBatch(seq uint64, atMs int64, items []*danmaku.Danmaku) ([]byte, error) {
	m, err := encodeBatch(seq, atMs, items)
	if err != nil {
		return nil, fmt.Errorf("live: encode batch %d: %w", seq, err)
	}
	return m.payload, nil
}

// decodeRemote rebuilds a batch message from a payload made by
// EncodeBatch, keeping the payload's bytes. Items that do not decode (a
// newer node's fields, say) are still delivered as they are; only the
// withdrawal of a deleted danmaku from the recent batches needs them.
func decodeRemote(b RemoteBatch) (*message, error) {
	var j struct {
		Type  string          `json:"type"`
		Seq   uint64          `json:"seq"`
		At    int64           `json:"at"`
		Items json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(b.Payload, &j); err != nil {
		return nil, fmt.Errorf("live: decode remote batch: %w", err)
	}
	if j.Type != "batch" || j.Seq != b.Seq {
		return nil, fmt.Errorf("live: remote batch %d: payload is %q with seq %d", b.Seq, j.Type, j.Seq)
	}
	var items []*danmaku.Danmaku
	if err := json.Unmarshal(j.Items, &items); err != nil {
		items = nil
	}
	m := newMessage("batch", b.Seq, len(items), b.Payload)
	m.at, m.items = j.At, items
	return m, nil
}

// seedRemote fills a new room's recent batches from its Remote.
func (r *room) seedRemote(rem Remote) {
	defer close(r.ready)
	var ring []*message
	for _, b := range rem.Follow(r.id) {
		m, err := decodeRemote(b)
		if err != nil {
			r.hub.log.Error("live: seed room", "objectId", r.id, "err", err)
			continue
		}
		ring = append(ring, m)
	}
	if len(ring) > RingSize {
		ring = ring[len(ring)-RingSize:]
	}
	r.mu.Lock()
	if n := len(ring); n > 0 {
		r.ring = ring
		r.seq = ring[n-1].seq
		r.remoteSeq = r.seq
	}
	r.mu.Unlock()
}

// Deliver fans a batch made elsewhere (see Remote) out to the local
// viewers of its room, encoded once as the payload is. Batches whose seq
// is not above the last one delivered are duplicates and are ignored. A
// room nobody watches here ignores it. It returns an error only for a
// payload that is not a batch with that seq.
//
// A batch whose seq is not above the room's local seq (the room made batches
// of its own while the cluster was unreachable) is still delivered: seq is
// contiguous per mode, and a client sees it restart from the cluster's.
func (h *Hub) Deliver(objectID string, b RemoteBatch) error {
	h.mu.Lock()
	r := h.rooms[objectID]
	h.mu.Unlock()
	if r == nil {
		return nil
	}
	<-r.ready
	m, err := decodeRemote(b)
	if err != nil {
		return err
	}
	r.fanMu.Lock()
	defer r.fanMu.Unlock()
	r.mu.Lock()
	if r.closed || b.Seq <= r.remoteSeq {
		r.mu.Unlock()
		return nil
	}
	regress := b.Seq <= r.seq
	r.remoteSeq, r.seq = b.Seq, b.Seq
	r.ring = append(r.ring, m)
	if len(r.ring) > RingSize {
		r.ring = slices.Delete(r.ring, 0, len(r.ring)-RingSize)
	}
	vs := r.snapshotLocked()
	r.mu.Unlock()
	h.stats.batches.Add(1)
	h.stats.broadcast.Add(uint64(m.n))
	if regress {
		for _, v := range vs {
			v.mu.Lock()
			v.minSeq = min(v.minSeq, b.Seq)
			v.mu.Unlock()
		}
	}
	h.fanout(vs, func(v *viewer) { v.deliver([]*message{m}, &h.cfg, &h.stats) })
	return nil
}
