package service

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	danmaku "github.com/danmakud/danmakud"
)

// BrowseScan bounds how many stored danmaku one Browse call reads. A
// filter that matches little may so return fewer than the page size, or
// none, with a cursor to continue from.
const BrowseScan = 5000

// maxBrowseText is the longest text a browse may search for.
const maxBrowseText = 100

// BrowseQuery selects a page of a room's stored danmaku for moderators.
type BrowseQuery struct {
	From   danmaku.Time // Playback time to start at; ignored with a cursor.
	UserID string       // Only this sender's danmaku, when not empty.
	Text   string       // Only danmaku whose text holds this, ignoring case, when not empty.
	Cursor string       // Continue after this id (a previous page's cursor).
	Size   int          // Page size; 0 means the default.
}

// Browse lists objectID's stored danmaku in playback order for the room's
// moderators, shadowed ones included, filtered by sender and text. It
// reads at most BrowseScan danmaku; the cursor is "-1" when the room has
// no more, and otherwise the id to continue after.
func (s *Service) Browse(ctx context.Context, a danmaku.Actor, objectID string, q BrowseQuery) (Result, error) {
	if err := danmaku.ValidateObjectID(objectID); err != nil {
		return Result{}, err
	}
	if !a.CanModerate(objectID) {
		return Result{}, danmaku.Errorf(danmaku.EFORBIDDEN, "this needs the admin role or a moderator of the room")
	}
	size, err := s.PageSize(q.Size)
	if err != nil {
		return Result{}, err
	}
	if q.UserID != "" {
		if err := danmaku.ValidateUserID("user", q.UserID); err != nil {
			return Result{}, err
		}
	}
	if !utf8.ValidString(q.Text) || utf8.RuneCountInString(q.Text) > maxBrowseText {
		return Result{}, danmaku.FieldError("q", "must be at most %d characters of text", maxBrowseText)
	}
	text := strings.ToLower(q.Text)
	start := danmaku.FirstAt(q.From)
	switch q.Cursor {
	case "":
	case EndCursor:
		return Result{Data: []*danmaku.Danmaku{}, Cursor: EndCursor}, nil
	default:
		id, err := danmaku.ParseID(q.Cursor)
		if err != nil {
			return Result{}, danmaku.FieldError("cursor", "must be a cursor from a previous page or \"-1\"")
		}
		start = id.Successor()
	}
	r := Result{Data: make([]*danmaku.Danmaku, 0, size), Cursor: EndCursor}
	for scanned := 0; scanned < BrowseScan; {
		began := time.Now()
		page, err := s.store.List(ctx, danmaku.Query{ObjectID: objectID, Start: start, Limit: min(danmaku.MaxPageSize, BrowseScan-scanned)})
		s.observe("list", began, err)
		if err != nil {
			return Result{}, fmt.Errorf("browse %s: %w", objectID, err)
		}
		for i, d := range page.Items {
			scanned++
			if (q.UserID == "" || d.UserID == q.UserID) && (text == "" || strings.Contains(strings.ToLower(d.Content.Text), text)) {
				r.Data = append(r.Data, d)
			}
			more := page.More || i < len(page.Items)-1
			if (len(r.Data) == size || scanned == BrowseScan) && more {
				r.Cursor = d.ID.String()
				return r, nil
			}
		}
		if !page.More || len(page.Items) == 0 {
			return r, nil
		}
		start = page.Next.Successor()
	}
	return r, nil
}
