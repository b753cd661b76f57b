package moderation

import (
	"context"
	"sync"
	"time"

	danmaku "github.com/danmakud/danmakud"
)

var _ danmaku.Moderator = (*Guard)(nil)

// Guard is the danmaku.Moderator that the send pipeline calls: it applies,
// in order, room pauses, bans, rate limits and the word lists. Moderators
// of a room and admins skip pauses, limits and bans in that room; the word
// lists apply to everyone.
type Guard struct {
	Words   WordList
	Limits  RateLimiter
	Bans    Bans
	BanMode BanMode
	Now     func() time.Time

	mu     sync.RWMutex
	paused map[string]bool
}

// NewGuard returns a Guard over the given parts; now may be nil.
func NewGuard(words WordList, limits RateLimiter, bans Bans, mode BanMode, now func() time.Time) *Guard {
	if now == nil {
		now = time.Now
	}
	return &Guard{Words: words, Limits: limits, Bans: bans, BanMode: mode, Now: now, paused: map[string]bool{}}
}

// SetPaused pauses or resumes sending in room.
func (g *Guard) SetPaused(room string, paused bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if paused {
		g.paused[room] = true
	} else {
		delete(g.paused, room)
	}
}

// Paused reports whether sending in room is paused.
func (g *Guard) Paused(room string) bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.paused[room]
}

// Check decides on d before it is stored.
func (g *Guard) Check(_ context.Context, a danmaku.Actor, d *danmaku.Danmaku) (danmaku.Verdict, error) {
	v := danmaku.Verdict{Text: d.Content.Text}
	privileged := a.CanModerate(d.ObjectID)
	if !privileged {
		if g.Paused(d.ObjectID) {
			return v, danmaku.Errorf(danmaku.EFORBIDDEN, "danmaku are paused in this room")
		}
		if b, banned := g.Bans.Check(d.UserID, d.ObjectID, g.Now()); banned {
			if g.BanMode == BanReject {
				return v, b.Error(g.Now())
			}
			v.Shadow, v.Reason = true, "author is banned: "+b.Reason
		}
		if err := g.Limits.Allow(Attempt{UserID: d.UserID, IP: a.IP, Room: d.ObjectID, Text: d.Content.Text}); err != nil {
			return v, err
		}
	}
	w := g.Words.Check(d.ObjectID, d.Content.Text)
	switch w.Action {
	case Reject:
		return v, w.Err()
	case Shadow:
		v.Shadow = true
		if v.Reason == "" {
			v.Reason = "a " + w.Scope.String() + " shadow word matched"
		}
	case Mask:
		if v.Reason == "" {
			v.Reason = "a " + w.Scope.String() + " word was masked"
		}
	}
	v.Text = w.Text
	return v, nil
}
