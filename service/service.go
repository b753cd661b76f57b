// Package service is the send-and-read pipeline shared by every transport
// (HTTP, WebSocket, DPlayer): it validates who may do what, gives each
// danmaku its id and playback time, stores it durably and hands it to the
// fan-out.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	danmaku "github.com/danmakud/danmakud"
)

// LiveClock tells whether a room has a live session running and, if so, the
// playback time of a danmaku accepted now: its offset from the session's
// start. The live package implements it.
type LiveClock interface {
	LiveOffset(objectID string, now time.Time) (danmaku.Time, bool)
}

// Config holds the service's settings.
type Config struct {
	Limits danmaku.Limits
	// PageSize is the default page size of listings (20, as in the seed).
	PageSize int
	// MaxPageSize is the largest page a client may ask for (default 100).
	MaxPageSize int
}

// Service implements the send pipeline and the listings. Create it with New.
type Service struct {
	cfg   Config
	store danmaku.Store
	ids   *danmaku.IDGen
	pub   danmaku.Publisher
	live  LiveClock
	mod   danmaku.Moderator
	now   func() time.Time
	log   *slog.Logger
	obs   func(op string, d time.Duration, err error)
	heat  heatmapCache
	feed  Feed
	stats counters
}

// Options are the optional parts of a Service.
type Options struct {
	Publisher danmaku.Publisher // Fan-out; nil stores without pushing.
	Live      LiveClock         // Live sessions; nil means none.
	Moderator danmaku.Moderator // Word filter, bans and limits; nil allows all.
	IDs       *danmaku.IDGen    // Nil makes one with a random node number.
	Now       func() time.Time  // Nil means time.Now.
	Log       *slog.Logger      // Nil discards.
	// ObserveStore, when set, is told the duration and result of every
	// store call (for metrics).
	ObserveStore func(op string, d time.Duration, err error)
}

// New returns a Service over store.
func New(cfg Config, store danmaku.Store, opt Options) *Service {
	if cfg.Limits.MaxTextRunes <= 0 {
		cfg.Limits = danmaku.DefaultLimits()
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = 20
	}
	if cfg.MaxPageSize <= 0 {
		cfg.MaxPageSize = 100
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.IDs == nil {
		opt.IDs = danmaku.NewIDGen(opt.Now)
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	return &Service{
		cfg: cfg, store: store, ids: opt.IDs, pub: opt.Publisher, live: opt.Live,
		mod: opt.Moderator, now: opt.Now, log: opt.Log, obs: opt.ObserveStore,
	}
}

// Feed returns the moderators' feed of sends and deletions.
func (s *Service) Feed() *Feed { return &s.feed }

// Limits returns the content limits in force.
func (s *Service) Limits() danmaku.Limits { return s.cfg.Limits }

// maxIDRetries bounds how often Send draws a new id after a store conflict
// (possible only when two nodes share a node number and a millisecond).
const maxIDRetries = 3

// Send accepts one danmaku from a: it decides the sender and the playback
// time, applies moderation, stores the danmaku durably and publishes it.
// The returned danmaku is what was stored; it is shadowed when moderation
// chose to show it to its author only.
func (s *Service) Send(ctx context.Context, a danmaku.Actor, req danmaku.SendRequest) (*danmaku.Danmaku, error) {
	userID, err := s.sender(a, req)
	if err != nil {
		return nil, err
	}
	now := s.now()
	d := &danmaku.Danmaku{
		ObjectID:  req.ObjectID,
		UserID:    userID,
		OwnerID:   req.OwnerID,
		Content:   req.Content,
		CreatedAt: now.UnixMilli(),
	}
	if s.live != nil {
		if off, ok := s.live.LiveOffset(req.ObjectID, now); ok {
			d.Content.Time = off
		}
	}
	outcome, reason := OutcomeAccepted, ""
	if s.mod != nil {
		v, err := s.mod.Check(ctx, a, d)
		if err != nil {
			s.stats.count(danmaku.ErrorCode(err))
			s.feed.Record(Event{At: d.CreatedAt, ObjectID: d.ObjectID, UserID: d.UserID, Outcome: OutcomeRejected,
				Reason: danmaku.ErrorMessage(err), Code: danmaku.ErrorCode(err), Text: d.Content.Text})
			return nil, err
		}
		switch {
		case v.Shadow:
			outcome = OutcomeShadowed
		case v.Text != d.Content.Text:
			outcome = OutcomeMasked
		}
		reason = v.Reason
		d.Content.Text = v.Text
		d.Shadow = v.Shadow
	}
	for attempt := 0; ; attempt++ {
		d.ID = s.ids.Next(d.Content.Time)
		start := time.Now()
		err = s.store.Put(ctx, d)
		s.observe("put", start, err)
		if !errors.Is(err, danmaku.ErrConflict) || attempt == maxIDRetries {
			break
		}
		s.log.Warn("id conflict, drawing a new id", "objectId", d.ObjectID, "id", d.ID.String())
	}
	if err != nil {
		s.stats.count(danmaku.ErrorCode(err))
		return nil, fmt.Errorf("store danmaku: %w", err)
	}
	s.stats.count(outcome)
	s.feed.Record(Event{At: d.CreatedAt, ObjectID: d.ObjectID, UserID: d.UserID, Outcome: outcome, Reason: reason, Danmaku: d})
	if s.pub != nil && !d.Shadow {
		// The body's ownerId is the client's word, so it earns nothing: a
		// room's owner gets priority through a moderator token for the room.
		if err := s.pub.Publish(ctx, d, a.CanModerate(d.ObjectID)); err != nil {
			// The danmaku is stored; viewers will find it in the history.
			s.log.Error("publish danmaku", "objectId", d.ObjectID, "id", d.ID.String(), "err", err)
		}
	}
	return d, nil
}

// observe reports a store call that began at start.
func (s *Service) observe(op string, start time.Time, err error) {
	if s.obs != nil {
		s.obs(op, time.Since(start), err)
	}
}

// Ready checks that the store answers, for /readyz.
func (s *Service) Ready(ctx context.Context) error {
	start := time.Now()
	_, err := s.store.List(ctx, danmaku.Query{ObjectID: "danmakud-readyz", Limit: 1})
	s.observe("list", start, err)
	return err
}

// sender decides whose danmaku this is: the authenticated user, or the
// body's userId for an unauthenticated caller (the seed's behaviour, allowed
// only when authentication is not configured). A body userId that differs
// from the authenticated one is refused rather than silently replaced.
func (s *Service) sender(a danmaku.Actor, req danmaku.SendRequest) (string, error) {
	switch {
	case a.UserID != "" && !a.Anonymous && req.UserID != "" && req.UserID != a.UserID:
		return "", danmaku.FieldError("userId", "does not match the authenticated user")
	case a.UserID != "":
		return a.UserID, nil
	case req.UserID != "":
		return req.UserID, nil
	}
	return "", &danmaku.Error{Code: danmaku.EUNAUTHORIZED, Message: "sign in or give a userId to send danmaku"}
}
