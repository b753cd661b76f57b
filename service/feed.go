package service

import (
	"sync"

	danmaku "github.com/danmakud/danmakud"
)

// Outcomes of a send, as the moderators' feed shows them.
const (
	OutcomeAccepted = "accepted"
	OutcomeMasked   = "masked"
	OutcomeShadowed = "shadowed"
	OutcomeRejected = "rejected"
	OutcomeDeleted  = "deleted"
)

// Event is one entry of the moderators' feed: a send and what became of
// it, a deletion, or a viewer's report (outcome "report").
type Event struct {
	At       int64            `json:"at"` // Unix milliseconds.
	ObjectID string           `json:"objectId"`
	UserID   string           `json:"userId"`
	Outcome  string           `json:"outcome"`
	Reason   string           `json:"reason,omitempty"`
	Reporter string           `json:"reporter,omitempty"` // Who reported the danmaku, in a report event.
	Code     string           `json:"code,omitempty"`     // The error code of a rejection.
	Text     string           `json:"text,omitempty"`     // The attempted text of a rejection.
	Danmaku  *danmaku.Danmaku `json:"danmaku,omitempty"`  // What was stored or deleted.
}

// Feed sizes.
const (
	FeedSize     = 500  // Events kept overall and per room, as in the seed's admin page.
	feedRooms    = 1000 // Rooms whose own recent events are kept.
	feedSubQueue = 256  // Events buffered per subscriber before it misses some.
)

// Feed keeps the last FeedSize events overall and per room, and pushes new
// ones to subscribers. A subscriber that does not keep up misses events
// rather than slowing senders. The zero Feed is ready to use.
type Feed struct {
	mu     sync.Mutex
	all    ring
	rooms  map[string]*ring
	subs   map[*subscription]struct{}
	events uint64
}

type subscription struct {
	room string
	ch   chan Event
}

// ring is a fixed-size circular buffer of events.
type ring struct {
	buf  []Event
	next int
	used uint64 // Feed.events when it was last written, to evict idle rooms.
}

func (r *ring) add(e Event, n uint64) {
	if len(r.buf) < FeedSize {
		r.buf = append(r.buf, e)
	} else {
		r.buf[r.next] = e
	}
	r.next = (r.next + 1) % FeedSize
	r.used = n
}

// newest returns up to n events, newest first.
func (r *ring) newest(n int) []Event {
	out := make([]Event, 0, min(n, len(r.buf)))
	for i := 0; i < len(r.buf) && i < n; i++ {
		j := (r.next - 1 - i + 2*len(r.buf)) % len(r.buf)
		out = append(out, r.buf[j])
	}
	return out
}

// Record adds e to the feed and offers it to the subscribers of its room
// and of all rooms.
func (f *Feed) Record(e Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events++
	f.all.add(e, f.events)
	if f.rooms == nil {
		f.rooms = map[string]*ring{}
	}
	r, ok := f.rooms[e.ObjectID]
	if !ok {
		if len(f.rooms) >= feedRooms {
			f.evictIdleRoom()
		}
		r = &ring{}
		f.rooms[e.ObjectID] = r
	}
	r.add(e, f.events)
	for s := range f.subs {
		if s.room != "" && s.room != e.ObjectID {
			continue
		}
		select {
		case s.ch <- e:
		default: // A slow subscriber misses this event.
		}
	}
}

func (f *Feed) evictIdleRoom() {
	var oldest string
	var used uint64
	for id, r := range f.rooms {
		if oldest == "" || r.used < used {
			oldest, used = id, r.used
		}
	}
	delete(f.rooms, oldest)
}

// Recent returns up to n of the last events of room ("" for all rooms),
// newest first.
func (f *Feed) Recent(room string, n int) []Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	if room == "" {
		return f.all.newest(n)
	}
	if r, ok := f.rooms[room]; ok {
		return r.newest(n)
	}
	return []Event{}
}

// Subscribe returns a channel of new events of room ("" for all rooms) and
// a function that ends the subscription.
func (f *Feed) Subscribe(room string) (<-chan Event, func()) {
	s := &subscription{room: room, ch: make(chan Event, feedSubQueue)}
	f.mu.Lock()
	if f.subs == nil {
		f.subs = map[*subscription]struct{}{}
	}
	f.subs[s] = struct{}{}
	f.mu.Unlock()
	return s.ch, func() {
		f.mu.Lock()
		delete(f.subs, s)
		f.mu.Unlock()
	}
}
