package main

import (
	"context"
	"fmt"
	"time"

	danmaku "github.com/danmakud/danmakud"
	"github.com/danmakud/danmakud/live"
)

// restoreSettings loads the room settings, bans and word lists that the
// store keeps (danmaku.SettingsStore) and puts them in force on this node:
// in the guard and the live hub, and in a cluster also in Redis, which is
// their fast copy and may have been flushed or be new. It runs once the
// hub and the guard exist and before the node serves.
func (m *Main) restoreSettings(ctx context.Context) error {
	ss, ok := m.Store.(danmaku.SettingsStore)
	if !ok {
		return nil
	}
	all, err := ss.LoadSettings(ctx)
	if err != nil {
		return fmt.Errorf("load room settings, bans and words: %w", err)
	}
	if err := m.Guard.Restore(ctx, all, time.Now()); err != nil {
		// Only a shared part (Redis) can fail here: this node's copies
		// hold what could be applied, and the store keeps the rest.
		m.Log.Warn("could not put every stored ban, word, pause or slow mode in force", "err", err)
	}
	for _, r := range all.Rooms {
		if r.TickInterval != 0 || r.MaxPerTick != 0 {
			c := live.RoomConfig{TickInterval: r.TickInterval, MaxPerTick: r.MaxPerTick}
			if err := m.Hub.SetRoomConfig(r.ObjectID, c); err != nil {
				m.Log.Warn("could not restore a room's tick settings", "room", r.ObjectID, "err", err)
			}
		}
		if r.Live != nil {
			_, err := m.Hub.StartLive(r.ObjectID, r.Live.StartedAt)
			if err != nil && danmaku.ErrorCode(err) != danmaku.ECONFLICT {
				m.Log.Warn("could not restore a room's live session", "room", r.ObjectID, "err", err)
			}
		}
	}
	if n := len(all.Rooms) + len(all.Bans) + len(all.Words); n > 0 {
		m.Log.Info("restored room settings, bans and words from the store", "rooms", len(all.Rooms), "bans", len(all.Bans), "words", len(all.Words))
	}
	return nil
}
