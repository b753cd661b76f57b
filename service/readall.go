package service

import (
	"context"
	"iter"

	danmaku "github.com/danmakud/danmakud"
)

// ReadAll returns an iterator over every danmaku of objectID that a may
// see, as a may see it (view), in playback order: the read behind the
// exports, the DPlayer API and anything else that needs a whole video. It
// reads the store a page at a time, and ends with a nil danmaku and the
// error when objectID is invalid or a read fails. Pass the zero Actor for a
// public read, such as an export.
func (s *Service) ReadAll(ctx context.Context, a danmaku.Actor, objectID string) iter.Seq2[*danmaku.Danmaku, error] {
	return s.ReadAllIn(ctx, a, objectID, Scope{})
}

// ReadAllIn is ReadAll within sc: with a session's scope (SessionScope),
// only that session's danmaku, as a replay of its recording shows them.
func (s *Service) ReadAllIn(ctx context.Context, a danmaku.Actor, objectID string, sc Scope) iter.Seq2[*danmaku.Danmaku, error] {
	return func(yield func(*danmaku.Danmaku, error) bool) {
		if err := danmaku.ValidateObjectID(objectID); err != nil {
			yield(nil, err)
			return
		}
		for d, err := range s.scoped(ctx, a, objectID, sc, danmaku.ID{}, 0, nil) {
			if !yield(d, err) || err != nil {
				return
			}
		}
	}
}

// view is the one read rule of the service, "may a see d, and as what":
// every read (listings, ReadAll and so the exports and the DPlayer API,
// the heatmap, the answer to a send or a delete) goes through it. It
// returns nil when a may not see d. A shadowed danmaku is seen by the
// room's moderators as it is, marked shadowed; by its author as an
// ordinary danmaku, without the mark, so that a shadow never announces
// itself; and by nobody else.
func view(a danmaku.Actor, d *danmaku.Danmaku) *danmaku.Danmaku {
	switch {
	case !d.Shadow || a.CanModerate(d.ObjectID):
		return d
	case a.UserID != "" && a.UserID == d.UserID:
		return authorView(d)
	}
	return nil
}

// authorView returns d as its author sees it: a copy without the shadow
// mark when d is shadowed, d itself otherwise.
func authorView(d *danmaku.Danmaku) *danmaku.Danmaku {
	if !d.Shadow {
		return d
	}
	c := *d
	c.Shadow = false
	return &c
}

// public reports whether a danmaku counts for everyone, as in the heatmap
// and the live batches: whether the zero Actor may see it.
func public(d *danmaku.Danmaku) bool { return view(danmaku.Actor{}, d) != nil }
