package pebble

import (
	"context"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	danmaku "github.com/danmakud/danmakud"
)

var _ danmaku.SettingsStore = (*Store)(nil)

// Room settings, bans and word lists (danmaku.SettingsStore) live under
//
//	'c' | uvarint(len(name)) | name
//
// where name is danmaku.SettingName of the record, and the value is the
// record as JSON. Each change is one synced write of one key.

func settingKey(name string) []byte { return prefix('c', name) }

// begin registers a settings write, so that Close waits for it, or
// returns errClosed.
func (s *Store) begin() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errClosed
	}
	s.inflight.Add(1)
	return nil
}

// putSetting writes one settings record.
func (s *Store) putSetting(ctx context.Context, v any) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	name, val, err := danmaku.SettingRecord(v)
	if err != nil {
		return err
	}
	if err := s.begin(); err != nil {
		return err
	}
	defer s.inflight.Done()
	if err := s.db.Set(settingKey(name), val, pebble.Sync); err != nil {
		return fmt.Errorf("store setting: %w", err)
	}
	return nil
}

// deleteSetting deletes one settings record and reports whether it was
// there.
func (s *Store) deleteSetting(ctx context.Context, name string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if err := s.begin(); err != nil {
		return false, err
	}
	defer s.inflight.Done()
	s.settingsMu.Lock()
	defer s.settingsMu.Unlock()
	key := settingKey(name)
	_, closer, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read setting: %w", err)
	}
	_ = closer.Close()
	if err := s.db.Delete(key, pebble.Sync); err != nil {
		return false, fmt.Errorf("delete setting: %w", err)
	}
	return true, nil
}

// PutRoom implements danmaku.SettingsStore.
func (s *Store) PutRoom(ctx context.Context, r danmaku.RoomSettings) error {
	return s.putSetting(ctx, r)
}

// Room implements danmaku.SettingsStore.
func (s *Store) Room(ctx context.Context, objectID string) (danmaku.RoomSettings, error) {
	if err := ctx.Err(); err != nil {
		return danmaku.RoomSettings{}, err
	}
	name := danmaku.SettingName('r', objectID)
	val, closer, err := s.db.Get(settingKey(name))
	if errors.Is(err, pebble.ErrNotFound) {
		return danmaku.RoomSettings{}, danmaku.ErrNotFound
	}
	if err != nil {
		return danmaku.RoomSettings{}, fmt.Errorf("read room settings: %w", err)
	}
	defer closer.Close()
	var all danmaku.Settings
	if err := all.Add(name, val); err != nil {
		return danmaku.RoomSettings{}, err
	}
	return all.Rooms[0], nil
}

// PutBan implements danmaku.SettingsStore.
func (s *Store) PutBan(ctx context.Context, b danmaku.BanRecord) error { return s.putSetting(ctx, b) }

// DeleteBan implements danmaku.SettingsStore.
func (s *Store) DeleteBan(ctx context.Context, room, userID, address string) (bool, error) {
	return s.deleteSetting(ctx, danmaku.BanName(room, userID, address))
}

// PutWord implements danmaku.SettingsStore.
func (s *Store) PutWord(ctx context.Context, w danmaku.WordRecord) error { return s.putSetting(ctx, w) }

// DeleteWord implements danmaku.SettingsStore.
func (s *Store) DeleteWord(ctx context.Context, room, key string) (bool, error) {
	return s.deleteSetting(ctx, danmaku.SettingName('w', room, key))
}

// LoadSettings implements danmaku.SettingsStore.
func (s *Store) LoadSettings(ctx context.Context) (danmaku.Settings, error) {
	var all danmaku.Settings
	if err := ctx.Err(); err != nil {
		return all, err
	}
	it, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: []byte{'c'}, UpperBound: []byte{'d'}})
	if err != nil {
		return all, fmt.Errorf("load settings: %w", err)
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		r := reader{b: it.Key()[1:]}
		name := r.string()
		if r.err != nil {
			return all, fmt.Errorf("settings key: %w", errCorrupt)
		}
		if err := all.Add(name, it.Value()); err != nil {
			return all, err
		}
	}
	if err := it.Error(); err != nil {
		return all, fmt.Errorf("load settings: %w", err)
	}
	return all, nil
}
