// Package service is the send-and-read pipeline shared by every transport
// (HTTP, WebSocket, DPlayer): it validates who may do what, gives each
// danmaku its id and playback time, stores it durably and hands it to the
// fan-out. Reads go through it too, so that the rule of who may see what
// (view, in readall.go) lives in one place: the listings, the heatmap, the
// answers to a send and a delete, and ReadAll, the read of a whole video
// behind the exports and the DPlayer API.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	danmaku "github.com/danmakud/danmakud"
)

// LiveClock tells whether a room has a live session running and, if so, its
// id and the playback time of a danmaku accepted now: its offset from the
// session's start. The live package implements it.
type LiveClock interface {
	LiveStamp(objectID string, now time.Time) (session string, off danmaku.Time, ok bool)
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
	pub   danmaku.Broker
	live  LiveClock
	mod   danmaku.Moderator
	now   func() time.Time
	log   *slog.Logger
	obs   func(op string, d time.Duration, err error)
	heat  heatmapCache
	feed  Feed
	stats counters

	// sessions keeps the live sessions; nil when the store keeps none.
	sessions danmaku.SessionStore
}

// Options are the optional parts of a Service.
type Options struct {
	Broker    danmaku.Broker    // Fan-out; nil stores without pushing.
	Live      LiveClock         // Live sessions; nil means none.
	Moderator danmaku.Moderator // Word filter, bans and limits; nil allows all.
	IDs       *danmaku.IDGen    // Nil makes one with a random node number.
	Now       func() time.Time  // Nil means time.Now.
	Log       *slog.Logger      // Nil discards.
	// ObserveStore, when set, is told the duration and result of every
	// store call (for metrics).
	ObserveStore func(op string, d time.Duration, err error)
}

// New returns a Service over store. When store is a danmaku.SessionStore,
// the service lists the live sessions it keeps and reads them (Sessions,
// SessionScope).
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
	sessions, _ := store.(danmaku.SessionStore)
	return &Service{
		cfg: cfg, store: store, sessions: sessions, ids: opt.IDs, pub: opt.Broker, live: opt.Live,
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
// The returned danmaku is what was stored as its sender sees it: when
// moderation shadowed it (shown to its author and moderators only), the
// answer is that of a normal accept all the same, without the shadow mark,
// unless the sender moderates the room.
func (s *Service) Send(ctx context.Context, a danmaku.Actor, req danmaku.SendRequest) (*danmaku.Danmaku, error) {
	d, _, err := s.SendOnce(ctx, a, req, "")
	return d, err
}

// SendOnce is Send for a request that may carry an idempotency key, chosen
// by the client and scoped to the sender. The first request with a key
// stores its danmaku; a retry with the same key (after a timeout or a 503,
// when the client cannot know whether the first was stored) stores nothing
// new and returns the danmaku stored for the key, with replayed true. A
// replayed danmaku is not pushed to live viewers again. An empty key, or a
// store without danmaku.Idempotency, makes it Send.
func (s *Service) SendOnce(ctx context.Context, a danmaku.Actor, req danmaku.SendRequest, key string) (*danmaku.Danmaku, bool, error) {
	d, replayed, err := s.sendOnce(ctx, a, req, key)
	if err != nil || a.CanModerate(d.ObjectID) {
		return d, replayed, err
	}
	// The sender is the author, whether a names it or the body did.
	return authorView(d), replayed, nil
}

func (s *Service) sendOnce(ctx context.Context, a danmaku.Actor, req danmaku.SendRequest, key string) (*danmaku.Danmaku, bool, error) {
	d, err := s.prepare(a, req)
	if err != nil {
		return nil, false, err
	}
	idem, ok := s.store.(danmaku.Idempotency)
	if key == "" || !ok {
		return s.accept(ctx, a, d, nil)
	}
	scope := d.UserID + "\x00" + key // User ids hold no control characters.
	ref, err := idem.LookupKey(ctx, scope)
	switch {
	case err == nil:
		return s.resume(ctx, a, d, ref)
	case !errors.Is(err, danmaku.ErrNotFound):
		return nil, false, s.storeFailed(fmt.Errorf("look up idempotency key: %w", err))
	}
	return s.accept(ctx, a, d, func(id danmaku.ID) (danmaku.Ref, bool, error) {
		return idem.ReserveKey(ctx, scope, danmaku.Ref{ObjectID: d.ObjectID, ID: id})
	})
}

// prepare makes the danmaku of a send: its sender, acceptance time and, in
// a live session, the session's id and its playback time.
func (s *Service) prepare(a danmaku.Actor, req danmaku.SendRequest) (*danmaku.Danmaku, error) {
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
		if id, off, ok := s.live.LiveStamp(req.ObjectID, now); ok {
			d.Session, d.Content.Time = id, off
		}
	}
	return d, nil
}

