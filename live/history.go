package live

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	danmaku "github.com/danmakud/danmakud"
)

// DefaultHistory is how long a room's batches stay in the BatchLog for
// viewers that resume.
const DefaultHistory = 5 * time.Minute

// maxResumeBatches bounds the batches one resume replays; a viewer that
// missed more gets "recovered":false and the last RingSize batches.
const maxResumeBatches = 3000

// logQueueLen bounds the log entries waiting for the writer; a tick that
// finds the queue full waits for it.
const logQueueLen = 4096

// pruneEvery is how many batches a room logs between two prunes.
const pruneEvery = 32

// maxCountedRooms bounds the rooms whose logged batches the writer counts
// towards their next prune.
const maxCountedRooms = 100_000

// maxRecentDeletes bounds the deletions a room remembers in memory, so
// that a resume applies those the writer has not logged yet.
const maxRecentDeletes = 1024

// history is the hub's side of the BatchLog: it names the rooms' history
// epochs and writes their batches and deletions to the log from one
// goroutine, so that ticks never wait on the disk.
type history struct {
	log    danmaku.BatchLog // Nil: history lives only as long as a room.
	window time.Duration
	epoch  string
	now    func() time.Time
	errs   *slog.Logger
	rooms  atomic.Uint64 // Rooms made, naming in-memory epochs.

	mu     sync.RWMutex
	closed bool
	ch     chan danmaku.LogEntry
	done   chan struct{}
}

// newHistory returns the history of a hub configured with cfg and starts
// its writer if cfg has a BatchLog.
func newHistory(cfg *Config) *history {
	h := &history{log: cfg.BatchLog, window: cfg.History, now: cfg.Now, errs: cfg.Log, done: make(chan struct{})}
	if h.log == nil {
		var b [6]byte
		_, _ = rand.Read(b[:]) // crypto/rand.Read never fails.
		h.epoch = hex.EncodeToString(b[:])
		close(h.done)
		return h
	}
	h.epoch = h.log.Epoch()
	h.ch = make(chan danmaku.LogEntry, logQueueLen)
	go h.run()
	return h
}

// roomEpoch returns the history epoch of a room being made: the log's,
// or, without a log, one of its own, since its history goes with it.
func (h *history) roomEpoch() string {
	if h.log != nil {
		return h.epoch
	}
	return h.epoch + "." + strconv.FormatUint(h.rooms.Add(1), 36)
}

// append queues entries for the log, in order.
func (h *history) append(entries ...danmaku.LogEntry) {
	if h.log == nil || len(entries) == 0 {
		return
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.closed {
		return
	}
	for _, e := range entries {
		h.ch <- e
	}
}

// close writes what is queued and stops the writer.
func (h *history) close() {
	h.mu.Lock()
	if !h.closed && h.ch != nil {
		close(h.ch)
	}
	h.closed = true
	h.mu.Unlock()
	<-h.done
}

// run writes queued entries, as many as wait in one write, and prunes
// each room's old batches every pruneEvery batches.
func (h *history) run() {
	defer close(h.done)
	logged := make(map[string]int)
	ctx := context.Background()
	for e := range h.ch {
		entries := []danmaku.LogEntry{e}
	more:
		for len(entries) < 1024 {
			select {
			case e, ok := <-h.ch:
				if !ok {
					break more
				}
				entries = append(entries, e)
			default:
				break more
			}
		}
		if err := h.log.AppendBatches(ctx, entries); err != nil {
			h.errs.Error("live: log batches", "err", err)
			continue
		}
		for _, e := range entries {
			if e.Batch == nil {
				continue
			}
			logged[e.ObjectID]++
			if logged[e.ObjectID] < pruneEvery {
				continue
			}
			delete(logged, e.ObjectID)
			if err := h.log.PruneBatches(ctx, e.ObjectID, h.now().Add(-h.window), RingSize); err != nil {
				h.errs.Error("live: prune logged batches", "objectId", e.ObjectID, "err", err)
			}
		}
		if len(logged) > maxCountedRooms {
			clear(logged) // Rooms that went quiet are pruned when they log again.
		}
	}
}

// seedLog fills a new room's seq and recent batches from the log, so that
// seq goes on after an eviction or a restart.
func (r *room) seedLog(l danmaku.BatchLog) {
	defer close(r.ready)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	bs, err := l.LastBatches(ctx, r.id, RingSize)
	if err != nil {
		r.hub.log.Error("live: read logged batches", "objectId", r.id, "err", err)
		return
	}
	deleted, err := l.Deleted(ctx, r.id, r.hub.hist.now().Add(-r.hub.hist.window))
	if err != nil {
		r.hub.log.Error("live: read logged deletions", "objectId", r.id, "err", err)
	}
	ring := r.decodeLogged(bs, deleted)
	r.mu.Lock()
	defer r.mu.Unlock()
	if n := len(bs); n > 0 {
		r.seq = bs[n-1].Seq
	}
	r.ring = ring
}

// decodeLogged rebuilds logged batches as messages, without the deleted
// danmaku.
func (r *room) decodeLogged(bs []danmaku.Batch, deleted []danmaku.ID) []*message {
	gone := make(map[danmaku.ID]struct{}, len(deleted))
	for _, id := range deleted {
		gone[id] = struct{}{}
	}
	out := make([]*message, 0, len(bs))
	for _, b := range bs {
		m, err := decodeRemote(r.histEpoch, b)
		if err != nil {
			r.hub.log.Error("live: decode logged batch", "objectId", r.id, "err", err)
			continue
		}
		out = append(out, r.without(m, gone))
	}
	return out
}

// without returns m, or m re-encoded without the danmaku in gone.
func (r *room) without(m *message, gone map[danmaku.ID]struct{}) *message {
	if len(gone) == 0 || !slices.ContainsFunc(m.items, func(d *danmaku.Danmaku) bool { _, ok := gone[d.ID]; return ok }) {
		return m
	}
	items := slices.DeleteFunc(slices.Clone(m.items), func(d *danmaku.Danmaku) bool { _, ok := gone[d.ID]; return ok })
	nm, err := encodeBatch(r.histEpoch, m.seq, m.at, items)
	if err != nil {
		return m
	}
	return nm
}

// resumeFrom is where a reconnecting viewer left off: the history epoch
// and seq of the last batch it received.
type resumeFrom struct {
	epoch string
	since uint64
}

// parseResume reads a resume point from the query (since and epoch) or,
// for SSE, from the Last-Event-ID header ("<epoch>:<seq>"). It returns
// nil when the request has none.
func parseResume(r *http.Request) (*resumeFrom, error) {
	q := r.URL.Query()
	if s := q.Get("since"); s != "" {
		since, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return nil, danmaku.FieldError("since", "must be the seq of the last batch received, a whole number")
		}
		epoch := q.Get("epoch")
		if len(epoch) > 64 {
			return nil, danmaku.FieldError("epoch", "must be at most 64 bytes")
		}
		return &resumeFrom{epoch: epoch, since: since}, nil
	}
	id := r.Header.Get("Last-Event-ID")
	if id == "" {
		return nil, nil
	}
	epoch, s, ok := strings.Cut(id, ":")
	since, err := strconv.ParseUint(s, 10, 64)
	if !ok || err != nil || len(epoch) > 64 {
		// An id this server did not make: the client starts afresh.
		return nil, nil
	}
	return &resumeFrom{epoch: epoch, since: since}, nil
}

