package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	danmaku "github.com/danmakud/danmakud"
)

// EndCursor is the seed's cursor for "no next page".
const EndCursor = "-1"

// Result is one page of a listing in the seed's shape.
type Result struct {
	Data   []*danmaku.Danmaku `json:"data"`
	Cursor string             `json:"cursor"`
}

// PageSize checks a requested page size: 0 means the default.
func (s *Service) PageSize(n int) (int, error) {
	switch {
	case n == 0:
		return s.cfg.PageSize, nil
	case n < 1 || n > s.cfg.MaxPageSize:
		return 0, danmaku.FieldError("size", "must be between 1 and %d", s.cfg.MaxPageSize)
	}
	return n, nil
}

// QueryByTime returns danmaku of a video whose playback time is at or after
// t, in playback order.
func (s *Service) QueryByTime(ctx context.Context, a danmaku.Actor, objectID string, t danmaku.Time, size int) (Result, error) {
	return s.QueryByTimeIn(ctx, a, objectID, Scope{}, t, size)
}

// QueryByTimeIn is QueryByTime within sc: with a session's scope, only
// that session's danmaku.
func (s *Service) QueryByTimeIn(ctx context.Context, a danmaku.Actor, objectID string, sc Scope, t danmaku.Time, size int) (Result, error) {
	return s.list(ctx, a, objectID, sc, danmaku.FirstAt(t), size)
}

// Pull continues a listing after cursor, the id of the last danmaku of the
// previous page. The end cursor "-1" yields an empty last page.
func (s *Service) Pull(ctx context.Context, a danmaku.Actor, objectID, cursor string, size int) (Result, error) {
	return s.PullIn(ctx, a, objectID, Scope{}, cursor, size)
}

// PullIn is Pull within sc: with a session's scope, only that session's
// danmaku. A page may then hold fewer than size danmaku (even none) and
// still have a next cursor, when it stopped after reading maxSessionScan
// danmaku of the video.
func (s *Service) PullIn(ctx context.Context, a danmaku.Actor, objectID string, sc Scope, cursor string, size int) (Result, error) {
	if cursor == EndCursor {
		return Result{Data: []*danmaku.Danmaku{}, Cursor: EndCursor}, nil
	}
	id, err := danmaku.ParseID(cursor)
	if err != nil {
		return Result{}, danmaku.FieldError("cursor", "must be a cursor from a previous page or \"-1\"")
	}
	return s.list(ctx, a, objectID, sc, id.Successor(), size)
}

func (s *Service) list(ctx context.Context, a danmaku.Actor, objectID string, sc Scope, start danmaku.ID, size int) (Result, error) {
	if err := danmaku.ValidateObjectID(objectID); err != nil {
		return Result{}, err
	}
	size, err := s.PageSize(size)
	if err != nil {
		return Result{}, err
	}
	if sc.session != "" {
		return s.listSession(ctx, a, objectID, sc, start, size)
	}
	began := time.Now()
	page, err := s.store.List(ctx, danmaku.Query{ObjectID: objectID, Start: start, Limit: size})
	s.observe("list", began, err)
	if err != nil {
		return Result{}, fmt.Errorf("list %s: %w", objectID, err)
	}
	return s.result(a, page), nil
}

// ByUser lists the danmaku userID sent, newest first, continuing before
// cursor when it is not empty.
func (s *Service) ByUser(ctx context.Context, a danmaku.Actor, userID, cursor string, size int) (Result, error) {
	if err := danmaku.ValidateUserID("userId", userID); err != nil {
		return Result{}, err
	}
	size, err := s.PageSize(size)
	if err != nil {
		return Result{}, err
	}
	q := danmaku.UserQuery{UserID: userID, Limit: size}
	switch cursor {
	case "":
	case EndCursor:
		return Result{Data: []*danmaku.Danmaku{}, Cursor: EndCursor}, nil
	default:
		if q.Before, err = danmaku.ParseID(cursor); err != nil {
			return Result{}, danmaku.FieldError("cursor", "must be a cursor from a previous page or \"-1\"")
		}
	}
	began := time.Now()
	page, err := s.store.ListByUser(ctx, q)
	s.observe("list_user", began, err)
	if err != nil {
		return Result{}, fmt.Errorf("list user: %w", err)
	}
	return s.result(a, page), nil
}

// result converts a store page to the seed's shape, each danmaku as a may
// see it (view): shadowed ones are hidden from everyone but their authors
// and the room's moderators.
func (s *Service) result(a danmaku.Actor, page danmaku.Page) Result {
	r := Result{Data: make([]*danmaku.Danmaku, 0, len(page.Items)), Cursor: EndCursor}
	for _, d := range page.Items {
		if v := view(a, d); v != nil {
			r.Data = append(r.Data, v)
		}
	}
	if page.More {
		r.Cursor = page.Next.String()
	}
	return r
}

// Delete removes one danmaku. Its author may delete it, and so may the
// room's moderators and admins; anyone else gets EFORBIDDEN.
func (s *Service) Delete(ctx context.Context, a danmaku.Actor, objectID string, id danmaku.ID) (*danmaku.Danmaku, error) {
	d, err := s.store.Get(ctx, objectID, id)
	if err != nil {
		return nil, err
	}
	if view(a, d) == nil {
		return nil, danmaku.ErrNotFound // Nor may a learn that it exists.
	}
	if !a.CanModerate(objectID) && (a.UserID == "" || a.UserID != d.UserID) {
		return nil, danmaku.Errorf(danmaku.EFORBIDDEN, "only the author or a moderator of this room may delete this danmaku")
	}
	began := time.Now()
	d, err = s.store.Delete(ctx, objectID, id)
	s.observe("delete", began, err)
	if errors.Is(err, danmaku.ErrNotFound) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("delete %s: %w", id, err)
	}
	if s.pub != nil && public(d) {
		// A shadowed danmaku was never pushed, so there is nothing to retract.
		s.pub.Delete(objectID, id)
	}
	s.feed.Record(Event{At: s.now().UnixMilli(), ObjectID: objectID, UserID: d.UserID, Outcome: OutcomeDeleted,
		Reason: "deleted by " + a.UserID, Danmaku: d})
	return view(a, d), nil
}
