package moderation

import (
	"context"
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
	Pauses  RoomPauses
	BanMode BanMode
	Now     func() time.Time
	// Addrs groups addresses for bans that follow an anonymous id and for
	// the limits of cookie-less senders.
	Addrs AddrGroups

	seen lastSeen // The address group of recent anonymous senders.
}

// NewGuard returns a Guard over the given parts, with an in-memory
// PauseList (set Guard.Pauses to share pauses between nodes); now may be
// nil.
func NewGuard(words WordList, limits RateLimiter, bans Bans, mode BanMode, now func() time.Time) *Guard {
	if now == nil {
		now = time.Now
	}
	return &Guard{Words: words, Limits: limits, Bans: bans, Pauses: NewPauseList(), BanMode: mode, Now: now}
}

// SetRoomPaused pauses or resumes sending in room and returns the error of
// a shared RoomPauses that could not record it (EUNAVAILABLE). Room
// settings that are stored go through ApplyRoom instead.
func (g *Guard) SetRoomPaused(ctx context.Context, room string, paused bool) error {
	return g.Pauses.SetPaused(ctx, room, paused)
}

// SlowModeSetter is implemented by a shared RateLimiter whose slow-mode
// change can fail (EUNAVAILABLE); Guard.SetRoomSlowMode uses it when the
// limiter has it.
type SlowModeSetter interface {
	SetSlowModeContext(ctx context.Context, room string, every time.Duration) error
}

// SetRoomSlowMode sets the slow mode of room (zero or negative turns it
// off) and returns the error of a shared limiter that could not record it.
func (g *Guard) SetRoomSlowMode(ctx context.Context, room string, every time.Duration) error {
	if s, ok := g.Limits.(SlowModeSetter); ok {
		return s.SetSlowModeContext(ctx, room, every)
	}
	g.Limits.SetSlowMode(room, every)
	return nil
}

var _ danmaku.RoomApplier = (*Guard)(nil)

// ApplyRoom implements danmaku.RoomApplier: it puts both the pause and the
// slow mode of s in force, trying each, and returns the first error of a
// shared part (EUNAVAILABLE).
func (g *Guard) ApplyRoom(ctx context.Context, s danmaku.RoomSettings) error {
	err := g.SetRoomPaused(ctx, s.ObjectID, s.Paused)
	if err2 := g.SetRoomSlowMode(ctx, s.ObjectID, s.SlowMode); err == nil {
		err = err2
	}
	return err
}

// Paused reports whether sending in room is paused.
func (g *Guard) Paused(room string) bool { return g.Pauses.Paused(room) }

// Check decides on d before it is stored.
func (g *Guard) Check(_ context.Context, a danmaku.Actor, d *danmaku.Danmaku) (danmaku.Verdict, error) {
	v := danmaku.Verdict{Text: d.Content.Text}
	privileged := a.CanModerate(d.ObjectID)
	if !privileged {
		if g.Paused(d.ObjectID) {
			return v, danmaku.Errorf(danmaku.EFORBIDDEN, "danmaku are paused in this room")
		}
		now := g.Now()
		b, banned := g.Bans.Check(d.UserID, d.ObjectID, now)
		if !banned {
			b, banned = g.checkAddr(a, d.ObjectID, now)
		}
		if banned {
			if g.BanMode == BanReject {
				return v, b.Error(now)
			}
			v.Shadow, v.Reason = true, "author is banned: "+b.Reason
		}
		limitID := d.UserID
		if group := g.Addrs.Group(a.IP); group != "" && a.Anonymous {
			g.seen.note(d.UserID, group)
			if a.Fresh {
				// No cookie came: limit the address as tightly as an id.
				limitID = addrSubject(group)
			}
		}
		if err := g.Limits.Allow(Attempt{UserID: limitID, IP: a.IP, Room: d.ObjectID, Text: d.Content.Text}); err != nil {
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
