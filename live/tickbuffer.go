package live

import (
	"slices"

	danmaku "github.com/danmakud/danmakud"
)

// pendingFactor bounds what a tick keeps pending: MaxPerTick times this
// many items in total. Items beyond it are still stored, just never
// broadcast.
const pendingFactor = 20

// TickBuffer holds the danmaku accepted during one tick interval, within
// the pending bounds, and chooses the interval's broadcast items. A local
// room keeps one per pending interval; a cluster leader fills one per
// interval from its room's input stream, so that both admit, fold and cap
// alike. Make one with NewTickBuffer; it is not safe for concurrent use.
type TickBuffer struct {
	max     int
	items   []pendingItem
	perUser map[string]int
	dropped int
}

// NewTickBuffer returns an empty buffer for a room whose cap is
// maxPerTick (DefaultMaxPerTick when it is not positive).
func NewTickBuffer(maxPerTick int) *TickBuffer {
	if maxPerTick <= 0 {
		maxPerTick = DefaultMaxPerTick
	}
	return &TickBuffer{max: maxPerTick, perUser: make(map[string]int)}
}

// Add queues d, accepted during the buffer's interval. It reports false
// when d is over the pending bounds and is left out: 20 times the cap in
// total and the cap per user, except for priority danmaku, which only a
// hard bound of twice the total refuses. Shadow danmaku are never
// broadcast; Add ignores them and reports true.
func (b *TickBuffer) Add(d *danmaku.Danmaku, priority bool) bool {
	if d == nil || d.Shadow {
		return true
	}
	if !priority && (len(b.items) >= pendingFactor*b.max || b.perUser[d.UserID] >= b.max) {
		b.dropped++
		return false
	}
	if len(b.items) >= 2*pendingFactor*b.max {
		b.dropped++
		return false
	}
	b.items = append(b.items, pendingItem{d: d, priority: priority})
	b.perUser[d.UserID]++
	return true
}

// Remove withdraws the danmaku id, if it is pending.
func (b *TickBuffer) Remove(id danmaku.ID) {
	b.items = slices.DeleteFunc(b.items, func(p pendingItem) bool { return p.d.ID == id })
}

// Choose chooses the interval's broadcast items with the folding and fair
// choice of docs/protocol.md, and counts what it folded and left out.
func (b *TickBuffer) Choose() Selection {
	sel := choose(b.items, b.max)
	sel.DroppedPending = b.dropped
	return sel
}
