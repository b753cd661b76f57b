package live

import (
	"slices"

	danmaku "github.com/danmakud/danmakud"
	"github.com/danmakud/danmakud/moderation"
)

// pendingItem is one accepted danmaku waiting for its tick.
type pendingItem struct {
	d        *danmaku.Danmaku
	priority bool
}

// Selection is one tick's choice made by TickBuffer.Choose: the items to
// broadcast, and how many danmaku were folded or left out, the figures a
// hub counts in Stats.Folded, Stats.DroppedByCap and Stats.DroppedPending.
type Selection struct {
	Items          []*danmaku.Danmaku // In ID order; folded items carry Count.
	Folded         int                // Danmaku folded into another item.
	DroppedByCap   int                // Items (after folding) left out by the cap.
	DroppedPending int                // Danmaku over the pending bounds of the tick.
}

// group is a run of identical texts folded into one item.
type group struct {
	first *danmaku.Danmaku
	count int
}

// choose selects at most max items from one tick's pending danmaku, which
// arrive in acceptance order. The algorithm, documented in
// docs/protocol.md, is:
//
//  1. Priority danmaku (room owner, moderators) are kept as they are and
//     never folded.
//  2. The other danmaku are folded by text in canonical form
//     (moderation.FoldKey, so "666", "６６６" and "666!" fold together): the
//     first one of each text stands for all of them and carries their
//     number in Count.
//  3. Priority items are taken first (the earliest ones if they alone exceed
//     max); the remaining places go round-robin over users, in the order of
//     each user's first item, each user giving their next group per round,
//     so that no single user fills a tick.
//  4. The chosen items are returned in ID order.
func choose(pending []pendingItem, max int) Selection {
	var sel Selection
	var prio []*danmaku.Danmaku
	byText := make(map[string]*group)
	var groups []*group
	for _, p := range pending {
		if p.priority {
			prio = append(prio, p.d)
			continue
		}
		key := moderation.FoldKey(p.d.Content.Text)
		if g, ok := byText[key]; ok {
			g.count++
			sel.Folded++
			continue
		}
		g := &group{first: p.d, count: 1}
		byText[key] = g
		groups = append(groups, g)
	}

	chosen := make([]*danmaku.Danmaku, 0, min(max, len(prio)+len(groups)))
	if len(prio) > max {
		sel.DroppedByCap += len(prio) - max
		prio = prio[:max]
	}
	chosen = append(chosen, prio...)
	room := max - len(chosen)
	if room >= len(groups) {
		for _, g := range groups {
			chosen = append(chosen, folded(g))
		}
	} else {
		sel.DroppedByCap += len(groups) - room
		chosen = append(chosen, roundRobin(groups, room)...)
	}
	slices.SortFunc(chosen, func(a, b *danmaku.Danmaku) int { return a.ID.Compare(b.ID) })
	sel.Items = chosen
	return sel
}

// roundRobin takes n groups, one per user per round, users in the order of
// their first group.
func roundRobin(groups []*group, n int) []*danmaku.Danmaku {
	var users []string
	queues := make(map[string][]*group)
	for _, g := range groups {
		u := g.first.UserID
		if _, ok := queues[u]; !ok {
			users = append(users, u)
		}
		queues[u] = append(queues[u], g)
	}
	out := make([]*danmaku.Danmaku, 0, n)
	for len(out) < n {
		for _, u := range users {
			q := queues[u]
			if len(q) == 0 {
				continue
			}
			out = append(out, folded(q[0]))
			queues[u] = q[1:]
			if len(out) == n {
				break
			}
		}
	}
	return out
}

// folded returns the item that stands for g: the first danmaku itself, or a
// copy carrying the count when several were folded.
func folded(g *group) *danmaku.Danmaku {
	if g.count <= 1 {
		return g.first
	}
	c := *g.first
	c.Count = g.count
	return &c
}
