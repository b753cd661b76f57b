package live

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	danmaku "github.com/danmakud/danmakud"
)

// Remote is the cluster side of a hub: the Broker of a cluster (see
// danmaku.Broker) follows rooms for the hub, feeding it the batches and
// retractions of each room's leader through HandleBatch and HandleDelete
// (and a new history epoch, should the cluster lose a room's history,
// through HandleEpoch), serves resumes from the cluster's history, and
// shares room settings and live sessions between nodes. Give it to
// the hub with SetRemote before serving.
//
// With a Remote set, a room's own ticker still runs: it pings viewers, and
// it merges whatever Publish hands the hub directly (the cluster's fallback
// while its broker is unreachable) with the room's local seq.
type Remote interface {
	// Follow is called once, from the room's goroutine, when the hub makes
	// a room. It returns the room's history epoch, the same on every node
	// (empty when it cannot tell now: the room then keeps an epoch of its
	// own), its recent batches, oldest first, for the welcome of joiners,
	// and the danmaku deleted lately, which the hub leaves out of them.
	// From then on it hands the room's new batches to Hub.HandleBatch and
	// its deletes to Hub.HandleDelete until Unfollow. It must not block
	// for long: joiners wait for it.
	Follow(objectID string) (epoch string, recent []danmaku.Batch, deleted []danmaku.ID)
	// BatchesAfter returns, for a viewer that resumes, the room's batches
	// whose seq is above since, oldest first, at most limit of them, and
	// the ids of danmaku deleted since then. An error means the Remote
	// cannot answer: the viewer gets "recovered":false.
	BatchesAfter(objectID string, since uint64, limit int) ([]danmaku.Batch, []danmaku.ID, error)
	// Unfollow is called when the room goes (idle, or the hub closes).
	Unfollow(objectID string)

	// The hub writes room settings and sessions through to the Remote (a
	// failure refuses the change) and reads sessions from it, falling back
	// to its own copy when it cannot answer.

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

// SetRemote puts the hub in cluster mode (see Remote). Rooms made before
// the call are not followed.
func (h *Hub) SetRemote(r Remote) {
	h.mu.Lock()
	h.remote = r
	h.mu.Unlock()
}

// clusterRemote returns the Remote set with SetRemote, or nil.
func (h *Hub) clusterRemote() Remote {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.remote
}

// EncodeBatch returns the JSON of one batch message, the payload every
// viewer receives: {"type":"batch","seq","at","items"}.
func EncodeBatch(seq uint64, atMs int64, items []*danmaku.Danmaku) ([]byte, error) {
	m, err := encodeBatch("", seq, atMs, items)
	if err != nil {
		return nil, fmt.Errorf("live: encode batch %d: %w", seq, err)
	}
	return m.payload, nil
}

// decodeRemote rebuilds a batch message of a room whose history epoch is
// epoch from a payload made by EncodeBatch, keeping the payload's bytes. Items that do not decode (a
// newer node's fields, say) are still delivered as they are; only the
// withdrawal of a deleted danmaku from the recent batches needs them.
func decodeRemote(epoch string, b danmaku.Batch) (*message, error) {
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
	m := newMessage("batch", epoch, b.Seq, len(items), b.Payload)
	m.at, m.items = j.At, items
	return m, nil
}

// seedRemote fills a new room's history epoch and recent batches from
// its Remote.
func (r *room) seedRemote(rem Remote) {
	defer close(r.ready)
	epoch, recent, deleted := rem.Follow(r.id)
	r.mu.Lock()
	if epoch != "" {
		r.histEpoch = epoch
	}
	r.mu.Unlock()
	ring := r.decodeLogged(recent, deleted)
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

// remoteCatchUp is how long a resume whose since is ahead of the room's
// seq waits for the cluster's batches to reach the room.
const remoteCatchUp = 500 * time.Millisecond

// readRemoteResume reads from the Remote the batches after rs.since, for
// a join that resumes; nil when the Remote cannot serve it or when the
// room's recent batches serve it alone (a short reconnect, the common
// case, costs the cluster nothing).
func (r *room) readRemoteResume(rs *resumeFrom) []*message {
	if rs.epoch != r.histEpoch {
		return nil
	}
	// A viewer may come from a node a little ahead of this one: the room
	// waits a moment for the cluster's batches to reach it.
	deadline := time.Now().Add(remoteCatchUp)
	r.mu.Lock()
	for rs.since > r.seq && !r.closed && time.Now().Before(deadline) {
		r.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
		r.mu.Lock()
	}
	// Batches that arrive meanwhile push the oldest out of the ring: the
	// ring serves a since in its newer half.
	inRing := rs.since >= r.seq || (len(r.ring) > 0 && rs.since+1 >= r.ring[0].seq+RingSize/2)
	r.mu.Unlock()
	if inRing {
		return nil
	}
	bs, deleted, err := r.remote.BatchesAfter(r.id, rs.since, maxResumeBatches+1)
	if err != nil {
		r.hub.log.Warn("live: read the cluster's batches for a resume", "objectId", r.id, "err", err)
		return nil
	}
	return r.decodeLogged(bs, deleted)
}

// HandleBatch fans a batch made elsewhere (see Remote) out to the local
// viewers of its room, encoded once as the payload is. Batches whose seq
// is not above the last one delivered are duplicates and are ignored. A
// room nobody watches here ignores it. It returns an error only for a
// payload that is not a batch with that seq.
//
// A batch whose seq is not above the room's local seq (the room made batches
// of its own while the cluster was unreachable) is still delivered: seq is
// contiguous per mode, and a client sees it restart from the cluster's.
func (h *Hub) HandleBatch(objectID string, b danmaku.Batch) error {
	h.mu.Lock()
	r := h.rooms[objectID]
	h.mu.Unlock()
	if r == nil {
		return nil
	}
	<-r.ready
	m, err := decodeRemote(r.histEpoch, b)
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

// CloseHistoryReset is the WebSocket close code (Service Restart) of the
// viewers of a room whose history the cluster lost (see HandleEpoch):
// they reconnect and get the room's new epoch.
const CloseHistoryReset = 1012

// HandleEpoch tells the hub that a room's history is now named epoch (see
// Remote): the cluster lost the room's history, and its seq starts again.
// A room here whose epoch differs (it also differs when the room was made
// while the cluster was unreachable) is dropped, as an idle room is, and
// its viewers are disconnected with CloseHistoryReset: they reconnect to a
// room made afresh from the cluster, with its epoch, and read what they
// missed by time. A room nobody watches here ignores it.
func (h *Hub) HandleEpoch(objectID, epoch string) {
	h.mu.Lock()
	r := h.rooms[objectID]
	h.mu.Unlock()
	if r == nil || epoch == "" {
		return
	}
	<-r.ready
	h.mu.Lock()
	if h.rooms[objectID] != r {
		h.mu.Unlock()
		return
	}
	r.mu.Lock()
	if r.closed || r.histEpoch == epoch {
		r.mu.Unlock()
		h.mu.Unlock()
		return
	}
	h.log.Warn("live: the cluster's history of a room was reset", "objectId", objectID, "epoch", epoch, "was", r.histEpoch, "seq", r.seq)
	r.closed = true
	vs := r.snapshotLocked()
	r.mu.Unlock()
	h.dropLocked(r)
	close(r.stop)
	h.mu.Unlock()
	for _, v := range vs {
		v.close(CloseHistoryReset, "the room's history was reset; reconnect")
	}
}

// HandleDelete withdraws a danmaku that the cluster retracted from this
// node's viewers of its room, as Delete does.
func (h *Hub) HandleDelete(objectID string, id danmaku.ID) { h.Delete(objectID, id) }
