package service

import (
	"context"
	"iter"

	danmaku "github.com/danmakud/danmakud"
)

// ReadAll returns an iterator over every danmaku of objectID that a may
// see, in playback order: the read behind the exports, the DPlayer API and
// anything else that needs a whole video. It applies the rule the listings
// apply (visible), reads the store a page at a time, and ends with a nil
// danmaku and the error when objectID is invalid or a read fails. Pass the
// zero Actor for a public read, such as an export.
func (s *Service) ReadAll(ctx context.Context, a danmaku.Actor, objectID string) iter.Seq2[*danmaku.Danmaku, error] {
	return s.readAll(ctx, objectID, func(d *danmaku.Danmaku) bool { return visible(a, d) })
}

// readAll yields the danmaku of objectID for which keep reports true. It is
// the one place where the service pages through a whole video.
func (s *Service) readAll(ctx context.Context, objectID string, keep func(*danmaku.Danmaku) bool) iter.Seq2[*danmaku.Danmaku, error] {
	return func(yield func(*danmaku.Danmaku, error) bool) {
		if err := danmaku.ValidateObjectID(objectID); err != nil {
			yield(nil, err)
			return
		}
		for d, err := range danmaku.All(ctx, s.store, danmaku.Query{ObjectID: objectID}) {
			if err != nil {
				yield(nil, err)
				return
			}
			if keep(d) && !yield(d, nil) {
				return
			}
		}
	}
}

// visible is the rule of who may see a danmaku, which every read of the
// service (listings, ReadAll) applies: shadowed danmaku are shown only to
// their authors and to the room's moderators.
func visible(a danmaku.Actor, d *danmaku.Danmaku) bool {
	return !d.Shadow || (a.UserID != "" && a.UserID == d.UserID) || a.CanModerate(d.ObjectID)
}