// accept moderates d, gives it an id, stores it and publishes it. With
// reserve set, the id is first reserved for the request's idempotency key,
// and a key that another request reserved first ends in that request's
// danmaku.
func (s *Service) accept(ctx context.Context, a danmaku.Actor, d *danmaku.Danmaku,
	reserve func(danmaku.ID) (danmaku.Ref, bool, error)) (*danmaku.Danmaku, bool, error) {
	outcome, reason, err := s.moderate(ctx, a, d)
	if err != nil {
		return nil, false, err
	}
	if reserve != nil {
		id := s.ids.Next(d.Content.Time)
		ref, found, err := reserve(id)
		if err != nil {
			return nil, false, s.storeFailed(fmt.Errorf("reserve idempotency key: %w", err))
		}
		if found {
			// A request with the same key got there first.
			stored, err := s.keyed(ctx, d, ref)
			if errors.Is(err, danmaku.ErrNotFound) {
				return nil, false, danmaku.ErrKeyBusy
			}
			if err != nil {
				return nil, false, err
			}
			return stored, true, nil
		}
		d.ID = id
		if err := s.put(ctx, d); err != nil {
			return nil, false, s.storeFailed(err)
		}
		s.accepted(ctx, a, d, outcome, reason)
		return d, false, nil
	}
	for attempt := 0; ; attempt++ {
		d.ID = s.ids.Next(d.Content.Time)
		err = s.put(ctx, d)
		if !errors.Is(err, danmaku.ErrConflict) || attempt == maxIDRetries {
			break
		}
		s.log.Warn("id conflict, drawing a new id", "objectId", d.ObjectID, "id", d.ID.String())
	}
	if err != nil {
		return nil, false, s.storeFailed(err)
	}
	s.accepted(ctx, a, d, outcome, reason)
	return d, false, nil
}

// resume handles a send whose idempotency key already names ref: it
// returns that danmaku if it is stored, and otherwise (the first request
// reserved the key but failed before storing) stores d under ref's id and
// playback time.
func (s *Service) resume(ctx context.Context, a danmaku.Actor, d *danmaku.Danmaku, ref danmaku.Ref) (*danmaku.Danmaku, bool, error) {
	stored, err := s.keyed(ctx, d, ref)
	if err == nil {
		return stored, true, nil
	}
	if !errors.Is(err, danmaku.ErrNotFound) {
		return nil, false, err
	}
	outcome, reason, err := s.moderate(ctx, a, d)
	if err != nil {
		return nil, false, err
	}
	d.ID, d.Content.Time = ref.ID, danmaku.Time(ref.ID.PlayMs)
	err = s.put(ctx, d)
	if errors.Is(err, danmaku.ErrConflict) {
		// A retry running alongside stored it first.
		if stored, err := s.store.Get(ctx, ref.ObjectID, ref.ID); err == nil {
			return stored, true, nil
		}
	}
	if err != nil {
		return nil, false, s.storeFailed(err)
	}
	s.accepted(ctx, a, d, outcome, reason)
	return d, false, nil
}

// keyed returns the danmaku ref that an idempotency key names, for the
// send d with the same key: ErrNotFound if it is not stored (yet), and a
// conflict if the key was used on another video.
func (s *Service) keyed(ctx context.Context, d *danmaku.Danmaku, ref danmaku.Ref) (*danmaku.Danmaku, error) {
	if ref.ObjectID != d.ObjectID {
		return nil, &danmaku.Error{Code: danmaku.ECONFLICT, Field: "Idempotency-Key",
			Message: "was already used for a danmaku on another video; use a new key for a new danmaku"}
	}
	stored, err := s.store.Get(ctx, ref.ObjectID, ref.ID)
	if err != nil && !errors.Is(err, danmaku.ErrNotFound) {
		return nil, s.storeFailed(fmt.Errorf("read the danmaku of an idempotency key: %w", err))
	}
	return stored, err
}

// moderate applies the moderator to d: it may change the text or shadow
// d, and a refusal is counted and recorded in the feed.
func (s *Service) moderate(ctx context.Context, a danmaku.Actor, d *danmaku.Danmaku) (outcome, reason string, err error) {
	if s.mod == nil {
		return OutcomeAccepted, "", nil
	}
	v, err := s.mod.Check(ctx, a, d)
	if err != nil {
		s.stats.count(danmaku.ErrorCode(err))
		s.feed.Record(Event{At: d.CreatedAt, ObjectID: d.ObjectID, UserID: d.UserID, Outcome: OutcomeRejected,
			Reason: danmaku.ErrorMessage(err), Code: danmaku.ErrorCode(err), Text: d.Content.Text})
		return "", "", err
	}
	outcome = OutcomeAccepted
	switch {
	case v.Shadow:
		outcome = OutcomeShadowed
	case v.Text != d.Content.Text:
		outcome = OutcomeMasked
	}
	d.Content.Text = v.Text
	d.Shadow = v.Shadow
	return outcome, v.Reason, nil
}

// put stores d, timing the call.
func (s *Service) put(ctx context.Context, d *danmaku.Danmaku) error {
	start := time.Now()
	err := s.store.Put(ctx, d)
	s.observe("put", start, err)
	return err
}

// storeFailed counts a send that the store could not take and wraps err.
func (s *Service) storeFailed(err error) error {
	s.stats.count(danmaku.ErrorCode(err))
	return fmt.Errorf("store danmaku: %w", err)
}

// accepted counts and records a stored danmaku and publishes it.
func (s *Service) accepted(ctx context.Context, a danmaku.Actor, d *danmaku.Danmaku, outcome, reason string) {
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
