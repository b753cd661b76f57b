package redis

import "sync/atomic"

// op is a kind of Redis call whose failures a node counts.
type op int

// The kinds of Redis calls, by their names in StatsSnapshot.RedisErrors.
const (
	opAppend op = iota // XADD of an accepted danmaku to its room's input stream.
	opFollow           // Reads of a room's output stream (XREAD, XREVRANGE).
	opLead             // A candidate's or leader's lease, input read and commit.
	opDelete           // The delete entry and mark of a withdrawn danmaku.
	opState            // Room settings and live sessions.
	opPing             // The health check.
	numOps
)

// String returns the op's name in StatsSnapshot.RedisErrors.
func (o op) String() string {
	switch o {
	case opAppend:
		return "append"
	case opFollow:
		return "follow"
	case opLead:
		return "lead"
	case opDelete:
		return "delete"
	case opState:
		return "state"
	case opPing:
		return "ping"
	}
	return "unknown"
}

// counters counts what a node did since New.
type counters struct {
	published atomic.Uint64
	fallback  atomic.Uint64
	outages   atomic.Uint64
	batches   atomic.Uint64
	takeovers atomic.Uint64

	lostLease atomic.Uint64
	lostState atomic.Uint64
	lostRedis atomic.Uint64

	folded         atomic.Uint64
	droppedByCap   atomic.Uint64
	droppedPending atomic.Uint64

	badInput  atomic.Uint64
	badOutput atomic.Uint64

	errors  [numOps]atomic.Uint64
	leading atomic.Int64 // Rooms whose lease this node holds now.
}

// StatsSnapshot is a copy of a node's counters and of the number of rooms
// it takes part in.
type StatsSnapshot struct {
	Published uint64 // Danmaku appended to input streams.
	Fallback  uint64 // Danmaku handed to the local hub because Redis was down.
	Outages   uint64 // Times Redis became unreachable (at start included).
	Batches   uint64 // Batches this node committed as a leader.
	Takeovers uint64 // Leases this node took.

	// Leaderships this node lost other than by giving the lease up: the
	// lease had gone to another node (LostLease), the room's state moved
	// under it (LostState), or a Redis call failed or Redis was down
	// (LostRedis).
	LostLease, LostState, LostRedis uint64

	// Folded, DroppedByCap and DroppedPending count, over the batches this
	// node committed as a leader, what live.TickBuffer folded and left out: the
	// figures of live.Stats for a single hub's ticks.
	Folded, DroppedByCap, DroppedPending uint64

	// BadInput counts input entries that a leader skipped because they did
	// not decode; BadOutput counts output entries this node read but could
	// not deliver.
	BadInput, BadOutput uint64

	// RedisErrors counts failed Redis calls by kind: append, follow, lead,
	// delete, state and ping. Every kind is present.
	RedisErrors map[string]uint64

	LedRooms       int // Rooms whose lease this node holds.
	CandidateRooms int // Rooms this node is a candidate for, led ones included.
	FollowedRooms  int // Rooms whose output stream this node reads.
}

// Stats returns the node's counters.
func (n *Node) Stats() StatsSnapshot {
	s := &n.stats
	errs := make(map[string]uint64, numOps)
	for o := range numOps {
		errs[o.String()] = s.errors[o].Load()
	}
	snap := StatsSnapshot{
		Published:      s.published.Load(),
		Fallback:       s.fallback.Load(),
		Outages:        s.outages.Load(),
		Batches:        s.batches.Load(),
		Takeovers:      s.takeovers.Load(),
		LostLease:      s.lostLease.Load(),
		LostState:      s.lostState.Load(),
		LostRedis:      s.lostRedis.Load(),
		Folded:         s.folded.Load(),
		DroppedByCap:   s.droppedByCap.Load(),
		DroppedPending: s.droppedPending.Load(),
		BadInput:       s.badInput.Load(),
		BadOutput:      s.badOutput.Load(),
		RedisErrors:    errs,
		LedRooms:       int(s.leading.Load()),
	}
	n.mu.Lock()
	snap.CandidateRooms = len(n.rooms)
	for _, rr := range n.rooms {
		if rr.followed {
			snap.FollowedRooms++
		}
	}
	n.mu.Unlock()
	return snap
}

// setLeader records whether this node leads a room, keeping the count of
// the rooms it leads.
func (n *Node) setLeader(st *leaderState, leader bool) {
	if st.leader == leader {
		return
	}
	st.leader = leader
	if leader {
		n.stats.leading.Add(1)
	} else {
		n.stats.leading.Add(-1)
	}
}

// loseLead ends this node's leadership of a room, if it leads it, for a
// reason other than giving the lease up, and counts it in lost.
func (n *Node) loseLead(st *leaderState, lost *atomic.Uint64) {
	if st.leader {
		lost.Add(1)
		n.setLeader(st, false)
	}
}
