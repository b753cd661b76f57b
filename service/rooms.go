package service

import (
	"context"
	"fmt"

	danmaku "github.com/danmakud/danmakud"
)

// Rooms is the one way room settings are put in force: an admin change
// (Set) is validated, stored in one durable write and then applied whole
// to every part that keeps a copy (the danmaku.RoomApplier values: the
// live hub and the moderation guard), and stored settings loaded at start
// or after a cluster's Redis lost them (Apply) reach the same parts the
// same way. So a room's setting is never stored but not applied, nor
// applied field by field. Rooms is safe for concurrent use.
type Rooms struct {
	store    danmaku.SettingsStore
	appliers []danmaku.RoomApplier
}

// NewRooms returns a Rooms that stores settings in store (nil keeps them
// in the appliers only) and applies them to appliers, in order.
func NewRooms(store danmaku.SettingsStore, appliers ...danmaku.RoomApplier) *Rooms {
	return &Rooms{store: store, appliers: appliers}
}

// Set validates s, stores it as the whole settings of s.ObjectID (one
// write) and applies it. An invalid s is an EINVALID *danmaku.Error and
// changes nothing; a failed write applies nothing. When an applier fails
// after the write (a cluster's Redis is unreachable), Set returns its
// error: the stored settings are put in force again at the next start or
// when the cluster's Redis is refilled.
func (r *Rooms) Set(ctx context.Context, s danmaku.RoomSettings) error {
	if err := s.Validate(); err != nil {
		return err
	}
	if r.store != nil {
		if err := r.store.PutRoom(ctx, s); err != nil {
			return fmt.Errorf("store the settings of room %s: %w", s.ObjectID, err)
		}
	}
	return r.Apply(ctx, s)
}

// Apply puts s, settings already stored, in force in every applier
// without writing them. It tries every applier and returns the first
// error.
func (r *Rooms) Apply(ctx context.Context, s danmaku.RoomSettings) error {
	if err := s.Validate(); err != nil {
		return fmt.Errorf("settings of room %q: %w", s.ObjectID, err)
	}
	var first error
	for _, a := range r.appliers {
		if err := a.ApplyRoom(ctx, s); err != nil && first == nil {
			first = fmt.Errorf("apply the settings of room %s: %w", s.ObjectID, err)
		}
	}
	return first
}