// readResume reads from the log (in a cluster, from the Remote) the
// batches after rs.since, for a join that resumes; nil when the log
// cannot serve it.
func (r *room) readResume(rs *resumeFrom) []*message {
	if rs != nil && r.remote != nil {
		return r.readRemoteResume(rs)
	}
	l := r.hub.hist.log
	if rs == nil || l == nil || rs.epoch != r.histEpoch {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	bs, err := l.BatchesAfter(ctx, r.id, rs.since, maxResumeBatches+1)
	if err != nil {
		r.hub.log.Error("live: read logged batches", "objectId", r.id, "err", err)
		return nil
	}
	deleted, err := l.Deleted(ctx, r.id, r.hub.hist.now().Add(-r.hub.hist.window))
	if err != nil {
		r.hub.log.Error("live: read logged deletions", "objectId", r.id, "err", err)
		return nil
	}
	return r.decodeLogged(bs, deleted)
}

// resumeLocked returns the batches of a joiner's welcome and whether they
// are exactly those after rs.since: logged ones (from readResume) up to
// the ring, then the ring's. Otherwise, or without rs, it returns the
// ring. r.mu is held.
func (r *room) resumeLocked(rs *resumeFrom, logged []*message) ([]*message, bool) {
	if rs == nil || rs.epoch != r.histEpoch || rs.since > r.seq {
		return slices.Clone(r.ring), false
	}
	next := rs.since + 1
	ringStart := r.seq + 1
	if len(r.ring) > 0 {
		ringStart = r.ring[0].seq
	}
	var out []*message
	for _, m := range logged {
		if m.seq >= ringStart || m.seq != next {
			break
		}
		out = append(out, r.without(m, r.recentDeleted))
		next++
	}
	for _, m := range r.ring {
		if m.seq == next {
			out = append(out, m)
			next++
		}
	}
	if next != r.seq+1 || len(out) > maxResumeBatches {
		return slices.Clone(r.ring), false
	}
	return out, true
}

// noteDeleteLocked remembers a deletion for resumes and queues it for the
// log. r.mu is held.
func (r *room) noteDeleteLocked(id danmaku.ID) danmaku.LogEntry {
	if r.recentDeleted == nil {
		r.recentDeleted = make(map[danmaku.ID]struct{})
	}
	r.recentDeleted[id] = struct{}{}
	r.deleteOrder = append(r.deleteOrder, id)
	if len(r.deleteOrder) > maxRecentDeletes {
		delete(r.recentDeleted, r.deleteOrder[0])
		r.deleteOrder = slices.Delete(r.deleteOrder, 0, 1)
	}
	return danmaku.LogEntry{ObjectID: r.id, At: r.hub.hist.now(), Deleted: id}
}
