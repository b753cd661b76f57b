package main

import (
	"context"
	"fmt"
	"time"

	danmaku "github.com/danmakud/danmakud"
)

// settingsLoadedKey is the Redis key that says the cluster's Redis holds
// the stored settings: a node sets it after putting them in force, and a
// Redis that restarted empty or was flushed lacks it.
const settingsLoadedKey = "danmakud:settings:loaded"

// redisCheckInterval is how often a cluster node checks settingsLoadedKey.
const redisCheckInterval = 2 * time.Second

// restoreSettings loads the room settings, bans and word lists that the
// store keeps (danmaku.SettingsStore) and puts them in force on this node:
// bans and words in the guard, each room's settings through m.Rooms (the
// guard and the live hub), and in a cluster also in Redis, which is their
// fast copy and may have been flushed or be new. It runs once the hub and
// the guard exist and before the node serves.
func (m *Main) restoreSettings(ctx context.Context) error {
	ss, ok := m.Store.(danmaku.SettingsStore)
	if !ok {
		return nil
	}
	all, err := ss.LoadSettings(ctx)
	if err != nil {
		return fmt.Errorf("load room settings, bans and words: %w", err)
	}
	now := time.Now()
	for _, b := range all.Bans {
		if !b.Active(now) { // A timed ban that ended: its record goes.
			if _, err := ss.DeleteBan(ctx, b.Room, b.UserID, b.Address); err != nil {
				m.Log.Warn("could not delete an ended ban", "err", err)
			}
		}
	}
	if err := m.Guard.Restore(ctx, all, now); err != nil {
		// Only a shared part (Redis) can fail here: this node's copies
		// hold what could be applied, and the store keeps the rest.
		m.Log.Warn("could not put every stored ban or word in force", "err", err)
	}
	for _, r := range all.Rooms {
		// Each room's whole settings, in the hub and the guard together.
		if err := m.Rooms.Apply(ctx, r); err != nil {
			m.Log.Warn("could not put a room's stored settings in force", "room", r.ObjectID, "err", err)
		}
	}
	if m.Redis != nil {
		if err := m.Redis.Set(ctx, settingsLoadedKey, m.Config.NodeID, 0).Err(); err != nil {
			m.Log.Warn("could not mark Redis as holding the stored settings", "err", err)
		}
	}
	if n := len(all.Rooms) + len(all.Bans) + len(all.Words); n > 0 {
		m.Log.Info("restored room settings, bans and words from the store", "rooms", len(all.Rooms), "bans", len(all.Bans), "words", len(all.Words))
	}
	return nil
}

// watchRedis puts the stored settings (and the -words file's words) in
// force again whenever the cluster's Redis turns out to have lost them (it
// restarted empty or was flushed), until ctx ends: every
// redisCheckInterval it claims settingsLoadedKey, and the node that finds
// it missing restores. The other nodes get the settings through Redis
// like any admin change.
func (m *Main) watchRedis(ctx context.Context) {
	t := time.NewTicker(redisCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		claimed, err := m.Redis.SetNX(ctx, settingsLoadedKey, m.Config.NodeID, 0).Result()
		if err != nil || !claimed {
			continue // Redis is down (checked again later) or holds them.
		}
		m.Log.Warn("Redis has lost the moderation settings; restoring them from the store")
		if len(m.fileWords) > 0 {
			if err := m.Guard.Words.Add(m.fileWords...); err != nil {
				m.Log.Warn("could not store the word file's words in Redis", "err", err)
			}
		}
		if err := m.restoreSettings(ctx); err != nil {
			m.Log.Error("restore settings into Redis", "err", err)
			m.Redis.Del(ctx, settingsLoadedKey) // Try again at the next check.
		}
	}
}
