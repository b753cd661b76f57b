package live

import (
	"net/netip"
	"time"

	danmaku "github.com/danmakud/danmakud"
)

// Defaults of the room bounds.
const (
	// DefaultMaxRooms is the default of Config.MaxRooms.
	DefaultMaxRooms = 100_000
	// DefaultMaxRoomsPerAddr is the default of Config.MaxRoomsPerAddr.
	DefaultMaxRoomsPerAddr = 64
	// evictScan is how many rooms a full hub looks at to find an idle one.
	evictScan = 256
	// sweepInterval is how often the hub looks for parked rooms whose
	// idle time is over.
	sweepInterval = time.Second
)

// addrGroup returns the group that counts the rooms created from ip: the
// address itself for IPv4, its /64 for IPv6 (a host picks its addresses
// from a /64).
func addrGroup(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap().WithZone("")
	if a.Is6() {
		if p, err := a.Prefix(64); err == nil {
			return p.String()
		}
	}
	return a.String()
}

// roomFor is room for a viewer from ip: a room that ip's viewers create
// counts against ip's share (Config.MaxRoomsPerAddr). When ip has used its
// share, one of the idle rooms it created is evicted; when none of them is
// idle, the viewer gets an ERATELIMIT error. A room that already exists is
// never refused.
func (h *Hub) roomFor(objectID, ip string) (*room, error) {
	if ip == "" {
		return h.room(objectID)
	}
	group := addrGroup(ip)
	h.mu.Lock()
	_, exists := h.rooms[objectID]
	if !exists && !h.closed && len(h.byAddr[group]) >= h.cfg.MaxRoomsPerAddr {
		if !h.evictIdleLocked(h.byAddr[group]) {
			h.mu.Unlock()
			return nil, &danmaku.Error{Code: danmaku.ERATELIMIT, Message: "your network holds too many live rooms open", RetryAfter: 10 * time.Second}
		}
	}
	h.mu.Unlock()
	r, created, err := h.roomCreated(objectID)
	if err != nil || !created {
		return r, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.rooms[objectID] == r && !h.closed {
		if h.byAddr[group] == nil {
			h.byAddr[group] = make(map[string]struct{})
		}
		h.byAddr[group][objectID] = struct{}{}
		h.creator[objectID] = group
	}
	return r, nil
}

// evictIdleLocked removes one room that has no viewers and nothing
// pending: from among ids when it is not nil, else from a sample of every
// room. It reports whether it removed one. h.mu must be held.
func (h *Hub) evictIdleLocked(ids map[string]struct{}) bool {
	n := 0
	try := func(id string) bool {
		r := h.rooms[id]
		if r == nil {
			return false
		}
		r.mu.Lock()
		idle := len(r.viewers) == 0 && len(r.slots) == 0 && !r.closed
		if idle {
			r.closed = true
		}
		r.mu.Unlock()
		if !idle {
			return false
		}
		h.dropLocked(r)
		close(r.stop)
		h.evicted.Add(1)
		return true
	}
	if ids != nil {
		for id := range ids {
			if try(id) {
				return true
			}
			if n++; n >= evictScan {
				break
			}
		}
		return false
	}
	for id := range h.rooms {
		if try(id) {
			return true
		}
		if n++; n >= evictScan {
			break
		}
	}
	return false
}

// dropLocked removes the closed room r from the hub's maps and stops it
// following its cluster feed. h.mu must be held.
func (h *Hub) dropLocked(r *room) {
	if h.rooms[r.id] != r {
		return
	}
	delete(h.rooms, r.id)
	if g, ok := h.creator[r.id]; ok {
		delete(h.creator, r.id)
		delete(h.byAddr[g], r.id)
		if len(h.byAddr[g]) == 0 {
			delete(h.byAddr, g)
		}
	}
	h.parkMu.Lock()
	delete(h.parked, r)
	h.parkMu.Unlock()
	if r.remote != nil {
		// Under h.mu, so that a room made next for the same id follows
		// only after this one stopped following.
		r.remote.Unfollow(r.id)
	}
}

// notePark records that r parked and is to be evicted at until unless it
// wakes first. A room that wakes stays recorded: the sweep checks the
// room itself before it evicts, and forgets rooms that run.
func (h *Hub) notePark(r *room, until time.Time) {
	h.parkMu.Lock()
	h.parked[r] = until
	h.parkMu.Unlock()
}

// sweepLoop evicts parked rooms whose idle time is over, every
// sweepInterval until the hub closes: one goroutine and one timer for all
// the parked rooms.
func (h *Hub) sweepLoop() {
	t := time.NewTicker(sweepInterval)
	defer t.Stop()
	for {
		select {
		case <-h.quit:
			return
		case <-t.C:
			h.sweep(h.cfg.Now())
		}
	}
}

// sweep evicts the parked rooms whose idle time is over at now, and
// returns how many it evicted.
func (h *Hub) sweep(now time.Time) int {
	var due []*room
	h.parkMu.Lock()
	for r, until := range h.parked {
		if !now.Before(until) {
			due = append(due, r)
		}
	}
	h.parkMu.Unlock()
	n := 0
	for _, r := range due {
		h.mu.Lock()
		r.mu.Lock()
		idle := !r.closed && !r.running && !now.Before(r.idleUntil) && len(r.viewers) == 0 && len(r.slots) == 0
		if idle {
			r.closed = true
		}
		h.parkMu.Lock()
		switch {
		case idle || r.closed || r.running:
			delete(h.parked, r) // Evicted now, gone already, or awake.
		default:
			h.parked[r] = r.idleUntil // Parked again since, for longer.
		}
		h.parkMu.Unlock()
		r.mu.Unlock()
		if idle {
			h.dropLocked(r)
			n++
		}
		h.mu.Unlock()
	}
	return n
}
